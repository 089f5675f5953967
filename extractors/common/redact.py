"""Keep secrets out of logs, files, tables and exception text."""

from __future__ import annotations

import logging
import re

SECRET_PARAMS = frozenset(
    {"access_token", "key", "api_key", "client_secret", "appsecret_proof", "token", "password"}
)
_REDACTED = "REDACTED"
_BEARER = re.compile(r"(?i)(bearer\s+)[A-Za-z0-9._~+/=%-]+")


def redact_text(text: str, secrets: tuple[str, ...] = ()) -> str:
    """Text with bearer tokens and each given secret value replaced by REDACTED."""
    text = _BEARER.sub(lambda m: m.group(1) + _REDACTED, text)
    for secret in secrets:
        if secret and len(secret) >= 6:
            text = text.replace(secret, _REDACTED)
    return text


class _SecretsFilter(logging.Filter):
    """Rewrites records of a library logger with every registered secret redacted."""

    def __init__(self) -> None:
        super().__init__()
        self.secrets: set[str] = set()

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = redact_text(message, tuple(self.secrets))
        if redacted != message:
            record.msg, record.args = redacted, ()
        return True


_LIBRARY_FILTER = _SecretsFilter()
# urllib3 logs every request line, query string included, at DEBUG.
_LIBRARY_LOGGERS = ("urllib3.connectionpool",)


def redact_library_logs(secrets: tuple[str, ...]) -> None:
    """Keep ``secrets`` (e.g. an API key sent as a query parameter) out of the HTTP
    libraries' own debug logs, which print request URLs verbatim."""
    _LIBRARY_FILTER.secrets.update(s for s in secrets if s and len(s) >= 6)
    for name in _LIBRARY_LOGGERS:
        logger = logging.getLogger(name)
        if _LIBRARY_FILTER not in logger.filters:
            logger.addFilter(_LIBRARY_FILTER)
