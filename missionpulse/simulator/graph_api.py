"""Facebook Pages and Instagram (Graph API) on top of the simulated world.

Both platforms share ``graph.facebook.com`` and its versioned paths (``/v21.0/...``; any
``/vNN.N/`` prefix is accepted). An object is Facebook's or Instagram's by the world account
it belongs to, which matters for faults such as an expired Facebook token.

Served (``GET``, ``access_token`` query parameter):

- ``/{page-id or username}``, ``/{page-id}/published_posts`` (alias ``/posts``),
  ``/{post-id}`` and ``/{post-id}/comments`` (``filter=stream|toplevel``, ``order``,
  ``since``/``until``), ``/{page-id}/insights`` (``metric``, ``period=day``, ``since``/
  ``until``) and ``/{post-id}/insights`` (lifetime);
- ``/{ig-user-id}``, ``/{ig-user-id}/media`` (``since``/``until``), ``/{media-id}``,
  ``/{media-id}/comments`` (top-level comments, replies through ``replies{...}``) and
  ``/{media-id}/insights`` (lifetime metrics that settle 48 h after posting).

Field expansion: an edge named in ``fields`` (``comments`` of a post or an Instagram media)
is answered inside its parent as the edge itself would answer, with the field's modifiers as
the edge's parameters (``comments.filter(stream).since(S).limit(100){id,message}``): the first
page of rows, and a ``paging.next`` to the edge's own URL when more follow. ``.limit(0)``
with ``.summary(total_count)`` gives the total alone.

Lists page with cursors: ``paging.cursors.before/after`` on every non-empty page and
``paging.next`` only when more follow (a client must stop when ``next`` is absent: the last
page still has an ``after`` cursor). Insights answers carry ``paging.previous/next`` for the
adjacent time ranges, as the real API does, so they must not be followed blindly.

Errors use the Graph body ``{"error": {"message", "type", "code", "error_subcode",
"fbtrace_id"}}``; every answer carries ``x-app-usage`` and ``x-business-use-case-usage``.
Insights metrics retired by Meta are refused (``(#100)``) from their real retirement date
on the request's clock; the ``deprecated-metric`` mode also retires ``page_post_engagements``
and Instagram's ``reach``.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from itertools import islice, takewhile
from typing import Any, TypeVar
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from missionpulse.simulator.drift import drift
from missionpulse.simulator.faults import (
    DEPRECATED_METRIC,
    DRIFT,
    EXPIRED_TOKEN_PREFIX,
    RATE_LIMIT,
    SERVER_ERROR,
    Fault,
)
from missionpulse.simulator.graph_fields import Field, FieldSyntaxError, field_text, parse_fields
from missionpulse.simulator.media import Avatar
from missionpulse.simulator.messages import Request, Response, json_response
from missionpulse.simulator.world import (
    DAY_MS,
    Account,
    AudienceUser,
    Comment,
    Post,
    World,
    day_of,
    day_start_ms,
    from_ms,
    saturating,
    stable_int,
    to_ms,
)
from missionpulse.simulator.world_graph import (
    FACEBOOK,
    INSTAGRAM,
    fb_comment_id,
    fb_post_id,
    fb_post_number,
    graph_world,
    ig_comment_id,
    ig_media_id,
    shortcode,
)

_PACIFIC = ZoneInfo("America/Los_Angeles")
_PATH = re.compile(r"/v(?P<version>\d{1,2}\.\d{1,2})(?P<rest>/[^?]*)?")
DEFAULT_LIMIT = 25
MAX_LIMIT = 100
DEFAULT_INSIGHT_DAYS = 2
MAX_INSIGHT_DAYS = 93
# Calls per token and hour that make 100% in the usage headers, for the app and for one Page
# or Instagram account (never reached in normal runs; the simulator throttles by faults only).
USAGE_BUDGET_PER_HOUR = 200_000
OWNER_BUDGET_PER_HOUR = 4_800

# The insights metrics of each node type, current ones first, then the retired ones (served
# until the day in RETIRED_METRICS).
INSIGHT_METRICS: Mapping[str, tuple[str, ...]] = {
    "page": (
        "page_media_view",
        "page_total_media_view_unique",
        "page_follows",
        "page_daily_follows",
        "page_daily_follows_unique",
        "page_daily_unfollows_unique",
        "page_post_engagements",
        "page_video_views",
        "page_impressions",
        "page_impressions_unique",
        "page_fans",
        "page_fan_adds",
        "page_fan_adds_unique",
    ),
    "post": (
        "post_media_view",
        "post_total_media_view_unique",
        "post_clicks",
        "post_impressions",
        "post_impressions_unique",
    ),
    "media": (
        "views",
        "reach",
        "saved",
        "shares",
        "likes",
        "comments",
        "total_interactions",
        "impressions",
        "plays",
        "video_views",
    ),
}
# Metrics Meta retired, and the first day (UTC, on the request's clock) they are refused.
RETIRED_METRICS: Mapping[str, date] = {
    "page_impressions_unique": date(2025, 6, 15),
    "post_impressions_unique": date(2025, 6, 15),
    "page_impressions": date(2025, 11, 15),
    "page_fans": date(2025, 11, 15),
    "page_fan_adds": date(2025, 11, 15),
    "page_fan_adds_unique": date(2025, 11, 15),
    "post_impressions": date(2025, 11, 15),
    "impressions": date(2025, 4, 21),
    "plays": date(2025, 4, 21),
    "video_views": date(2025, 4, 21),
}
# What the ``deprecated-metric`` mode retires on top of Meta's own retirements.
MODE_RETIRED: Mapping[str, frozenset[str]] = {
    FACEBOOK: frozenset({"page_post_engagements"}),
    INSTAGRAM: frozenset({"reach"}),
}
_TITLES = {
    "page_media_view": "Daily Total Media Views",
    "page_total_media_view_unique": "Daily Total Media Viewers",
    "page_follows": "Page Follows",
    "page_daily_follows": "Daily New Follows",
    "page_daily_follows_unique": "Daily New Followers",
    "page_daily_unfollows_unique": "Daily Unfollows",
    "page_post_engagements": "Daily Post Engagements",
    "page_video_views": "Daily Total Video Views",
    "post_media_view": "Lifetime Post Media Views",
    "post_total_media_view_unique": "Lifetime Post Media Viewers",
    "post_clicks": "Lifetime Post Clicks",
    "views": "Views",
    "reach": "Accounts reached",
    "saved": "Saved",
    "shares": "Shares",
    "likes": "Likes",
    "comments": "Comments",
    "total_interactions": "Interactions",
}

# Schema drift (mode ``drift``): optional fields the Graph API may leave out, fields it adds.
DRIFT_OPTIONAL = frozenset(
    {
        "about",
        "website",
        "category",
        "verification_status",
        "permalink_url",
        "biography",
        "media_product_type",
        "title",
        "description",
        "is_hidden",
    }
)
DRIFT_EXTRA = {"has_transitioned_to_new_page_experience": True, "is_eligible_for_promotion": False}

_DEFAULT_FIELDS: Mapping[str, str] = {
    "Page": "name,id",
    "PagePost": "created_time,message,id",
    "Comment": "created_time,from,message,id",
    "IGUser": "id",
    "IGMedia": "id",
    "IGComment": "timestamp,text,id",
}
_THROTTLES = (
    (4, 403, "(#4) Application request limit reached"),
    (17, 400, "(#17) User request limit reached"),
    (32, 400, "(#32) Page request limit reached"),
    (613, 400, "(#613) Calls to this api have exceeded the rate limit."),
)
_BUC_THROTTLE = {
    FACEBOOK: (80001, "There have been too many calls to this Page account."),
    INSTAGRAM: (80002, "There have been too many calls to this Instagram account."),
}
_RATE_LIMIT_DOCS = "https://developers.facebook.com/docs/graph-api/overview/rate-limiting"

T = TypeVar("T")
Renderer = Callable[[Field], Any]


# --- errors ----------------------------------------------------------------------------------


class GraphError(Exception):
    """An error the Graph API answers with its ``{"error": {...}}`` body."""

    def __init__(
        self,
        status: int,
        code: int,
        message: str,
        *,
        subcode: int | None = None,
        kind: str = "OAuthException",
        transient: bool | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.subcode = subcode
        self.kind = kind
        self.transient = transient

    def body(self, trace_id: str) -> dict[str, Any]:
        error: dict[str, Any] = {"message": self.message, "type": self.kind, "code": self.code}
        if self.subcode is not None:
            error["error_subcode"] = self.subcode
        if self.transient is not None:
            error["is_transient"] = self.transient
        error["fbtrace_id"] = trace_id
        return {"error": error}


def _invalid(message: str) -> GraphError:
    return GraphError(400, 100, f"(#100) {message}")


def _nonexisting_field(name: str, node_type: str) -> GraphError:
    return _invalid(f"Tried accessing nonexisting field ({name}) on node type ({node_type})")


def _no_such_object(key: str) -> GraphError:
    return GraphError(
        400,
        100,
        f"Unsupported get request. Object with ID '{key}' does not exist, cannot be loaded due "
        "to missing permissions, or does not support this operation. Please read the Graph API "
        "documentation at https://developers.facebook.com/docs/graph-api",
        subcode=33,
        kind="GraphMethodException",
    )


def _no_such_alias(key: str) -> GraphError:
    return GraphError(404, 803, f"(#803) Some of the aliases you requested do not exist: {key}")


def _no_token() -> GraphError:
    return GraphError(400, 104, "An access token is required to request this resource.")


def _expired_token(now: datetime) -> GraphError:
    """Graph's answer to an expired token; it states both times in Menlo Park's time zone."""

    def pacific(moment: datetime) -> str:
        return moment.astimezone(_PACIFIC).strftime("%A, %d-%b-%y %H:%M:%S %Z")

    expired, current = pacific(now - timedelta(hours=11)), pacific(now)
    return GraphError(
        400,
        190,
        f"Error validating access token: Session has expired on {expired}. The current time "
        f"is {current}.",
        subcode=463,
    )


# --- small helpers -----------------------------------------------------------------------------


def graph_time(ms: int) -> str:
    """The Graph API's timestamp format: ``2025-10-08T09:12:33+0000``."""
    return from_ms(ms).strftime("%Y-%m-%dT%H:%M:%S+0000")


