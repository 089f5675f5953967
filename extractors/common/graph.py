"""The Graph API (Facebook Pages and Instagram) over the shared HTTP client.

Both platforms answer on ``graph.facebook.com`` with the same error body, the same throttling
codes, the same cursor paging and the same insights edge, so everything they share lives
here: error classification into the typed errors, the client factory (the access token
travels as a query parameter, which the client redacts from every log line and error), a
pager that follows ``paging.next`` until it is absent, field expansion (an edge's rows read
inside its parent, its own pages followed only when it says more follow), an insights
fetcher that skips the metrics the API refuses, and author pseudonymisation.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import requests

from extractors.common.errors import (
    AuthError,
    BadRequestError,
    ExtractError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitedError,
    RetriableError,
)
from extractors.common.http import ApiClient, ErrorClassifier, RetryPolicy, rate_limited
from extractors.common.pseudonym import Pseudonymiser
from extractors.common.redact import SECRET_PARAMS
from extractors.common.result import envelope
from extractors.common.window import Window

log = logging.getLogger(__name__)

GRAPH_VERSION = "v21.0"
DEFAULT_BASE_URL = "https://graph.facebook.com"
# Application (4), user (17), Page (32) and API (613) throttling; 80001-80014 are the
# business-use-case limits (80001 Pages, 80002 Instagram, ...).
THROTTLING_CODES = frozenset({4, 17, 32, 613})
BUSINESS_USE_CASE_CODES = range(80_000, 80_015)
TRANSIENT_CODES = frozenset({1, 2})
AUTH_CODES = frozenset({102, 104, 190})
PERMISSION_CODES = frozenset({10, *range(200, 300)})
INVALID_PARAMETER = 100
NO_SUCH_OBJECT_SUBCODE = 33
NO_SUCH_ALIAS = 803
MAX_PAGES = 10_000  # a pager that never ends is a platform bug: stop it loudly


class InvalidParameterError(BadRequestError):
    """Graph code 100: a parameter, a field or (most often) an insights metric is refused."""


@dataclass(frozen=True)
class GraphErrorBody:
    """The ``error`` object of a Graph API error answer."""

    code: int | None
    subcode: int | None
    message: str
    kind: str
    trace_id: str | None
    transient: bool

    def describe(self) -> str:
        parts = [f"code {self.code}"]
        if self.subcode is not None:
            parts.append(f"subcode {self.subcode}")
        if self.trace_id:
            parts.append(f"fbtrace_id {self.trace_id}")
        return f"{self.message} ({self.kind}, {', '.join(parts)})"


def parse_error(body: Any) -> GraphErrorBody | None:
    """The Graph error in a decoded JSON body, or None when it has none."""
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict):
        return None

    def integer(value: Any) -> int | None:
        return int(value) if isinstance(value, int | str) and str(value).isdigit() else None

    return GraphErrorBody(
        code=integer(error.get("code")),
        subcode=integer(error.get("error_subcode")),
        message=str(error.get("message") or "no message"),
        kind=str(error.get("type") or "unknown"),
        trace_id=str(error["fbtrace_id"]) if error.get("fbtrace_id") else None,
        transient=bool(error.get("is_transient")),
    )


def regain_seconds(headers: Mapping[str, str]) -> float | None:
    """The wait the ``X-Business-Use-Case-Usage`` header asks for, in seconds (None: none)."""
    raw = headers.get("X-Business-Use-Case-Usage") or headers.get("x-business-use-case-usage")
    if not raw:
        return None
    try:
        usage = json.loads(raw)
    except ValueError:
        return None
    minutes = [
        entry.get("estimated_time_to_regain_access")
        for entries in (usage.values() if isinstance(usage, dict) else [])
        if isinstance(entries, list)
        for entry in entries
        if isinstance(entry, dict)
    ]
    numbers = [float(m) for m in minutes if isinstance(m, int | float)]
    return max(numbers) * 60.0 if numbers else None


def token_variable(platform: str) -> str:
    """The environment variable that holds the platform's access token."""
    return f"MISSIONPULSE_{platform.upper()}_ACCESS_TOKEN"


