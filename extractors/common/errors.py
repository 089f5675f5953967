"""Typed extraction errors.

Every error names the platform, the endpoint and (when known) the handle, so the person
paged at night knows what broke and where; none of them ever carries a token or a full URL
with credentials in it.
"""

from __future__ import annotations


class ExtractError(RuntimeError):
    """Base class: something went wrong talking to a platform."""

    retriable = False

    def __init__(
        self,
        platform: str,
        endpoint: str,
        message: str,
        *,
        handle: str | None = None,
        status: int | None = None,
        hint: str | None = None,
    ) -> None:
        self.platform = platform
        self.endpoint = endpoint
        self.handle = handle
        self.status = status
        self.hint = hint
        where = f"{platform} {endpoint}" + (f" (handle {handle})" if handle else "")
        status_part = f" HTTP {status}" if status is not None else ""
        text = f"{where}:{status_part} {message}"
        if hint:
            text += f" — {hint}"
        super().__init__(text)


class RetriableError(ExtractError):
    """A transient failure (5xx, timeout, connection reset, malformed page): try again."""

    retriable = True

    def __init__(self, *args: object, retry_after: float | None = None, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.retry_after = retry_after


class RateLimitedError(RetriableError):
    """The platform throttled us; ``retry_after`` says how long it asked us to wait."""


class FatalError(ExtractError):
    """Retrying will not help: the request, the credentials or the permissions are wrong."""


class AuthError(FatalError):
    """The token is missing, invalid or expired."""


class PermissionDeniedError(FatalError):
    """The token is valid but lacks a permission or access level."""


class BadRequestError(FatalError):
    """The platform rejected the request's parameters."""


class NotFoundError(FatalError):
    """The requested object does not exist (renamed, deleted or suspended account)."""