def _encode_cursor(key: tuple[int, str]) -> str:
    raw = f"{key[0]}:{key[1]}".encode()
    return "QVFI" + base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_cursor(token: str) -> tuple[int, str]:
    body = token.removeprefix("QVFI")
    try:
        raw = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)).decode()
        first, _, second = raw.partition(":")
        return int(first), second
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise _invalid("The cursor provided is invalid") from None


def _pick(node_type: str, value: Mapping[str, Any], children: Sequence[Field] | None) -> Any:
    """A nested plain object, restricted to the requested sub-fields."""
    if children is None:
        return dict(value)
    out = {}
    for child in children:
        if child.name not in value:
            raise _nonexisting_field(child.name, node_type)
        out[child.name] = value[child.name]
    return out


def _render(node_type: str, renderers: Mapping[str, Renderer], fields: Sequence[Field]) -> dict:
    """The requested fields of one node (``id`` always, last unless asked for); fields whose
    value is None are left out, as the Graph API leaves out empty fields."""
    out: dict[str, Any] = {}
    for field in fields:
        renderer = renderers.get(field.name)
        if renderer is None:
            raise _nonexisting_field(field.name, node_type)
        value = renderer(field)
        if value is not None:
            out[field.name] = value
    if "id" not in out:
        out["id"] = renderers["id"](Field("id"))
    return out