def classify_error(
    platform: str,
    status: int,
    body: Any,
    headers: Mapping[str, str],
    endpoint: str,
    handle: str | None,
) -> ExtractError:
    """The typed error a Graph API error answer stands for (retriable or fatal)."""
    error = parse_error(body)
    if error is None:
        detail = f"no Graph error body (HTTP {status})"
        if status == 429:
            return rate_limited(platform, endpoint, handle, headers, status)
        if status >= 500:
            return RetriableError(platform, endpoint, detail, handle=handle, status=status)
        return BadRequestError(platform, endpoint, detail, handle=handle, status=status)
    code, detail = error.code, error.describe()
    where: dict[str, Any] = {"handle": handle, "status": status}
    if code in THROTTLING_CODES or (code is not None and code in BUSINESS_USE_CASE_CODES):
        return RateLimitedError(
            platform, endpoint, f"throttled: {detail}", retry_after=regain_seconds(headers), **where
        )
    if code in TRANSIENT_CODES or (error.transient and code not in AUTH_CODES):
        return RetriableError(platform, endpoint, detail, **where)
    if code in AUTH_CODES:
        return AuthError(
            platform,
            endpoint,
            detail,
            hint=f"the {platform} access token is missing, invalid or expired: generate a new "
            f"long-lived token and set {token_variable(platform)}",
            **where,
        )
    if code in PERMISSION_CODES:
        return PermissionDeniedError(
            platform,
            endpoint,
            detail,
            hint="the token lacks a permission this call needs (pages_read_engagement, "
            "read_insights, instagram_basic, instagram_manage_insights): grant it and renew "
            "the token",
            **where,
        )
    if code == NO_SUCH_ALIAS or (
        code == INVALID_PARAMETER and error.subcode == NO_SUCH_OBJECT_SUBCODE
    ):
        return NotFoundError(
            platform,
            endpoint,
            detail,
            hint="the account was renamed, deleted or unpublished: check its id and handle in "
            "config/registry/handles.csv",
            **where,
        )
    if code == INVALID_PARAMETER:
        return InvalidParameterError(platform, endpoint, detail, **where)
    if status >= 500:
        return RetriableError(platform, endpoint, detail, **where)
    return BadRequestError(platform, endpoint, detail, **where)


def graph_classifier(platform: str) -> ErrorClassifier:
    """The shared client's classifier for one Graph platform."""

    def classify(response: requests.Response, endpoint: str, handle: str | None) -> ExtractError:
        try:
            body = response.json()
        except ValueError:
            body = None
        return classify_error(
            platform, response.status_code, body, response.headers, endpoint, handle
        )

    return classify


def make_graph_client(
    platform: str,
    base_url: str,
    token: str,
    *,
    retry: RetryPolicy | None = None,
    timeout: tuple[float, float] = (5.0, 30.0),
) -> ApiClient:
    """A client for ``platform`` on the Graph API; the token is sent as ``access_token``."""
    if not token:
        raise AuthError(
            platform,
            "-",
            "no access token configured",
            hint=f"set {token_variable(platform)} (or the Airflow connection "
            f"missionpulse_{platform})",
        )
    return ApiClient(
        platform,
        base_url or DEFAULT_BASE_URL,
        graph_classifier(platform),
        auth_params={"access_token": token},
        retry=retry,
        timeout=timeout,
    )


def graph_path(*parts: str) -> str:
    """``/v21.0/<part>/<part>``."""
    return "/" + "/".join((GRAPH_VERSION, *parts))


def unix_seconds(moment: datetime) -> str:
    return str(int(moment.timestamp()))


# --- paging ------------------------------------------------------------------------------------


def split_next(url: str) -> tuple[str, dict[str, str]]:
    """The path and parameters of a ``paging.next`` URL, credentials removed (the client
    adds its own; the URL itself carries the token and must never be logged)."""
    parts = urlsplit(url)
    params = {
        name: value
        for name, value in parse_qsl(parts.query, keep_blank_values=True)
        if name.lower() not in SECRET_PARAMS
    }
    return parts.path, params


def pages(
    client: ApiClient, path: str, params: Mapping[str, Any], *, handle: str
) -> Iterator[dict[str, Any]]:
    """Every page of a Graph list edge: follows ``paging.next`` and stops only when it is
    absent (the last page still carries an ``after`` cursor)."""
    current_path, query = path, dict(params)
    for _ in range(MAX_PAGES):
        body, _headers = client.get_json(current_path, query, handle=handle)
        yield body
        next_url = (body.get("paging") or {}).get("next")
        if not next_url:
            return
        current_path, query = split_next(str(next_url))
    raise BadRequestError(
        client.platform,
        path,
        f"still paging after {MAX_PAGES} pages: the cursor does not advance",
        handle=handle,
    )


def items(
    client: ApiClient, path: str, params: Mapping[str, Any], *, handle: str
) -> Iterator[dict[str, Any]]:
    """The objects of every page of a list edge."""
    for page in pages(client, path, params, handle=handle):
        yield from (item for item in page.get("data") or [] if isinstance(item, dict))


# --- field expansion ---------------------------------------------------------------------------


def expand(edge: str, fields: str, **modifiers: object) -> str:
    """An edge to read inside its parent: ``expand("comments", "id", limit=100)`` is
    ``comments.limit(100){id}`` (each modifier is a parameter of the edge)."""
    return (
        edge + "".join(f".{name}({value})" for name, value in modifiers.items()) + f"{{{fields}}}"
    )


