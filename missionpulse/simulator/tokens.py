"""Bearer tokens that carry the simulator's clock.

The simulated APIs answer "as of" a moment chosen by the caller: a test or a backfill asks for
a token minted for that moment, and every request made with it sees the world as it was then
(nothing created later, counters as they stood). The token looks like any other bearer token;
a token the simulator did not mint is still accepted and means "now".
"""

from __future__ import annotations

import base64
import binascii
import json
import secrets
from datetime import UTC, datetime

_PREFIX = "AAAA"


def issue_token(now: datetime) -> str:
    """A bearer token whose requests see the world as of ``now`` (naive means UTC)."""
    if now.tzinfo is None:
        now = now.replace(tzinfo=UTC)
    payload = {"now": now.astimezone(UTC).isoformat(), "n": secrets.token_hex(8)}
    encoded = base64.urlsafe_b64encode(json.dumps(payload, separators=(",", ":")).encode())
    return _PREFIX + encoded.decode().rstrip("=")


def clock_of(token: str) -> datetime | None:
    """The moment a simulator token was minted for, or None for any other token."""
    if not token.startswith(_PREFIX):
        return None
    body = token[len(_PREFIX) :]
    try:
        raw = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
        now = datetime.fromisoformat(json.loads(raw)["now"])
    except (binascii.Error, ValueError, KeyError, TypeError):
        return None
    return now if now.tzinfo else now.replace(tzinfo=UTC)


def request_clock(token: str | None) -> datetime:
    """The clock a request runs on: the token's moment, else the real UTC time."""
    return (clock_of(token) if token else None) or datetime.now(UTC)