def _segments(path: str) -> list[str]:
    """The path's segments after the version: ``/v21.0/123/comments`` -> [123, comments]."""
    match = _PATH.fullmatch(path)
    rest = match.group("rest") if match else None
    return [segment for segment in (rest or "").split("/") if segment]


def _version(path: str) -> str:
    match = _PATH.fullmatch(path)
    return f"v{match.group('version')}" if match else "v21.0"


def _person_id(platform: str, user: AudienceUser) -> str:
    """The app-scoped id a platform gives an audience member (differs between platforms)."""
    number = stable_int("graph-person", platform, user.index)
    if platform == FACEBOOK:
        return str(10**15 + number % (9 * 10**15))
    return str(17_841_400_000_000_000 + number % 10**11)


@dataclass(frozen=True)
class Node:
    """The object a path names: a Page or post (Facebook), a user or media (Instagram)."""

    kind: str  # "page", "post", "ig_user" or "media"
    account: Account
    post: Post | None = None

    @property
    def platform(self) -> str:
        return self.account.platform


class Call:
    """One request's parameters, clock and the URL its paging links point back to."""

    def __init__(self, request: Request, now: datetime) -> None:
        self.now = now
        self.now_ms = to_ms(now)
        self.params = {name: values[-1] for name, values in request.params.items() if values}
        self.request = request
        host = request.headers.get("host", "127.0.0.1")
        self.url = f"http://{host}{request.path}"

    def nested(self, object_id: str, field: Field) -> Call:
        """The call an expanded edge stands for: ``/{object_id}/{edge}`` with the field's
        modifiers as parameters and its sub-fields as ``fields`` (credentials kept, as the
        Graph API keeps them in paging links)."""
        params = {
            name: [value]
            for name, value in self.params.items()
            if name in ("access_token", "appsecret_proof")
        }
        params.update({name: [value] for name, value in field.modifiers if name != "summary"})
        if field.children is not None:
            params["fields"] = [field_text(field.children)]
        path = f"/{_version(self.request.path)}/{object_id}/{field.name}"
        return Call(Request("GET", path, params, self.request.headers), self.now)

    def get(self, name: str) -> str | None:
        return self.params.get(name)

    def fields(self, node_type: str) -> tuple[Field, ...]:
        try:
            return parse_fields(self.get("fields") or _DEFAULT_FIELDS[node_type])
        except FieldSyntaxError as error:
            raise GraphError(400, 2500, error.message) from None

    def limit(self) -> int:
        value = self.get("limit")
        if value is None:
            return DEFAULT_LIMIT
        if not value.isdigit():
            raise _invalid(f"Param limit must be a non-negative integer, got {value!r}")
        return max(1, min(int(value), MAX_LIMIT))

    def moment_ms(self, name: str) -> int | None:
        """``since``/``until``: a Unix timestamp, a date or an ISO 8601 date-time."""
        value = self.get(name)
        if value is None or value == "":
            return None
        if value.isdigit():
            return int(value) * 1000
        try:
            moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            raise _invalid(
                f"The parameter {name} must be a valid unix timestamp or a strtotime-parseable "
                f"date, got {value!r}"
            ) from None
        return to_ms(moment if moment.tzinfo else moment.replace(tzinfo=UTC))

    def link(self, **changes: str) -> str:
        """This request's URL with paging parameters replaced (the token kept, as Graph does)."""
        params = {k: v for k, v in self.params.items() if k not in ("after", "before")}
        params.update(changes)
        return f"{self.url}?{urlencode(params)}"


