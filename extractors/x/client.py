"""X API v2 over the shared HTTP client: bearer auth and X's error bodies."""

from __future__ import annotations

import requests

from extractors.common.errors import (
    AuthError,
    BadRequestError,
    ExtractError,
    NotFoundError,
    PermissionDeniedError,
    RetriableError,
)
from extractors.common.http import ApiClient, RetryPolicy, rate_limited

PLATFORM = "x"
DEFAULT_BASE_URL = "https://api.x.com"


def _detail(response: requests.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:200] or response.reason
    if not isinstance(body, dict):
        return str(body)[:200]
    messages = [e.get("message") for e in body.get("errors", []) if isinstance(e, dict)]
    parts = [body.get("title"), body.get("detail"), *messages]
    return "; ".join(str(p) for p in parts if p)[:500] or response.reason


def classify(response: requests.Response, endpoint: str, handle: str | None) -> ExtractError:
    """Map an X error response onto the typed errors (retriable vs fatal)."""
    status = response.status_code
    detail = _detail(response)
    if status == 429:
        return rate_limited(PLATFORM, endpoint, handle, response.headers, status)
    if status >= 500:
        return RetriableError(PLATFORM, endpoint, detail, handle=handle, status=status)
    if status == 401:
        return AuthError(
            PLATFORM,
            endpoint,
            detail,
            handle=handle,
            status=status,
            hint="the bearer token is invalid or expired: issue a new one in the X developer "
            "portal and set MISSIONPULSE_X_BEARER_TOKEN",
        )
    if status == 403:
        return PermissionDeniedError(
            PLATFORM,
            endpoint,
            detail,
            handle=handle,
            status=status,
            hint="the app's access level does not include this endpoint",
        )
    if status == 404:
        return NotFoundError(PLATFORM, endpoint, detail, handle=handle, status=status)
    return BadRequestError(PLATFORM, endpoint, detail, handle=handle, status=status)


def make_client(base_url: str, bearer_token: str, *, retry: RetryPolicy | None = None) -> ApiClient:
    if not bearer_token:
        raise AuthError(
            PLATFORM,
            "-",
            "no bearer token configured",
            hint="set MISSIONPULSE_X_BEARER_TOKEN (or the Airflow connection missionpulse_x)",
        )
    return ApiClient(
        PLATFORM,
        base_url,
        classify,
        headers={"Authorization": f"Bearer {bearer_token}"},
        retry=retry,
    )
