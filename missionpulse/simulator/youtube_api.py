"""YouTube Data API v3 on top of the simulated world: methods, parts, paging, quota, errors.

Served methods (``GET /youtube/v3/<method>``, each costing 1 quota unit):

- ``channels`` (``part``; exactly one of ``id`` (up to 50, comma-separated), ``forHandle``
  (``@handle`` or ``handle``) or ``forUsername``),
- ``playlistItems`` (``part``, ``playlistId`` of an uploads playlist, ``maxResults`` 0-50,
  default 5, ``pageToken``; newest first),
- ``videos`` (``part``, ``id`` up to 50),
- ``commentThreads`` (``part``, ``videoId`` or ``id``, ``maxResults`` 1-100, default 20,
  ``pageToken``, ``order`` time|relevance, ``textFormat`` html|plainText),
- ``comments`` (``part``, ``parentId`` or ``id``, ``maxResults`` 1-100, ``pageToken``,
  ``textFormat``).

``search`` (100 units a call, and the design forbids it) and every other method answer
Google's 404 "Method not found.".

Responses follow the real API: ``kind``/``etag``/``id`` plus the requested parts, list
envelopes with ``pageInfo`` and opaque ``nextPageToken``/``prevPageToken``, statistics as
strings, subscriber counts rounded down to three significant figures (absent when the
channel hides them), ``commentCount`` absent when comments are disabled, at most five
replies inline in a thread (the rest through ``comments?parentId=``). Errors use Google's
body ``{"error": {"code", "message", "errors": [{"message", "domain", "reason", ...}]}}``.

Authentication is an API key (``key``) or an OAuth bearer token; either may be a simulator
token carrying the clock. Each credential has 10,000 units per Pacific-time day of the
simulator's clock; past that every call answers 403 ``quotaExceeded``.
"""

from __future__ import annotations

import base64
import hashlib
import html
import json
import re
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from itertools import islice
from typing import Any
from zoneinfo import ZoneInfo

from missionpulse.simulator.drift import drift
from missionpulse.simulator.faults import (
    DRIFT,
    EXPIRED_TOKEN_PREFIX,
    RATE_LIMIT,
    SERVER_ERROR,
    Fault,
)
from missionpulse.simulator.media import Avatar
from missionpulse.simulator.messages import Request, Response, json_response
from missionpulse.simulator.world import World, from_ms, stable_int, to_ms
from missionpulse.simulator.world_youtube import (
    PLATFORM,
    Channel,
    Thread,
    Video,
    VideoComment,
    YouTubeWorld,
    audience_channel_id,
    audience_handle,
    comment_likes_at,
    youtube_world,
)

PREFIX = "/youtube/v3/"
DAILY_QUOTA = 10_000
PACIFIC = ZoneInfo("America/Los_Angeles")
INLINE_REPLIES = 5
MAX_IDS = 50
# Parameters every Google API accepts besides the method's own.
STANDARD_PARAMS = frozenset(
    {"key", "access_token", "alt", "callback", "fields", "prettyPrint", "quotaUser", "userIp"}
)
# Schema drift (mode ``drift``): parts and fields YouTube may leave out, or add.
DRIFT_OPTIONAL = frozenset({"brandingSettings", "etag", "player", "status", "topicDetails"})
DRIFT_EXTRA: Mapping[str, Any] = {"localizations": {}, "suggestions": {"tagSuggestions": []}}
_URL = re.compile(r"https?://\S+")


@dataclass(frozen=True)
class Method:
    """One list method: its cost, its parameters, its parts and its paging bounds."""

    name: str
    params: frozenset[str]
    parts: frozenset[str]
    filters: tuple[str, ...]
    max_results: tuple[int, int, int] | None  # (lowest, highest, default); None: no paging
    cost: int = 1


def _names(text: str) -> frozenset[str]:
    return frozenset(text.split(","))


