"""YouTube Data API v3 over the shared HTTP client: API-key auth and Google's error bodies.

The key travels as the ``key`` query parameter (YouTube's own convention), so it is given
to the client as an auth parameter: the client adds it to every request and redacts it
from error texts, and the HTTP library's debug log is told to redact it as well.

Google's errors read ``{"error": {"code", "message", "errors": [{"reason", "domain"}]}}``;
the ``reason`` decides the class: quota exhaustion ends the platform's run for the day,
throttling and backend errors are retried, a bad key is an ``AuthError``, disabled comments
concern one video only.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import requests

from extractors.common.errors import (
    AuthError,
    BadRequestError,
    ExtractError,
    FatalError,
    NotFoundError,
    PermissionDeniedError,
    RetriableError,
)
from extractors.common.http import ApiClient, RetryPolicy, rate_limited

PLATFORM = "youtube"
DEFAULT_BASE_URL = "https://www.googleapis.com"
KEY_VARIABLE = "MISSIONPULSE_YOUTUBE_API_KEY"
DAILY_QUOTA = 10_000
PACIFIC = ZoneInfo("America/Los_Angeles")

QUOTA_REASONS = frozenset({"quotaExceeded", "dailyLimitExceeded", "dailyLimitExceededUnreg"})
RATE_REASONS = frozenset({"rateLimitExceeded", "userRateLimitExceeded"})
RETRIABLE_REASONS = frozenset({"backendError", "internalError", "serviceUnavailable"})
KEY_REASONS = frozenset({"keyInvalid", "keyExpired", "API_KEY_INVALID", "authError"})
NOT_FOUND_REASONS = frozenset(
    {"videoNotFound", "channelNotFound", "playlistNotFound", "commentNotFound", "notFound"}
)
_TAG = re.compile(r"<[^>]+>")


class QuotaExhaustedError(FatalError):
    """The project's daily quota is spent: every further call fails until midnight Pacific."""


class CommentsDisabledError(FatalError):
    """The video's owner turned comments off: there is nothing to collect for this video."""


def quota_hint(units_spent: int | None = None, now: datetime | None = None) -> str:
    """What to do about an exhausted quota: when it resets, and what this run spent."""
    pacific = (now or datetime.now(UTC)).astimezone(PACIFIC)
    reset = datetime.combine(pacific.date() + timedelta(days=1), time(), tzinfo=PACIFIC)
    hours, rest = divmod(int((reset - pacific).total_seconds()) // 60, 60)
    text = (
        f"the YouTube Data API quota ({DAILY_QUOTA:,} units a day per Google Cloud project) is "
        f"spent; it resets at midnight Pacific time ({reset.astimezone(UTC):%Y-%m-%d %H:%M} "
        f"UTC, in {hours} h {rest:02d} min)"
    )
    if units_spent is not None:
        text += f"; this run spent {units_spent:,} units"
    return text + ": rerun the day after the reset, or request a higher quota from Google"


def google_error(response: requests.Response) -> tuple[str, frozenset[str]]:
    """(readable message, error reasons) of a Google API error response."""
    try:
        body: Any = response.json()
    except ValueError:
        return (response.text[:200] or response.reason or ""), frozenset()
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict):
        return str(body)[:200], frozenset()
    items = [e for e in error.get("errors") or [] if isinstance(e, dict)]
    details = [d for d in error.get("details") or [] if isinstance(d, dict)]
    reasons = {str(e.get("reason")) for e in items} | {str(d.get("reason")) for d in details}
    message = _TAG.sub("", str(error.get("message") or response.reason or ""))
    return message[:500], frozenset(reasons - {"None"})


def classify(response: requests.Response, endpoint: str, handle: str | None) -> ExtractError:
    """Map a YouTube error response onto the typed errors (retriable vs fatal)."""
    status = response.status_code
    message, reasons = google_error(response)
    detail = f"{message} ({', '.join(sorted(reasons))})" if reasons else message
    if reasons & QUOTA_REASONS:
        return QuotaExhaustedError(
            PLATFORM, endpoint, detail, handle=handle, status=status, hint=quota_hint()
        )
    if "commentsDisabled" in reasons:
        return CommentsDisabledError(PLATFORM, endpoint, detail, handle=handle, status=status)
    if status == 429 or reasons & RATE_REASONS:
        return rate_limited(PLATFORM, endpoint, handle, response.headers, status)
    if status >= 500 or reasons & RETRIABLE_REASONS:
        return RetriableError(PLATFORM, endpoint, detail, handle=handle, status=status)
    if status == 401 or reasons & KEY_REASONS or "API key" in message:
        return AuthError(
            PLATFORM,
            endpoint,
            detail,
            handle=handle,
            status=status,
            hint=f"the API key is missing, invalid or expired: create or renew a key for the "
            f"YouTube Data API v3 in the Google Cloud console and set {KEY_VARIABLE}",
        )
    if status == 404 or reasons & NOT_FOUND_REASONS:
        return NotFoundError(PLATFORM, endpoint, detail, handle=handle, status=status)
    if status == 403:
        return PermissionDeniedError(
            PLATFORM,
            endpoint,
            detail,
            handle=handle,
            status=status,
            hint="the key's project lacks access: enable the YouTube Data API v3 for it and "
            "check the key's API and referrer restrictions",
        )
    return BadRequestError(PLATFORM, endpoint, detail, handle=handle, status=status)


def make_client(
    base_url: str,
    api_key: str,
    *,
    retry: RetryPolicy | None = None,
    timeout: tuple[float, float] | None = None,
) -> ApiClient:
    if not api_key:
        raise AuthError(
            PLATFORM,
            "-",
            "no API key configured",
            hint=f"set {KEY_VARIABLE} to a YouTube Data API v3 key",
        )
    options: dict[str, Any] = {"timeout": timeout} if timeout else {}
    return ApiClient(
        PLATFORM, base_url, classify, auth_params={"key": api_key}, retry=retry, **options
    )
