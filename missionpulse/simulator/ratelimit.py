"""Fixed-window request quotas per (token, endpoint), as platforms enforce them.

A window opens with a token's first request to an endpoint and closes ``window_s`` later;
quotas run on the wall clock (never the simulated one), because a client waits for a reset
in real time.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Quota:
    limit: int
    remaining: int
    reset_epoch_s: int
    allowed: bool


class RateLimiter:
    def __init__(self, window_s: int = 900, clock: Callable[[], float] = time.time) -> None:
        self.window_s = window_s
        self._clock = clock
        self._windows: dict[tuple[str, str], tuple[float, int]] = {}
        self._lock = threading.Lock()

    def take(self, token: str, endpoint: str, limit: int) -> Quota:
        """Count one request; ``allowed`` is False once the window's ``limit`` is spent."""
        now = self._clock()
        key = (token, endpoint)
        with self._lock:
            opened, used = self._windows.get(key, (now, 0))
            if now >= opened + self.window_s:
                opened, used = now, 0
            allowed = used < limit
            if allowed:
                used += 1
            self._windows[key] = (opened, used)
        return Quota(limit, limit - used, int(opened + self.window_s), allowed)