METHODS: Mapping[str, Method] = {
    "channels": Method(
        "channels",
        _names("part,id,forHandle,forUsername,maxResults,pageToken,hl"),
        _names(
            "auditDetails,brandingSettings,contentDetails,contentOwnerDetails,id,localizations,"
            "snippet,statistics,status,topicDetails"
        ),
        ("forHandle", "forUsername", "id"),
        (0, 50, 5),
    ),
    "playlistItems": Method(
        "playlistItems",
        _names("part,playlistId,maxResults,pageToken"),
        _names("contentDetails,id,snippet,status"),
        ("playlistId",),
        (0, 50, 5),
    ),
    "videos": Method(
        "videos",
        _names("part,id,hl,maxHeight,maxWidth"),
        _names(
            "contentDetails,fileDetails,id,liveStreamingDetails,localizations,"
            "paidProductPlacementDetails,player,processingDetails,recordingDetails,snippet,"
            "statistics,status,suggestions,topicDetails"
        ),
        ("id",),
        None,
    ),
    "commentThreads": Method(
        "commentThreads",
        _names("part,videoId,id,maxResults,pageToken,order,textFormat"),
        _names("id,replies,snippet"),
        ("id", "videoId"),
        (1, 100, 20),
    ),
    "comments": Method(
        "comments",
        _names("part,parentId,id,maxResults,pageToken,textFormat"),
        _names("id,snippet"),
        ("id", "parentId"),
        (1, 100, 20),
    ),
}


# --- errors ----------------------------------------------------------------------------------


