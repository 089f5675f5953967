"""Fault injection: a named profile decides which requests fail, and how.

A profile is a share of requests to disturb and a weighted choice of fault kinds. Whether
a request is disturbed depends only on the profile, the seed, the request's URL and how
many times that URL was requested before, so a run is reproducible; and a URL that was just
disturbed is always answered properly the next time, so a client that retries finishes.

What a kind means on the wire is the platform's business (each renders its own 429 and 5xx
bodies); the server itself handles the kinds that concern the connection or the bytes
(``slow``, ``reset``, ``malformed``).

Besides these transient faults a profile may switch on *modes*, which hold for every
request of the run and which each platform API interprets itself:

- ``drift``: schema drift on every answer (extra fields, missing optional fields,
  reordered keys); the data itself is unchanged;
- ``expired-token:<platform>``: that platform's token has expired (its real auth error on
  every request); the other platforms are unaffected;
- ``deprecated-metric``: one more insights metric than the real 2025 deprecations is
  refused with the platform's deprecation error;
- ``bad-data``: well-formed answers whose objects carry the anomalies of
  ``bad_data.CATALOGUE`` (null and duplicate ids, negative counts, bad timestamps, ...),
  for the data-quality gate.
"""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import dataclass

from missionpulse.simulator.world import stable_int

RATE_LIMIT = "rate_limit"  # 429 with a reset 1-2 s ahead
SERVER_ERROR = "server_error"  # 500, 502 or 503 with the platform's body
SLOW = "slow"  # answered correctly, but only after SLOW_SECONDS
RESET = "reset"  # the connection is closed without an answer
MALFORMED = "malformed"  # a 200 whose JSON body is cut short
SLOW_SECONDS = 3.0

DRIFT = "drift"
DEPRECATED_METRIC = "deprecated-metric"
EXPIRED_TOKEN_PREFIX = "expired-token:"
BAD_DATA = "bad-data"  # see bad_data.py


@dataclass(frozen=True)
class FaultProfile:
    name: str
    rate: float
    kinds: tuple[tuple[str, float], ...]
    modes: frozenset[str] = frozenset()

    def has_mode(self, mode: str) -> bool:
        return mode in self.modes

    def token_expired(self, platform: str) -> bool:
        return f"{EXPIRED_TOKEN_PREFIX}{platform}" in self.modes


TRANSIENT = ((RATE_LIMIT, 0.3), (SERVER_ERROR, 0.3), (SLOW, 0.1), (RESET, 0.15), (MALFORMED, 0.15))

PROFILES: dict[str, FaultProfile] = {
    "none": FaultProfile("none", 0.0, ()),
    "rate-limit": FaultProfile("rate-limit", 0.10, ((RATE_LIMIT, 1.0),)),
    "flaky": FaultProfile(
        "flaky", 0.10, ((SERVER_ERROR, 0.4), (SLOW, 0.2), (RESET, 0.2), (MALFORMED, 0.2))
    ),
    "drift": FaultProfile("drift", 0.0, (), frozenset({DRIFT})),
    "expired-token": FaultProfile(
        "expired-token", 0.0, (), frozenset({EXPIRED_TOKEN_PREFIX + "facebook"})
    ),
    "deprecated-metric": FaultProfile("deprecated-metric", 0.0, (), frozenset({DEPRECATED_METRIC})),
    "chaos": FaultProfile("chaos", 0.15, TRANSIENT, frozenset({DRIFT})),
    # well-formed answers carrying bad data (simulator/bad_data.py): the data-quality gate
    "bad-data": FaultProfile("bad-data", 0.0, (), frozenset({BAD_DATA})),
}


@dataclass(frozen=True)
class Fault:
    kind: str
    variant: int  # a stable number the renderer may use (which status, how long)


def profile(name: str) -> FaultProfile:
    try:
        return PROFILES[name]
    except KeyError:
        raise ValueError(
            f"unknown fault profile {name!r}; use one of {', '.join(PROFILES)}"
        ) from None


class FaultInjector:
    """Draws the fault (or None) for each request, deterministically per URL."""

    def __init__(self, fault_profile: str | FaultProfile = "none", seed: int = 0) -> None:
        self.profile = profile(fault_profile) if isinstance(fault_profile, str) else fault_profile
        self.seed = seed
        self._seen: Counter[str] = Counter()
        self._just_faulted: set[str] = set()
        self._lock = threading.Lock()

    def draw(self, url: str) -> Fault | None:
        if self.profile.rate <= 0:
            return None
        with self._lock:
            attempt = self._seen[url]
            self._seen[url] += 1
            if url in self._just_faulted:
                self._just_faulted.discard(url)
                return None
            roll = stable_int(self.seed, self.profile.name, url, attempt)
            if roll / 2**64 >= self.profile.rate:
                return None
            self._just_faulted.add(url)
        return Fault(self._kind(roll), roll % 1000)

    def _kind(self, roll: int) -> str:
        total = sum(weight for _, weight in self.profile.kinds)
        point = (stable_int(roll, "kind") / 2**64) * total
        for kind, weight in self.profile.kinds:
            point -= weight
            if point < 0:
                return kind
        return self.profile.kinds[-1][0]
