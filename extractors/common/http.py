"""One HTTP client for every platform: session, timeouts, retries with backoff, redaction.

Platforms differ only in how they authenticate and how their error bodies read; both are
passed in, so no platform re-implements retries. Counters of requests and retries are kept
for the extraction audit. The same client downloads the images the APIs link to (profile
pictures on the platforms' CDNs), with the same retries but without the platform's
credentials, which never leave for another host.
"""

from __future__ import annotations

import json
import logging
import random
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar
from urllib.parse import urlsplit

import requests

from extractors.common.errors import (
    BadRequestError,
    ExtractError,
    NotFoundError,
    RateLimitedError,
    RetriableError,
)
from extractors.common.redact import redact_library_logs, redact_text

log = logging.getLogger(__name__)

USER_AGENT = "MissionPulse/0.1 (+https://github.com/missionpulse/missionpulse)"

# Given a response that is not a 2xx, return the typed error it stands for.
ErrorClassifier = Callable[[requests.Response, str, str | None], ExtractError]
T = TypeVar("T")


@dataclass
class RequestStats:
    """What a client did, for ``audit`` records and the end-of-run summary."""

    requests: int = 0
    retries: int = 0
    statuses: Counter[int] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)
    requests_by_handle: Counter[str] = field(default_factory=Counter)
    retries_by_handle: Counter[str] = field(default_factory=Counter)

    def as_dict(self) -> dict[str, Any]:
        return {
            "requests": self.requests,
            "retries": self.retries,
            "statuses": {str(k): v for k, v in sorted(self.statuses.items())},
            "errors": dict(self.errors),
        }


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 6
    backoff_base_s: float = 0.5
    backoff_cap_s: float = 30.0
    # Longest wait we accept from a rate-limit reset before giving up on this request.
    max_retry_after_s: float = 900.0

    def delay(self, attempt: int, retry_after: float | None, rng: random.Random) -> float:
        """Exponential backoff with jitter, or the platform's own wait when it gave one."""
        if retry_after is not None:
            return max(0.0, retry_after) + rng.uniform(0.0, 0.25)
        ceiling = min(self.backoff_cap_s, self.backoff_base_s * (2**attempt))
        return rng.uniform(ceiling / 2, ceiling)