class ApiError(Exception):
    """A request YouTube refuses: the status and Google's error body."""

    def __init__(
        self,
        status: int,
        message: str,
        reason: str,
        domain: str = "global",
        *,
        location: str | None = None,
        location_type: str = "parameter",
        grpc_status: str | None = None,
        details: list[dict[str, Any]] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.headers = dict(headers or {})
        item: dict[str, Any] = {"message": message, "domain": domain, "reason": reason}
        if location is not None:
            item.update(location=location, locationType=location_type)
        error: dict[str, Any] = {"code": status, "message": message, "errors": [item]}
        if grpc_status:
            error["status"] = grpc_status
        if details:
            error["details"] = details
        self.body = {"error": error}

    def response(self) -> Response:
        return json_response(self.status, self.body, self.headers)


def _doc_link(method: str, parameter: str) -> str:
    return f'<code><a href="/youtube/v3/docs/{method}/list#{parameter}">{parameter}</a></code>'


def missing_key() -> ApiError:
    message = "The request is missing a valid API key."
    return ApiError(403, message, "forbidden", grpc_status="PERMISSION_DENIED")


def key_expired() -> ApiError:
    info = {
        "@type": "type.googleapis.com/google.rpc.ErrorInfo",
        "reason": "API_KEY_INVALID",
        "domain": "googleapis.com",
        "metadata": {"service": "youtube.googleapis.com"},
    }
    message = "API key expired. Please renew the API key."
    return ApiError(
        400, message, "keyInvalid", "usageLimits", grpc_status="INVALID_ARGUMENT", details=[info]
    )


def quota_exceeded() -> ApiError:
    message = (
        "The request cannot be completed because you have exceeded your "
        '<a href="/youtube/v3/getting-started#quota">quota</a>.'
    )
    return ApiError(403, message, "quotaExceeded", "youtube.quota")


def method_not_found() -> ApiError:
    return ApiError(404, "Method not found.", "notFound", grpc_status="NOT_FOUND")


def _bad_value(name: str, value: str, allowed: str) -> ApiError:
    message = f"Invalid value '{value}'. Values must be {allowed}"
    return ApiError(400, message, "invalidParameter", location=name)


def _not_found(method: str, parameter: str, what: str, reason: str, domain: str) -> ApiError:
    link = _doc_link(method, parameter)
    message = f"The {what} identified by the {link} parameter could not be found."
    return ApiError(404, message, reason, domain, location=parameter)


def comments_disabled() -> ApiError:
    message = (
        f"The video identified by the {_doc_link('commentThreads', 'videoId')} parameter has "
        "disabled comments."
    )
    return ApiError(403, message, "commentsDisabled", "youtube.commentThread", location="videoId")


# --- paging, times, texts --------------------------------------------------------------------


def _varint(number: int) -> bytes:
    out = bytearray()
    while True:
        byte, number = number & 0x7F, number >> 7
        out.append(byte | (0x80 if number else 0))
        if not number:
            return bytes(out)


def encode_page_token(offset: int, fingerprint: str) -> str:
    """An opaque token (protobuf-shaped, like Google's) for ``offset``, bound to the query."""
    tag = hashlib.blake2b(fingerprint.encode(), digest_size=6).digest()
    raw = b"\x08" + _varint(offset) + b"\x12\x06" + tag
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_page_token(token: str, fingerprint: str) -> int | None:
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    except (ValueError, TypeError):
        return None
    if not raw.startswith(b"\x08"):
        return None
    offset, shift, position = 0, 0, 1
    while position < len(raw):
        byte = raw[position]
        offset |= (byte & 0x7F) << shift
        shift += 7
        position += 1
        if not byte & 0x80:
            break
    return offset if encode_page_token(offset, fingerprint) == token else None


def iso(ms: int) -> str:
    """YouTube's timestamp format: ``2025-10-08T14:03:09Z``."""
    return from_ms(ms).strftime("%Y-%m-%dT%H:%M:%SZ")


def iso_duration(seconds: int) -> str:
    """ISO 8601 duration as YouTube writes it: ``PT1H2M3S``, ``PT4M``, ``PT45S``."""
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    parts = [(hours, "H"), (minutes, "M"), (secs, "S")]
    body = "".join(f"{value}{unit}" for value, unit in parts if value)
    return f"PT{body or '0S'}"


def three_significant(count: int) -> int:
    """Subscriber counts as the API shows them: rounded down to three significant figures."""
    if count < 1000:
        return count
    factor = 10 ** (len(str(count)) - 3)
    return count // factor * factor


def etag(payload: Any) -> str:
    digest = hashlib.blake2b(
        json.dumps(payload, sort_keys=True, ensure_ascii=False).encode(), digest_size=21
    ).digest()
    return base64.urlsafe_b64encode(digest).decode()[:27]


def text_display(text: str, text_format: str) -> str:
    """``textDisplay``: as written for ``plainText``; escaped, links and breaks as HTML else."""
    if text_format == "plainText":
        return text
    escaped = html.escape(text)
    linked = _URL.sub(lambda m: f'<a href="{m.group()}">{m.group()}</a>', escaped)
    return linked.replace("\n", "<br>")


def _image_key(*parts: object) -> str:
    number = stable_int("yt-image", *parts)
    return base64.urlsafe_b64encode(number.to_bytes(8, "big") * 4).decode().rstrip("=")


def _channel_thumbnails(key: str) -> dict[str, Any]:
    base = f"https://yt3.ggpht.com/{key}"
    return {
        name: {"url": f"{base}=s{size}-c-k-c0x00ffffff-no-rj", "width": size, "height": size}
        for name, size in (("default", 88), ("medium", 240), ("high", 800))
    }


def _video_thumbnails(video_id: str) -> dict[str, Any]:
    sizes = (
        ("default", "default", 120, 90),
        ("medium", "mqdefault", 320, 180),
        ("high", "hqdefault", 480, 360),
        ("standard", "sddefault", 640, 480),
        ("maxres", "maxresdefault", 1280, 720),
    )
    return {
        name: {"url": f"https://i.ytimg.com/vi/{video_id}/{file}.jpg", "width": w, "height": h}
        for name, file, w, h in sizes
    }


class Params:
    """A request's query parameters, read and validated the way YouTube does."""

    def __init__(self, method: Method, values: Mapping[str, list[str]]) -> None:
        self.method = method
        self.values = values

    def get(self, name: str) -> str | None:
        found = self.values.get(name)
        return found[-1] if found else None

    def check(self) -> frozenset[str]:
        """Unknown parameters, then ``part``; returns the requested parts."""
        for name in self.values:
            if name not in self.method.params and name not in STANDARD_PARAMS:
                message = (
                    f'Invalid JSON payload received. Unknown name "{name}": Cannot bind query '
                    f"parameter. Field '{name}' could not be found in request message."
                )
                raise ApiError(400, message, "badRequest", grpc_status="INVALID_ARGUMENT")
        value = self.get("part")
        if not value:
            raise ApiError(400, "Required parameter: part", "required", location="part")
        parts = frozenset(p.strip() for p in value.split(","))
        for part in sorted(parts):
            if part not in self.method.parts:
                raise ApiError(400, f"'{part}'", "unknownPart", "youtube.part", location="part")
        return parts

    def one_filter(self) -> tuple[str, str]:
        """The method's filter parameter (exactly one must be given) and its value."""
        given = [name for name in self.method.filters if self.get(name)]
        if not given:
            message = f"No filter selected. Expected one of: {', '.join(self.method.filters)}"
            raise ApiError(
                400,
                message,
                "missingRequiredParameter",
                "youtube.parameter",
                location="parameters.",
                location_type="other",
            )
        if len(given) > 1:
            message = f"Incompatible parameters specified in the request: {', '.join(given)}"
            raise ApiError(
                400,
                message,
                "incompatibleParameters",
                "youtube.parameter",
                location="parameters.",
                location_type="other",
            )
        return given[0], self.get(given[0]) or ""

    def ids(self, name: str, value: str) -> list[str]:
        ids = [v.strip() for v in value.split(",") if v.strip()]
        if len(ids) > MAX_IDS:
            message = f"The request specifies more than {MAX_IDS} values in the {name} parameter."
            raise ApiError(400, message, "invalidFilters", "youtube.parameter", location=name)
        return ids

    def size(self) -> int:
        assert self.method.max_results is not None  # only paged methods ask
        low, high, default = self.method.max_results
        value = self.get("maxResults")
        if value is None:
            return default
        if not value.isdigit() or not low <= int(value) <= high:
            raise _bad_value("maxResults", value, f"within the range: [{low}, {high}]")
        return int(value)

    def choice(self, name: str, allowed: Sequence[str]) -> str:
        value = self.get(name) or allowed[0]
        if value not in allowed:
            raise _bad_value(name, value, f"one of: [{', '.join(allowed)}]")
        return value

    def offset(self, fingerprint: str) -> int:
        token = self.get("pageToken")
        if not token:
            return 0
        offset = decode_page_token(token, fingerprint)
        if offset is None:
            raise ApiError(
                400,
                "The request specifies an invalid page token.",
                "invalidPageToken",
                "youtube.parameter",
                location="pageToken",
            )
        return offset


def list_response(
    kind: str,
    items: list[dict[str, Any]],
    *,
    total: int,
    per_page: int,
    next_token: str | None = None,
    prev_token: str | None = None,
    keep_empty_items: bool = True,
) -> dict[str, Any]:
    """A ``youtube#...ListResponse`` envelope in the real key order."""
    out: dict[str, Any] = {"kind": f"youtube#{kind}ListResponse", "etag": etag(items)}
    if next_token:
        out["nextPageToken"] = next_token
    if prev_token:
        out["prevPageToken"] = prev_token
    if items or keep_empty_items:
        out["items"] = items
    out["pageInfo"] = {"totalResults": total, "resultsPerPage": per_page}
    return out


def _page(
    items: Iterable[Any], offset: int, size: int, fingerprint: str
) -> tuple[list[Any], str | None, str | None]:
    """(items of the page, next token, previous token) of a list read from ``offset``."""
    taken = list(islice(items, offset, offset + size + 1))
    next_token = encode_page_token(offset + size, fingerprint) if len(taken) > size else None
    prev_token = encode_page_token(max(0, offset - size), fingerprint) if offset else None
    return taken[:size], next_token, prev_token


# --- the API ---------------------------------------------------------------------------------


class YouTubeApi:
    """Answers YouTube Data API v3 requests from a ``World``."""

    def __init__(
        self,
        world: World,
        *,
        daily_quota: int = DAILY_QUOTA,
        modes: frozenset[str] = frozenset(),
    ) -> None:
        self.world = world
        self.yt: YouTubeWorld = youtube_world(world)
        self.modes = modes
        self.daily_quota = daily_quota
        self._spent: dict[tuple[str, date], int] = {}
        self._lock = threading.Lock()

    @staticmethod
    def handles(path: str) -> bool:
        return path.startswith(PREFIX)

    def avatars(self) -> Iterable[Avatar]:
        """Every size of the channels' ``snippet.thumbnails``, for the media server."""
        for channel in self.yt.channels():
            thumbnails = _channel_thumbnails(_image_key("channel", channel.channel_id))
            for thumbnail in thumbnails.values():
                yield Avatar(thumbnail["url"], channel.account, thumbnail["width"])

    def units_spent(self, credential: str, now: datetime) -> int:
        """Quota units ``credential`` has spent on the Pacific day of ``now``."""
        with self._lock:
            return self._spent.get((credential, pacific_day(now)), 0)

    def respond(self, request: Request, now: datetime) -> Response:
        try:
            method = self._method(request)
            credential = request.credential
            if credential is None:
                raise missing_key()
            if EXPIRED_TOKEN_PREFIX + PLATFORM in self.modes:
                raise key_expired()
            self._charge(credential, now, method.cost)
            payload = self._answer(method, Params(method, request.params), to_ms(now))
        except ApiError as error:
            return error.response()
        if DRIFT in self.modes:
            payload = drift(payload, DRIFT_OPTIONAL, DRIFT_EXTRA, PLATFORM)
        return json_response(200, payload, {"vary": "Origin, X-Origin, Referer"})

    def fault_response(self, fault: Fault, request: Request) -> Response:
        """How YouTube answers when ``fault`` strikes ``request``."""
        if fault.kind == RATE_LIMIT:
            if fault.variant % 2:
                message = "Resource has been exhausted (e.g. check quota)."
                return ApiError(
                    429,
                    message,
                    "rateLimitExceeded",
                    grpc_status="RESOURCE_EXHAUSTED",
                    headers={"retry-after": "1"},
                ).response()
            message = "Rate Limit Exceeded"
            return ApiError(403, message, "rateLimitExceeded", "usageLimits").response()
        if fault.kind == SERVER_ERROR:
            if fault.variant % 2:
                message = "The service is currently unavailable."
                return ApiError(503, message, "backendError", grpc_status="UNAVAILABLE").response()
            return ApiError(500, "Backend Error", "backendError").response()
        raise ValueError(f"YouTube cannot render fault kind {fault.kind!r}")

    # plumbing

    @staticmethod
    def _method(request: Request) -> Method:
        name = request.path[len(PREFIX) :].strip("/")
        method = METHODS.get(name)
        if method is None or request.method != "GET":
            raise method_not_found()
        return method

    def _charge(self, credential: str, now: datetime, cost: int) -> None:
        key = (credential, pacific_day(now))
        with self._lock:
            spent = self._spent.get(key, 0)
            if spent + cost > self.daily_quota:
                raise quota_exceeded()
            self._spent[key] = spent + cost

    def _answer(self, method: Method, params: Params, now_ms: int) -> dict[str, Any]:
        parts = params.check()
        answer: Callable[[Params, frozenset[str], int], dict[str, Any]] = {
            "channels": self.channels,
            "playlistItems": self.playlist_items,
            "videos": self.videos,
            "commentThreads": self.comment_threads,
            "comments": self.comments,
        }[method.name]
        return answer(params, parts, now_ms)

    # channels.list

    def channels(self, params: Params, parts: frozenset[str], now_ms: int) -> dict[str, Any]:
        name, value = params.one_filter()
        per_page = params.size()
        if name == "id":
            found = [self.yt.channel_by_id(i) for i in params.ids("id", value)]
        elif name == "forHandle":
            found = [self.yt.channel_by_handle(value)]
        else:
            found = []  # legacy usernames: the missions' channels have none
        channels = list({c.channel_id: c for c in found if c and c.visible_at(now_ms)}.values())
        items = [self.channel_resource(c, parts, now_ms) for c in channels]
        return list_response(
            "channel", items, total=len(items), per_page=per_page, keep_empty_items=False
        )

    def channel_resource(
        self, channel: Channel, parts: frozenset[str], now_ms: int
    ) -> dict[str, Any]:
        account = channel.account
        thumbnails = _channel_thumbnails(_image_key("channel", channel.channel_id))
        country = account.spec.country_code or None
        builders: dict[str, Callable[[], Any]] = {
            "snippet": lambda: {
                "title": account.display_name,
                "description": account.description,
                "customUrl": channel.custom_url,
                "publishedAt": iso(channel.created_ms),
                "thumbnails": thumbnails,
                "localized": {"title": account.display_name, "description": account.description},
                **({"country": country} if country else {}),
            },
            "contentDetails": lambda: {
                "relatedPlaylists": {"likes": "", "uploads": channel.uploads_playlist}
            },
            "statistics": lambda: self._channel_statistics(channel, now_ms),
            "brandingSettings": lambda: {
                "channel": {
                    "title": account.display_name,
                    "description": account.description,
                    "keywords": channel.keywords,
                    **({"country": country} if country else {}),
                },
                "image": {
                    "bannerExternalUrl": "https://yt3.googleusercontent.com/"
                    + _image_key("banner", channel.channel_id)
                },
            },
            "status": lambda: {
                "privacyStatus": "public",
                "isLinked": True,
                "longUploadsStatus": "longUploadsUnspecified",
                "madeForKids": False,
            },
            "topicDetails": lambda: {
                "topicCategories": [
                    "https://en.wikipedia.org/wiki/Politics",
                    "https://en.wikipedia.org/wiki/Society",
                ]
            },
        }
        return _resource("channel", channel.channel_id, builders, parts)

    def _channel_statistics(self, channel: Channel, now_ms: int) -> dict[str, Any]:
        stats: dict[str, Any] = {"viewCount": str(self.yt.view_count_at(channel, now_ms))}
        if not channel.hidden_subscribers:
            subscribers = three_significant(self.yt.subscribers_at(channel, now_ms))
            stats["subscriberCount"] = str(subscribers)
        stats["hiddenSubscriberCount"] = channel.hidden_subscribers
        stats["videoCount"] = str(self.yt.video_count_at(channel, now_ms))
        return stats

    # playlistItems.list

    def playlist_items(self, params: Params, parts: frozenset[str], now_ms: int) -> dict[str, Any]:
        _, playlist_id = params.one_filter()
        size = params.size()
        channel = self.yt.channel_by_uploads(playlist_id)
        if channel is None or not channel.visible_at(now_ms):
            message = (
                "The playlist identified with the request's <code>playlistId</code> parameter "
                "cannot be found."
            )
            raise ApiError(
                404, message, "playlistNotFound", "youtube.playlistItem", location="playlistId"
            )
        fingerprint = f"playlistItems|{playlist_id}"
        offset = params.offset(fingerprint)
        videos, next_token, prev_token = _page(
            self.yt.uploads(channel, now_ms), offset, size, fingerprint
        )
        items = [
            self.playlist_item_resource(video, offset + position, parts)
            for position, video in enumerate(videos)
        ]
        return list_response(
            "playlistItem",
            items,
            total=self.yt.video_count_at(channel, now_ms),
            per_page=size,
            next_token=next_token,
            prev_token=prev_token,
        )

    def playlist_item_resource(
        self, video: Video, position: int, parts: frozenset[str]
    ) -> dict[str, Any]:
        channel = video.channel
        playlist = channel.uploads_playlist
        item_id = base64.b64encode(f"{playlist}.{video.video_id}".encode()).decode().rstrip("=")
        builders: dict[str, Callable[[], Any]] = {
            "snippet": lambda: {
                "publishedAt": iso(video.published_ms),
                "channelId": channel.channel_id,
                "title": video.title,
                "description": video.description,
                "thumbnails": _video_thumbnails(video.video_id),
                "channelTitle": channel.account.display_name,
                "playlistId": playlist,
                "position": position,
                "resourceId": {"kind": "youtube#video", "videoId": video.video_id},
                "videoOwnerChannelTitle": channel.account.display_name,
                "videoOwnerChannelId": channel.channel_id,
            },
            "contentDetails": lambda: {
                "videoId": video.video_id,
                "videoPublishedAt": iso(video.published_ms),
            },
            "status": lambda: {"privacyStatus": "public"},
        }
        return _resource("playlistItem", item_id, builders, parts)

    # videos.list

    def videos(self, params: Params, parts: frozenset[str], now_ms: int) -> dict[str, Any]:
        _, value = params.one_filter()
        ids = params.ids("id", value)
        found = [self.yt.video(i) for i in dict.fromkeys(ids)]
        items = [
            self.video_resource(v, parts, now_ms)
            for v in found
            if v is not None and v.published_ms <= now_ms and v.channel.visible_at(now_ms)
        ]
        return list_response("video", items, total=len(items), per_page=len(items))

    def video_resource(self, video: Video, parts: frozenset[str], now_ms: int) -> dict[str, Any]:
        channel = video.channel
        builders: dict[str, Callable[[], Any]] = {
            "snippet": lambda: {
                "publishedAt": iso(video.published_ms),
                "channelId": channel.channel_id,
                "title": video.title,
                "description": video.description,
                "thumbnails": _video_thumbnails(video.video_id),
                "channelTitle": channel.account.display_name,
                **({"tags": list(video.tags)} if video.tags else {}),
                "categoryId": video.category_id,
                "liveBroadcastContent": "none",
                "localized": {"title": video.title, "description": video.description},
                "defaultAudioLanguage": video.language,
            },
            "contentDetails": lambda: {
                "duration": iso_duration(video.duration_s),
                "dimension": "2d",
                "definition": "hd",
                "caption": "false",
                "licensedContent": False,
                "contentRating": {},
                "projection": "rectangular",
            },
            "statistics": lambda: self._video_statistics(video, now_ms),
            "status": lambda: {
                "uploadStatus": "processed",
                "privacyStatus": "public",
                "license": "youtube",
                "embeddable": True,
                "publicStatsViewable": True,
                "madeForKids": False,
            },
            "player": lambda: {
                "embedHtml": f'<iframe width="480" height="270" src="//www.youtube.com/embed/'
                f'{video.video_id}" frameborder="0" allow="accelerometer; autoplay; '
                'clipboard-write; encrypted-media; gyroscope; picture-in-picture; web-share" '
                'referrerpolicy="strict-origin-when-cross-origin" allowfullscreen></iframe>'
            },
        }
        return _resource("video", video.video_id, builders, parts)

    def _video_statistics(self, video: Video, now_ms: int) -> dict[str, str]:
        stats = self.yt.video_stats(video, now_ms)
        out = {
            "viewCount": str(stats.views),
            "likeCount": str(stats.likes),
            "favoriteCount": "0",
        }
        if not video.comments_disabled:
            out["commentCount"] = str(stats.comments)
        return out

    # commentThreads.list

    def comment_threads(self, params: Params, parts: frozenset[str], now_ms: int) -> dict[str, Any]:
        name, value = params.one_filter()
        text_format = params.choice("textFormat", ("html", "plainText"))
        if name == "id":
            found = [self.yt.thread(i) for i in params.ids("id", value)]
            pairs = [f for f in found if f is not None and _visible(f[0], f[1].top, now_ms)]
            items = [self.thread_resource(v, t, parts, text_format, now_ms) for v, t in pairs]
            return list_response("commentThread", items, total=len(items), per_page=len(items))
        size = params.size()
        order = params.choice("order", ("time", "relevance"))
        video = self.yt.video(value)
        if video is None or video.published_ms > now_ms or not video.channel.visible_at(now_ms):
            raise _not_found(
                "commentThreads", "videoId", "video", "videoNotFound", "youtube.commentThread"
            )
        if video.comments_disabled:
            raise comments_disabled()
        threads = [t for t in self.yt.threads_of(video) if t.top.created_ms <= now_ms]
        threads.sort(key=lambda t: (t.top.created_ms, t.thread_id), reverse=True)
        if order == "relevance":
            threads.sort(key=lambda t: comment_likes_at(t.top, now_ms), reverse=True)
        fingerprint = f"commentThreads|{value}|{order}"
        offset = params.offset(fingerprint)
        shown, next_token, _ = _page(threads, offset, size, fingerprint)
        items = [self.thread_resource(video, t, parts, text_format, now_ms) for t in shown]
        return list_response(
            "commentThread", items, total=len(items), per_page=size, next_token=next_token
        )

    def thread_resource(
        self,
        video: Video,
        thread: Thread,
        parts: frozenset[str],
        text_format: str,
        now_ms: int,
    ) -> dict[str, Any]:
        replies = [r for r in thread.replies if r.created_ms <= now_ms]
        channel_id = video.channel.channel_id
        builders: dict[str, Callable[[], Any]] = {
            "snippet": lambda: {
                "channelId": channel_id,
                "videoId": video.video_id,
                "topLevelComment": self.comment_resource(
                    video, thread.top, frozenset({"snippet"}), text_format, now_ms
                ),
                "canReply": True,
                "totalReplyCount": len(replies),
                "isPublic": True,
            },
        }
        if replies:
            builders["replies"] = lambda: {
                "comments": [
                    self.comment_resource(video, r, frozenset({"snippet"}), text_format, now_ms)
                    for r in replies[:INLINE_REPLIES]
                ]
            }
        return _resource("commentThread", thread.thread_id, builders, parts)

    # comments.list

    def comments(self, params: Params, parts: frozenset[str], now_ms: int) -> dict[str, Any]:
        name, value = params.one_filter()
        text_format = params.choice("textFormat", ("html", "plainText"))
        if name == "id":
            items = [
                self.comment_resource(video, comment, parts, text_format, now_ms)
                for video, comment in self._comments_by_id(params.ids("id", value), now_ms)
            ]
            return list_response("comment", items, total=len(items), per_page=len(items))
        size = params.size()
        found = self.yt.thread(value)
        if found is None or not _visible(found[0], found[1].top, now_ms):
            raise _not_found(
                "comments", "parentId", "comment", "commentNotFound", "youtube.comment"
            )
        video, thread = found
        replies = [r for r in thread.replies if r.created_ms <= now_ms]
        fingerprint = f"comments|{value}"
        offset = params.offset(fingerprint)
        shown, next_token, _ = _page(replies, offset, size, fingerprint)
        items = [self.comment_resource(video, r, parts, text_format, now_ms) for r in shown]
        return list_response(
            "comment", items, total=len(items), per_page=size, next_token=next_token
        )

    def _comments_by_id(self, ids: Sequence[str], now_ms: int) -> list[tuple[Video, VideoComment]]:
        found = []
        for comment_id in ids:
            located = self.yt.thread(comment_id.split(".")[0])
            if located is None:
                continue
            video, thread = located
            for comment in (thread.top, *thread.replies):
                if comment.comment_id == comment_id and comment.created_ms <= now_ms:
                    found.append((video, comment))
        return found

    def comment_resource(
        self,
        video: Video,
        comment: VideoComment,
        parts: frozenset[str],
        text_format: str,
        now_ms: int,
    ) -> dict[str, Any]:
        channel = video.channel
        if comment.author is None:
            name, author_id = channel.custom_url, channel.channel_id
        else:
            name, author_id = audience_handle(comment.author), audience_channel_id(comment.author)
        updated = comment.updated_ms if comment.updated_ms <= now_ms else comment.created_ms

        def snippet() -> dict[str, Any]:
            out: dict[str, Any] = {
                "channelId": channel.channel_id,
                "videoId": video.video_id,
                "textDisplay": text_display(comment.text, text_format),
                "textOriginal": comment.text,
            }
            if comment.parent_id is not None:
                out["parentId"] = comment.parent_id
            out.update(
                authorDisplayName=name,
                authorProfileImageUrl="https://yt3.ggpht.com/ytc/"
                + _image_key("author", author_id)
                + "=s48-c-k-c0x00ffffff-no-rj",
                authorChannelUrl=f"http://www.youtube.com/{name}",
                authorChannelId={"value": author_id},
                canRate=True,
                viewerRating="none",
                likeCount=comment_likes_at(comment, now_ms),
                publishedAt=iso(comment.created_ms),
                updatedAt=iso(updated),
            )
            return out

        return _resource("comment", comment.comment_id, {"snippet": snippet}, parts)


def _resource(
    kind: str, resource_id: str, builders: Mapping[str, Callable[[], Any]], parts: frozenset[str]
) -> dict[str, Any]:
    """``kind``, ``etag``, ``id`` and the requested parts (in the order YouTube lists them)."""
    body = {name: build() for name, build in builders.items() if name in parts}
    return {"kind": f"youtube#{kind}", "etag": etag([resource_id, body]), "id": resource_id, **body}


def _visible(video: Video, comment: VideoComment, now_ms: int) -> bool:
    return comment.created_ms <= now_ms and video.channel.visible_at(now_ms)


def pacific_day(now: datetime) -> date:
    """The day YouTube's quota is counted on: midnight to midnight Pacific time."""
    return now.astimezone(PACIFIC).date()
