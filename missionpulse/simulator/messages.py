"""The request and response shapes passed between the HTTP server and the platform APIs.

The server turns raw HTTP into a ``Request`` and writes back a ``Response``; each platform
module maps one to the other without touching sockets, so it can be tested directly.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

JSON_CONTENT_TYPE = "application/json; charset=utf-8"


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    params: Mapping[str, list[str]]
    headers: Mapping[str, str]  # names in lower case

    @property
    def bearer_token(self) -> str | None:
        """The token of an ``Authorization: Bearer`` header, or None when there is none."""
        scheme, _, token = self.headers.get("authorization", "").partition(" ")
        token = token.strip()
        return token if scheme.lower() == "bearer" and token else None

    @property
    def credential(self) -> str | None:
        """Whatever authenticates the request: a bearer token, the Graph API's
        ``access_token`` parameter or YouTube's ``key`` parameter (first one found)."""
        if self.bearer_token:
            return self.bearer_token
        for name in ("access_token", "key"):
            values = self.params.get(name)
            if values and values[-1]:
                return values[-1]
        return None


@dataclass
class Response:
    status: int
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)


def json_response(status: int, payload: Any, headers: Mapping[str, str] | None = None) -> Response:
    body = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()
    return Response(status, body, {"content-type": JSON_CONTENT_TYPE, **(headers or {})})