class ApiClient:
    """A requests Session bound to one platform's base URL and credentials."""

    def __init__(
        self,
        platform: str,
        base_url: str,
        classify: ErrorClassifier,
        *,
        headers: Mapping[str, str] | None = None,
        auth_params: Mapping[str, str] | None = None,
        timeout: tuple[float, float] = (5.0, 30.0),
        retry: RetryPolicy | None = None,
        sleep: Callable[[float], None] = time.sleep,
        seed: int | None = None,
        media_base: str | None = None,
    ) -> None:
        self.platform = platform
        self.base_url = base_url.rstrip("/")
        # Where CDN URLs are fetched (None: from the URL itself; the simulator's stand-in
        # CDN otherwise, see ``missionpulse.platforms``).
        self.media_base = media_base
        self._classify = classify
        self._auth_params = dict(auth_params or {})
        self._auth_headers = tuple(headers or {})
        self._secrets = tuple(
            v for v in [*(headers or {}).values(), *self._auth_params.values()] if v
        )
        redact_library_logs(tuple(self._auth_params.values()))
        self.timeout = timeout
        self.retry = retry or RetryPolicy()
        self._sleep = sleep
        self._rng = random.Random(seed)
        self.stats = RequestStats()
        self.session = requests.Session()
        self.session.headers.update({"User-Agent": USER_AGENT, "Accept": "application/json"})
        self.session.headers.update(dict(headers or {}))

    def close(self) -> None:
        self.session.close()

    def redact(self, text: str) -> str:
        """Text with this client's credentials removed (for logs and error messages)."""
        return redact_text(text, self._secrets)

    def get_json(
        self, path: str, params: Mapping[str, Any] | None = None, *, handle: str | None = None
    ) -> tuple[dict[str, Any], Mapping[str, str]]:
        """GET ``path`` and return (JSON body, headers), retrying transient failures."""
        url = f"{self.base_url}/{path.lstrip('/')}"
        query = {**dict(params or {}), **self._auth_params}
        endpoint = path.split("?")[0]
        return self._retrying(lambda: self._attempt(url, query, endpoint, handle), handle)

    def get_media(
        self, url: str, *, handle: str | None = None, check: Callable[[bytes], object] = bytes
    ) -> bytes:
        """GET the bytes of a media URL the API returned (a profile picture on the CDN).

        Retries like ``get_json``; ``check`` raises ``ValueError`` for bytes that are cut
        short or unreadable, which counts as a transient failure (like a truncated JSON
        page). Counted in the same request statistics.
        """
        endpoint = f"media {urlsplit(url).netloc}"
        return self._retrying(
            lambda: self._attempt_media(self.media_url(url), endpoint, handle, check), handle
        )

    def media_url(self, url: str) -> str:
        """Where to fetch a CDN URL: the URL itself, or its place under ``media_base``."""
        if not self.media_base:
            return url
        parts = urlsplit(url)
        query = f"?{parts.query}" if parts.query else ""
        return f"{self.media_base.rstrip('/')}/{parts.netloc}{parts.path}{query}"

    def _retrying(self, attempt_once: Callable[[], T], handle: str | None) -> T:
        attempt = 0
        while True:
            try:
                return attempt_once()
            except RetriableError as err:
                self.stats.errors[type(err).__name__] += 1
                if attempt + 1 >= self.retry.max_attempts:
                    raise
                if err.retry_after is not None and err.retry_after > self.retry.max_retry_after_s:
                    raise
                wait = self.retry.delay(attempt, err.retry_after, self._rng)
                log.warning(
                    "%s; retry %d/%d in %.1fs",
                    self.redact(str(err)),
                    attempt + 1,
                    self.retry.max_attempts - 1,
                    wait,
                )
                self.stats.retries += 1
                self.stats.retries_by_handle[handle or ""] += 1
                attempt += 1
                self._sleep(wait)

    def _attempt(
        self, url: str, query: Mapping[str, Any], endpoint: str, handle: str | None
    ) -> tuple[dict[str, Any], Mapping[str, str]]:
        self.stats.requests += 1
        self.stats.requests_by_handle[handle or ""] += 1
        try:
            response = self.session.get(url, params=query, timeout=self.timeout)
        except (requests.ConnectionError, requests.Timeout) as exc:
            raise RetriableError(
                self.platform,
                endpoint,
                f"{type(exc).__name__}: {self.redact(str(exc))}",
                handle=handle,
            ) from None
        self.stats.statuses[response.status_code] += 1
        if response.status_code >= 400:
            raise self._classify(response, endpoint, handle)
        try:
            body = response.json()
        except ValueError:
            raise RetriableError(
                self.platform,
                endpoint,
                f"malformed JSON page ({len(response.content)} bytes)",
                handle=handle,
                status=response.status_code,
            ) from None
        if not isinstance(body, dict):
            raise RetriableError(
                self.platform, endpoint, "JSON page is not an object", handle=handle
            )
        self._keep_under_budget(response.headers, endpoint)
        return body, response.headers

    def _attempt_media(
        self, url: str, endpoint: str, handle: str | None, check: Callable[[bytes], object]
    ) -> bytes:
        self.stats.requests += 1
        self.stats.requests_by_handle[handle or ""] += 1
        # the platform's credentials stay with the platform: none go to the CDN
        headers: dict[str, str | None] = {name: None for name in self._auth_headers}
        try:
            response = self.session.get(
                url, headers={**headers, "Accept": "image/*"}, timeout=self.timeout
            )
        except (requests.ConnectionError, requests.Timeout) as exc:
            raise RetriableError(
                self.platform,
                endpoint,
                f"{type(exc).__name__}: {self.redact(str(exc))}",
                handle=handle,
            ) from None
        status = response.status_code
        self.stats.statuses[status] += 1
        if status == 429:
            raise rate_limited(self.platform, endpoint, handle, response.headers, status)
        if status >= 500:
            raise RetriableError(self.platform, endpoint, "CDN error", handle=handle, status=status)
        if status == 404:
            raise NotFoundError(
                self.platform, endpoint, "no such image", handle=handle, status=status
            )
        if status >= 400:
            raise BadRequestError(
                self.platform, endpoint, "image refused", handle=handle, status=status
            )
        try:
            check(response.content)
        except ValueError as exc:
            raise RetriableError(
                self.platform, endpoint, f"unreadable image: {exc}", handle=handle, status=status
            ) from None
        return response.content

    def _keep_under_budget(self, headers: Mapping[str, str], endpoint: str) -> None:
        """Pause before the platform would refuse us, rather than after it does.

        X says how many calls are left in the window (``x-rate-limit-remaining``) and when
        it resets; the Graph API says how much of the app's hourly budget is used
        (``x-app-usage``, percentages). At the edge of either, wait for the window to turn.
        """
        wait = budget_wait_seconds(headers)
        if wait is not None and wait > 0:
            wait = min(wait, self.retry.max_retry_after_s)
            log.warning(
                "%s %s: request budget exhausted, pausing %.0fs", self.platform, endpoint, wait
            )
            self.stats.errors["budget_pause"] += 1
            self._sleep(wait)


def retry_after_seconds(headers: Mapping[str, str], now: float | None = None) -> float | None:
    """Seconds to wait from ``Retry-After`` or an ``x-rate-limit-reset`` epoch header."""
    value = headers.get("Retry-After")
    if value is not None:
        try:
            return float(value)
        except ValueError:
            return None
    reset = headers.get("x-rate-limit-reset")
    if reset is not None:
        try:
            return max(0.0, float(reset) - (now if now is not None else time.time()))
        except ValueError:
            return None
    return None


GRAPH_USAGE_CEILING = 95  # percent of the app's budget at which we pause


def budget_wait_seconds(headers: Mapping[str, str], now: float | None = None) -> float | None:
    """Seconds to wait before the next call so as to stay inside the platform's budget."""
    if headers.get("x-rate-limit-remaining") == "0":
        return retry_after_seconds(
            {"x-rate-limit-reset": headers.get("x-rate-limit-reset", "")}, now
        )
    usage = headers.get("x-app-usage")
    if usage:
        try:
            used = max(float(v) for v in json.loads(usage).values())
        except (ValueError, TypeError, AttributeError):
            return None
        if used >= GRAPH_USAGE_CEILING:
            return 60.0  # the Graph API's usage is a rolling hour: let a minute roll off
    return None


def rate_limited(
    platform: str, endpoint: str, handle: str | None, headers: Mapping[str, str], status: int
) -> RateLimitedError:
    return RateLimitedError(
        platform,
        endpoint,
        "rate limited",
        handle=handle,
        status=status,
        retry_after=retry_after_seconds(headers),
    )