# --- the API -----------------------------------------------------------------------------------


class GraphApi:
    """Answers Graph API requests for Facebook Pages and Instagram accounts from a ``World``."""

    def __init__(self, world: World, *, modes: frozenset[str] = frozenset()) -> None:
        self.world = world
        self.graph = graph_world(world)
        self.modes = modes
        self._calls: Counter[tuple[str, str, int]] = Counter()
        self._lock = threading.Lock()
        self._edges: Mapping[tuple[str, str | None], Callable[[Call, Node], dict[str, Any]]] = {
            ("page", None): self._page,
            ("page", "published_posts"): self._published_posts,
            ("page", "posts"): self._published_posts,
            ("page", "insights"): self._page_insights,
            ("post", None): self._post,
            ("post", "comments"): self._post_comments,
            ("post", "insights"): self._post_insights,
            ("ig_user", None): self._ig_user,
            ("ig_user", "media"): self._ig_media_list,
            ("media", None): self._media,
            ("media", "comments"): self._media_comments,
            ("media", "insights"): self._media_insights,
        }

    @staticmethod
    def handles(path: str) -> bool:
        return _PATH.fullmatch(path) is not None

    def avatars(self) -> Iterable[Avatar]:
        """The Pages' ``picture`` (50 x 50) and the Instagram users' ``profile_picture_url``
        (150 x 150), for the media server."""
        for platform, size in ((FACEBOOK, 50), (INSTAGRAM, 150)):
            for account in self.world.accounts(platform):
                yield Avatar(_picture_url(account), account, size)

    def respond(self, request: Request, now: datetime) -> Response:
        call = Call(request, now)
        node: Node | None = None
        try:
            if request.method != "GET":
                raise GraphError(400, 100, "(#100) The simulator serves GET requests only")
            if request.credential is None:
                raise _no_token()
            segments = _segments(request.path)
            if not segments:
                raise GraphError(400, 100, "(#100) Unsupported get request.")
            node = self._node(segments[0], call.now_ms)
            if EXPIRED_TOKEN_PREFIX + node.platform in self.modes:
                raise _expired_token(now)
            edge = segments[1] if len(segments) > 1 else None
            handler = self._edges.get((node.kind, edge))
            if handler is None or len(segments) > 2:
                raise GraphError(400, 2500, f"Unknown path components: /{'/'.join(segments[1:])}")
            status, payload = 200, handler(call, node)
        except GraphError as error:
            status, payload = error.status, error.body(self._trace_id(request))
        if DRIFT in self.modes and status == 200:
            payload = drift(payload, DRIFT_OPTIONAL, DRIFT_EXTRA, "graph")
        return json_response(status, payload, self._usage_headers(request, node))

    def fault_response(self, fault: Fault, request: Request) -> Response:
        """How the Graph API answers when ``fault`` strikes ``request``."""
        node = self._node_or_none(request)
        trace = self._trace_id(request)
        if fault.kind == RATE_LIMIT:
            platform = node.platform if node is not None else FACEBOOK
            throttles = (*_THROTTLES, self._buc_throttle(platform))
            code, status, message = throttles[fault.variant % len(throttles)]
            error = GraphError(status, code, message, transient=True)
            # a one-minute wait for 1 throttle in 100 (a client must honour it); otherwise the
            # platform lets us straight back in, so chaos runs stay minutes, not hours
            minutes = 1 if fault.variant % 100 == 0 else 0
            headers = self._usage_headers(request, node, regain_minutes=minutes, share=100)
            return json_response(status, error.body(trace), headers)
        if fault.kind == SERVER_ERROR:
            if fault.variant % 2:
                error = GraphError(500, 1, "An unknown error occurred", transient=True)
            else:
                error = GraphError(500, 2, "Service temporarily unavailable", transient=True)
            return json_response(500, error.body(trace), self._usage_headers(request, node))
        raise ValueError(f"the Graph API cannot render fault kind {fault.kind!r}")

    # routing

    def _node(self, key: str, now_ms: int) -> Node:
        """The Page, post, Instagram user or media a path segment names (visible at now)."""
        node = self._lookup(key)
        if node is None or not node.account.visible_at(now_ms):
            raise (
                _no_such_alias(key) if not key.replace("_", "").isdigit() else _no_such_object(key)
            )
        if node.post is not None and node.post.created_ms > now_ms:
            raise _no_such_object(key)
        return node

    def _lookup(self, key: str) -> Node | None:
        if "_" in key:
            post = self.graph.fb_post(key)
            return Node("post", self.graph.account_of(post), post) if post else None
        page = self.graph.account(FACEBOOK, key)
        if page is not None:
            return Node("page", page)
        if not key.isdigit():
            return None
        user = self.graph.account(INSTAGRAM, key)
        if user is not None:
            return Node("ig_user", user)
        media = self.graph.ig_media(key)
        return Node("media", self.graph.account_of(media), media) if media else None

    def _node_or_none(self, request: Request) -> Node | None:
        segments = _segments(request.path)
        return self._lookup(segments[0]) if segments else None

    # headers

    def _trace_id(self, request: Request) -> str:
        number = stable_int("fbtrace", request.path, sorted(request.params.items()))
        return base64.urlsafe_b64encode(number.to_bytes(8, "big")).decode().rstrip("=") + "Ax"

    def _usage_headers(
        self,
        request: Request,
        node: Node | None,
        *,
        regain_minutes: int = 0,
        share: int | None = None,
    ) -> dict[str, str]:
        token = request.credential or ""
        hour = int(time.time() // 3600)
        owner = node.account.uid if node is not None else ""
        with self._lock:
            self._calls[(token, "", hour)] += 1
            if owner:
                self._calls[(token, owner, hour)] += 1
            app_calls = self._calls[(token, "", hour)]
            owner_calls = self._calls[(token, owner, hour)]
        app = min(100, app_calls * 100 // USAGE_BUDGET_PER_HOUR)
        used = share if share is not None else min(100, owner_calls * 100 // OWNER_BUDGET_PER_HOUR)
        headers = {
            "x-app-usage": json.dumps(
                {"call_count": app, "total_cputime": app // 2, "total_time": app // 2}
            ),
            "x-fb-trace-id": self._trace_id(request),
            "facebook-api-version": _version(request.path),
        }
        if node is not None:
            kind = "pages" if node.platform == FACEBOOK else "instagram"
            usage = {
                "type": kind,
                "call_count": used,
                "total_cputime": used // 2,
                "total_time": used // 2,
                "estimated_time_to_regain_access": regain_minutes,
            }
            headers["x-business-use-case-usage"] = json.dumps({owner: [usage]})
        return headers

    def _buc_throttle(self, platform: str) -> tuple[int, int, str]:
        code, text = _BUC_THROTTLE[platform]
        return (
            code,
            400,
            f"(#{code}) {text} Wait a bit and try again. For more info, please refer to "
            f"{_RATE_LIMIT_DOCS}.",
        )

    # pages of lists

    def _paged(
        self,
        call: Call,
        items: Iterable[T],
        key: Callable[[T], tuple[int, str]],
        render: Callable[[T], dict[str, Any]],
    ) -> dict[str, Any]:
        """One page of ``items`` (in serving order, ``key`` increasing along it; read only as
        far as the page needs)."""
        limit = call.limit()
        after, before = call.get("after"), call.get("before")
        if before is not None:
            bound = _decode_cursor(before)
            earlier = list(takewhile(lambda item: key(item) < bound, items))
            shown, has_previous, has_next = earlier[-limit:], len(earlier) > limit, True
        else:
            start = _decode_cursor(after) if after is not None else None
            later = list(islice((i for i in items if start is None or key(i) > start), limit + 1))
            shown, has_previous, has_next = later[:limit], after is not None, len(later) > limit
        if not shown:
            return {"data": []}
        cursors = {"before": _encode_cursor(key(shown[0])), "after": _encode_cursor(key(shown[-1]))}
        paging: dict[str, Any] = {"cursors": cursors}
        if has_previous:
            paging["previous"] = call.link(before=cursors["before"])
        if has_next:
            paging["next"] = call.link(after=cursors["after"])
        return {"data": [render(item) for item in shown], "paging": paging}

    def _time_range(self, call: Call) -> tuple[int, int]:
        """[since, until) in ms for list edges, never beyond the request's clock."""
        since = call.moment_ms("since") or 0
        until = call.moment_ms("until")
        upper = call.now_ms + 1 if until is None else min(until, call.now_ms + 1)
        return since, upper

    # Facebook

    def _page(self, call: Call, node: Node) -> dict[str, Any]:
        account, now_ms = node.account, call.now_ms
        followers = self.world.followers_at(account, now_ms)
        picture = {
            "height": 50,
            "is_silhouette": False,
            "url": _picture_url(account),
            "width": 50,
        }
        mission_type = account.spec.mission.mission_type
        renderers: dict[str, Renderer] = {
            "id": lambda f: account.uid,
            "name": lambda f: account.display_name,
            "username": lambda f: account.handle,
            "about": lambda f: account.description or None,
            "website": lambda f: account.website,
            "fan_count": lambda f: int(followers * 0.93),
            "followers_count": lambda f: followers,
            "verification_status": lambda f: (
                "blue_verified" if account.verified else "not_verified"
            ),
            "picture": lambda f: {"data": _pick("ProfilePictureSource", picture, f.children)},
            "link": lambda f: f"https://www.facebook.com/{account.handle}",
            "category": lambda f: (
                "Embassy"
                if mission_type in ("embassy", "high_commission")
                else "Government Organization"
            ),
        }
        return _render("Page", renderers, call.fields("Page"))

    def _published_posts(self, call: Call, node: Node) -> dict[str, Any]:
        since, until = self._time_range(call)
        posts = self.graph.posts_between(node.account, since, until)
        fields = call.fields("PagePost")
        return self._paged(
            call,
            posts,
            lambda p: (-p.created_ms, fb_post_id(node.account, p)),
            lambda p: self._post_object(call, node.account, p, fields),
        )

    def _post(self, call: Call, node: Node) -> dict[str, Any]:
        assert node.post is not None
        return self._post_object(call, node.account, node.post, call.fields("PagePost"))

    def _post_object(
        self, call: Call, account: Account, post: Post, fields: Sequence[Field]
    ) -> dict[str, Any]:
        now_ms = call.now_ms
        metrics = self.world.post_metrics(post, now_ms)

        def comments(field: Field) -> dict[str, Any]:
            order = field.modifier("order") or "ranked"
            summary = {"order": order, "can_comment": True}
            if field.modifier("limit") == "0":
                return _edge_summary(field, metrics.comments, summary)
            nested = call.nested(fb_post_id(account, post), field)
            page = self._post_comments(nested, Node("post", account, post))
            return page | _edge_summary(field, metrics.comments, summary, rows=False)

        renderers: dict[str, Renderer] = {
            "id": lambda f: fb_post_id(account, post),
            "message": lambda f: post.text,
            "from": lambda f: _pick(
                "Page", {"name": account.display_name, "id": account.uid}, f.children
            ),
            "created_time": lambda f: graph_time(post.created_ms),
            "updated_time": lambda f: graph_time(post.created_ms),
            "permalink_url": lambda f: (
                f"https://www.facebook.com/{account.uid}/posts/{fb_post_number(post)}"
            ),
            "shares": lambda f: {"count": metrics.shares} if metrics.shares else None,
            "reactions": lambda f: _edge_summary(f, metrics.likes, {"viewer_reaction": "NONE"}),
            "comments": comments,
            "status_type": lambda f: "mobile_status_update",
            "is_published": lambda f: True,
        }
        return _render("PagePost", renderers, fields)

    def _post_comments(self, call: Call, node: Node) -> dict[str, Any]:
        assert node.post is not None
        post = node.post
        stream = (call.get("filter") or "toplevel") == "stream"
        if (call.get("filter") or "toplevel") not in ("stream", "toplevel"):
            raise _invalid("Param filter must be one of {toplevel, stream}")
        order = call.get("order") or ("chronological" if stream else "ranked")
        if order not in ("chronological", "reverse_chronological", "ranked"):
            raise _invalid("Param order must be one of {chronological, reverse_chronological}")
        since, until = self._time_range(call)
        comments = [
            c
            for c in self.graph.comments_until(post, call.now_ms)
            if (stream or c.parent is None) and since <= c.created_ms < until
        ]
        sign = -1 if order == "reverse_chronological" else 1
        comments.sort(key=lambda c: (sign * c.created_ms, fb_comment_id(post, c)))
        fields = call.fields("Comment")
        return self._paged(
            call,
            comments,
            lambda c: (sign * c.created_ms, fb_comment_id(post, c)),
            lambda c: self._fb_comment(node.account, post, c, fields, call.now_ms),
        )

    def _fb_comment(
        self, page: Account, post: Post, comment: Comment, fields: Sequence[Field], now_ms: int
    ) -> dict[str, Any]:
        author = comment.author
        who = (
            {"name": page.display_name, "id": page.uid}
            if author is None
            else {"name": author.name, "id": _person_id(FACEBOOK, author)}
        )
        parent = comment.parent
        default_parent = parse_fields(_DEFAULT_FIELDS["Comment"])
        renderers: dict[str, Renderer] = {
            "id": lambda f: fb_comment_id(post, comment),
            "message": lambda f: comment.text,
            "created_time": lambda f: graph_time(comment.created_ms),
            "from": lambda f: _pick("User", who, f.children),
            "parent": lambda f: (
                None
                if parent is None
                else self._fb_comment(page, post, parent, f.children or default_parent, now_ms)
            ),
            "like_count": lambda f: saturating(comment.likes, now_ms - comment.created_ms, 2.0),
            "comment_count": lambda f: int(
                comment.answer_ms is not None and comment.answer_ms <= now_ms
            ),
            "is_hidden": lambda f: False,
            "permalink_url": lambda f: (
                f"https://www.facebook.com/{page.uid}/posts/"
                f"{fb_post_number(post)}?comment_id={fb_comment_id(post, comment).split('_')[1]}"
            ),
        }
        return _render("Comment", renderers, fields)

    def _page_insights(self, call: Call, node: Node) -> dict[str, Any]:
        names = self._metrics(call, node)
        period = call.get("period") or "day"
        if period != "day":
            raise _invalid("The simulator serves period=day only")
        today = day_of(call.now_ms)
        until_ms = call.moment_ms("until")
        until = day_of(until_ms) if until_ms is not None else today
        since_ms = call.moment_ms("since")
        since = (
            day_of(since_ms)
            if since_ms is not None
            else until - timedelta(days=DEFAULT_INSIGHT_DAYS)
        )
        if (until - since).days > MAX_INSIGHT_DAYS:
            raise _invalid("There cannot be more than 93 days (8035200 s) between since and until")
        days = [
            since + timedelta(days=n)
            for n in range((until - since).days)
            if day_start_ms(since + timedelta(days=n)) < call.now_ms
        ]
        data = []
        for name in names:
            values = [
                {
                    "value": self.graph.page_day(node.account, day, call.now_ms)[name],
                    "end_time": graph_time(day_start_ms(day) + DAY_MS),
                }
                for day in days
            ]
            data.append(_insight(node.account.uid, name, "day", values))
        span = until - since
        return {
            "data": data,
            "paging": {
                "previous": call.link(since=str(since - span), until=str(since)),
                "next": call.link(since=str(until), until=str(until + span)),
            },
        }

    def _post_insights(self, call: Call, node: Node) -> dict[str, Any]:
        assert node.post is not None
        names = self._metrics(call, node)
        insights = self.graph.post_insights(node.post, call.now_ms)
        object_id = fb_post_id(node.account, node.post)
        return {
            "data": [
                _insight(object_id, name, "lifetime", [{"value": insights.metric(name)}])
                for name in names
            ]
        }

    # Instagram

    def _ig_user(self, call: Call, node: Node) -> dict[str, Any]:
        account, now_ms = node.account, call.now_ms
        renderers: dict[str, Renderer] = {
            "id": lambda f: account.uid,
            "ig_id": lambda f: stable_int("ig_id", account.uid) % 10**10,
            "username": lambda f: account.handle,
            "name": lambda f: account.display_name,
            "biography": lambda f: account.description or None,
            "website": lambda f: account.website,
            "followers_count": lambda f: self.world.followers_at(account, now_ms),
            "follows_count": lambda f: account.following,
            "media_count": lambda f: self.world.post_count_estimate(account, now_ms),
            "profile_picture_url": lambda f: _picture_url(account),
        }
        return _render("IGUser", renderers, call.fields("IGUser"))

    def _ig_media_list(self, call: Call, node: Node) -> dict[str, Any]:
        since, until = self._time_range(call)
        posts = self.graph.posts_between(node.account, since, until)
        fields = call.fields("IGMedia")
        return self._paged(
            call,
            posts,
            lambda p: (-p.created_ms, ig_media_id(p)),
            lambda p: self._media_object(call, node.account, p, fields),
        )

    def _media(self, call: Call, node: Node) -> dict[str, Any]:
        assert node.post is not None
        return self._media_object(call, node.account, node.post, call.fields("IGMedia"))

    def _media_object(
        self, call: Call, account: Account, post: Post, fields: Sequence[Field]
    ) -> dict[str, Any]:
        now_ms = call.now_ms

        def comments(field: Field) -> dict[str, Any]:
            nested = call.nested(ig_media_id(post), field)
            return self._media_comments(nested, Node("media", account, post))

        insights = self.graph.media_insights(post, now_ms)
        roll = stable_int("media-type", ig_media_id(post)) % 10
        media_type = "VIDEO" if roll < 3 else "CAROUSEL_ALBUM" if roll < 5 else "IMAGE"
        product = "REELS" if media_type == "VIDEO" else "FEED"
        code = shortcode(post)
        media_url = f"https://scontent.cdninstagram.com/v/t51.29350-15/{ig_media_id(post)}_n.jpg"
        renderers: dict[str, Renderer] = {
            "id": lambda f: ig_media_id(post),
            "caption": lambda f: post.text,
            "media_type": lambda f: media_type,
            "media_product_type": lambda f: product,
            "permalink": lambda f: (
                f"https://www.instagram.com/{'reel' if product == 'REELS' else 'p'}/{code}/"
            ),
            "shortcode": lambda f: code,
            "timestamp": lambda f: graph_time(post.created_ms),
            "like_count": lambda f: insights.like_count,
            "comments_count": lambda f: insights.comments_count,
            "media_url": lambda f: media_url,
            "thumbnail_url": lambda f: media_url if media_type == "VIDEO" else None,
            "username": lambda f: account.handle,
            "owner": lambda f: {"id": account.uid},
            "is_comment_enabled": lambda f: True,
            "comments": comments,
        }
        return _render("IGMedia", renderers, fields)

    def _media_comments(self, call: Call, node: Node) -> dict[str, Any]:
        assert node.post is not None
        post = node.post
        visible = self.graph.comments_until(post, call.now_ms)
        replies: dict[tuple[int, int], list[Comment]] = {}
        for comment in visible:
            if comment.parent is not None:
                key = (comment.parent.created_ms, comment.parent.key)
                replies.setdefault(key, []).append(comment)
        top_level = [c for c in visible if c.parent is None]
        top_level.sort(key=lambda c: (-c.created_ms, ig_comment_id(post, c)))
        fields = call.fields("IGComment")
        return self._paged(
            call,
            top_level,
            lambda c: (-c.created_ms, ig_comment_id(post, c)),
            lambda c: self._ig_comment(
                node.account, post, c, fields, replies.get((c.created_ms, c.key), []), call.now_ms
            ),
        )

    def _ig_comment(
        self,
        account: Account,
        post: Post,
        comment: Comment,
        fields: Sequence[Field],
        replies: Sequence[Comment],
        now_ms: int,
    ) -> dict[str, Any]:
        author = comment.author
        username = account.handle if author is None else author.username.lower()
        who = {
            "id": account.uid if author is None else _person_id(INSTAGRAM, author),
            "username": username,
        }
        parent = comment.parent
        default_reply = parse_fields(_DEFAULT_FIELDS["IGComment"])
        renderers: dict[str, Renderer] = {
            "id": lambda f: ig_comment_id(post, comment),
            "text": lambda f: comment.text,
            "timestamp": lambda f: graph_time(comment.created_ms),
            "username": lambda f: username,
            "from": lambda f: _pick("IGCommentFromUser", who, f.children),
            "like_count": lambda f: saturating(comment.likes, now_ms - comment.created_ms, 2.0),
            "hidden": lambda f: False,
            "media": lambda f: {"id": ig_media_id(post)},
            "parent_id": lambda f: None if parent is None else ig_comment_id(post, parent),
            "replies": lambda f: (
                None
                if not replies
                else {
                    "data": [
                        self._ig_comment(account, post, r, f.children or default_reply, (), now_ms)
                        for r in replies
                    ]
                }
            ),
        }
        return _render("IGComment", renderers, fields)

    def _media_insights(self, call: Call, node: Node) -> dict[str, Any]:
        assert node.post is not None
        names = self._metrics(call, node)
        insights = self.graph.media_insights(node.post, call.now_ms)
        media_id = ig_media_id(node.post)
        return {
            "data": [
                _insight(media_id, name, "lifetime", [{"value": insights.metric(name)}])
                for name in names
            ]
        }

    # metrics

    def _metrics(self, call: Call, node: Node) -> list[str]:
        """The requested metric names, refused with the platform's error when one of them is
        unknown or retired (one bad name fails the whole call)."""
        value = call.get("metric")
        if not value:
            raise _invalid("The parameter metric is required")
        names = [name.strip() for name in value.split(",") if name.strip()]
        served = [
            name
            for name in INSIGHT_METRICS[node.kind]
            if not self._retired(node.platform, name, call.now)
        ]
        for position, name in enumerate(names):
            if name in served:
                continue
            if node.platform == FACEBOOK:
                raise _invalid("The value must be a valid insights metric")
            raise _invalid(
                f"metric[{position}] must be one of the following values: {', '.join(served)}"
            )
        return names

    def _retired(self, platform: str, name: str, now: datetime) -> bool:
        """Whether ``name`` is refused on ``now``'s date (always, for a name never served)."""
        if DEPRECATED_METRIC in self.modes and name in MODE_RETIRED[platform]:
            return True
        retired_on = RETIRED_METRICS.get(name)
        return retired_on is not None and now.astimezone(UTC).date() >= retired_on


def _edge_summary(
    field: Field, total: int, extra: Mapping[str, Any], *, rows: bool = True
) -> dict[str, Any]:
    """A connection asked for as ``reactions.summary(total_count).limit(0)``: no rows (the
    simulator names no reacting people), and the summary when asked for."""
    out: dict[str, Any] = {"data": []} if rows else {}
    if field.modifier("summary") not in (None, "false", "0"):
        out["summary"] = {"total_count": total, **extra}
    return out


def _insight(object_id: str, name: str, period: str, values: list[dict[str, Any]]) -> dict:
    title = _TITLES.get(name, name.replace("_", " ").capitalize())
    return {
        "name": name,
        "period": period,
        "values": values,
        "title": title,
        "description": f"{title} ({period}).",
        "id": f"{object_id}/insights/{name}/{period}",
    }


def _picture_url(account: Account) -> str:
    folder = stable_int("picture", account.platform, account.uid) % 10**9
    return f"https://scontent.xx.fbcdn.net/v/t39.30808-1/{folder}_{account.uid}_n.jpg"