def expanded_items(
    client: ApiClient, parent: Mapping[str, Any], edge: str, *, handle: str
) -> Iterator[dict[str, Any]]:
    """Every object of an edge expanded inside ``parent``: the rows that came with it, then
    the edge's own pages from its nested ``paging.next``, only when there is one."""
    nested = parent.get(edge)
    if not isinstance(nested, dict):
        return
    yield from (item for item in nested.get("data") or [] if isinstance(item, dict))
    next_url = (nested.get("paging") or {}).get("next")
    if next_url:
        path, params = split_next(str(next_url))
        yield from items(client, path, params, handle=handle)


def without_rows(obj: Mapping[str, Any], edge: str) -> dict[str, Any]:
    """``obj`` without the rows of an expanded edge (they are landed as their own entity):
    the edge keeps only its ``summary``, or goes when it has none."""
    out = dict(obj)
    nested = out.pop(edge, None)
    if isinstance(nested, dict) and "summary" in nested:
        out[edge] = {"data": [], "summary": nested["summary"]}
    return out


# --- insights ----------------------------------------------------------------------------------


@dataclass
class InsightsFetcher:
    """Insights of many objects by our stable metric names, through a name map.

    The platform's current names are requested together; when the API refuses the call
    (code 100: one retired or unknown metric fails the whole call), each metric is asked
    for alone, and the ones refused are logged, recorded in ``refused`` and not asked for
    again in this run. A refused metric is never fatal.
    """

    client: ApiClient
    metrics: Mapping[str, str]  # stable name -> platform's name
    refused: dict[str, str] = field(default_factory=dict)  # stable name -> why

    def fetch(
        self, object_id: str, params: Mapping[str, Any], *, handle: str
    ) -> dict[str, dict[str, Any]]:
        """``{stable name: insights object}`` for the metrics the API accepts."""
        wanted = {s: p for s, p in self.metrics.items() if s not in self.refused}
        if not wanted:
            return {}
        try:
            found = self._request(object_id, list(wanted.values()), params, handle)
        except InvalidParameterError:
            found = {}
            for stable, name in wanted.items():
                try:
                    found.update(self._request(object_id, [name], params, handle))
                except InvalidParameterError as refused:
                    self._refuse(stable, name, refused)
        by_platform_name = {p: s for s, p in wanted.items()}
        return {
            by_platform_name[name]: obj for name, obj in found.items() if name in by_platform_name
        }

    def _request(
        self, object_id: str, names: list[str], params: Mapping[str, Any], handle: str
    ) -> dict[str, dict[str, Any]]:
        body, _ = self.client.get_json(
            graph_path(object_id, "insights"), {**params, "metric": ",".join(names)}, handle=handle
        )
        return {
            str(obj["name"]): obj
            for obj in body.get("data") or []
            if isinstance(obj, dict) and obj.get("name")
        }

    def _refuse(self, stable: str, name: str, error: ExtractError) -> None:
        reason = f"{name}: {error}"
        self.refused[stable] = reason
        log.warning(
            "%s refuses insights metric %s (our %r); skipping it for the rest of the run. "
            "Update the metric-name map to the platform's current name. %s",
            self.client.platform,
            name,
            stable,
            self.client.redact(str(error)),
        )


def insight_value(obj: Mapping[str, Any]) -> Any:
    """The latest value of an insights object (``values[-1].value``), or None."""
    values = obj.get("values")
    if isinstance(values, list) and values and isinstance(values[-1], dict):
        return values[-1].get("value")
    return None


# --- privacy -----------------------------------------------------------------------------------


def pseudonymous_author(
    author: Any, own_id: str, platform: str, pseudonym: Pseudonymiser
) -> dict[str, str] | None:
    """A comment's author reduced to an id: the account's own id as it is, anyone else's
    replaced by a keyed pseudonym; names and usernames are never kept for the audience."""
    if not isinstance(author, dict) or not author.get("id"):
        return None
    author_id = str(author["id"])
    if author_id == own_id:
        return {"id": own_id}
    return {"id": pseudonym(platform, author_id)}


def created_in(obj: Mapping[str, Any], key: str, window: Window) -> bool:
    """Whether ``obj[key]`` (a Graph timestamp) falls in ``window``; an unreadable timestamp
    counts as inside, so the data-quality run reports it instead of it vanishing."""
    value = obj.get(key)
    try:
        return bool(window.contains(datetime.fromisoformat(str(value).replace("Z", "+00:00"))))
    except ValueError:
        return True


def object_envelope(
    handle: str,
    endpoint: str,
    observed_at: datetime,
    data: dict[str, Any],
    *,
    object_id: str,
    account_id: str,
) -> dict[str, Any]:
    """A landed record of an object read through another object's edge (a comment through
    its post): the post's id travels in ``request.object_id``, the id of the account whose
    post it is in ``request.account_id``."""
    record = envelope(handle, endpoint, observed_at, data)
    record["request"].update(object_id=object_id, account_id=account_id)
    return record
