"""X API v2 on top of the simulated world: paths, parameters, objects, errors, limits.

Served endpoints (app-only bearer auth):

- ``GET /2/users/by`` (``usernames``, at most 100),
- ``GET /2/users/:id/tweets`` (``max_results`` 5-100, ``start_time``/``end_time``,
  ``since_id``/``until_id``, ``exclude``, ``pagination_token``; only the latest 3,200
  posts and replies are reachable),
- ``GET /2/tweets/search/recent`` (last 7 days) and ``GET /2/tweets/search/all`` (full
  archive, Pro access), queries as in ``x_query``.

Responses follow X's: ``data`` / ``includes`` / ``meta`` / ``errors`` envelopes, the default
fields (``id``, ``text``, ``edit_history_tweet_ids``; ``id``, ``name``, ``username``) plus
those requested, RFC 7807-style error bodies, ``x-rate-limit-*`` headers on every
authenticated answer. Links in texts and bios are wrapped as ``https://t.co/...`` with the
original in ``entities``; replies start with the ``@username`` they answer. A search for a
conversation returns its replies, not the post that started it.

Post ids are snowflakes: creation time in the high bits and, for original posts, the
account's slot and the post's index in its day in the low 22 bits, so a conversation id
leads back to its post without a lookup table.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any

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
from missionpulse.simulator.ratelimit import RateLimiter
from missionpulse.simulator.world import (
    DAY_MS,
    MAX_POSTS_PER_DAY,
    SLOT_BITS,
    Account,
    AudienceUser,
    Comment,
    Post,
    PostRef,
    World,
    day_of,
    day_start_ms,
    from_ms,
    saturating,
    stable_int,
    to_ms,
)
from missionpulse.simulator.x_query import QuerySyntaxError, Scope, Tweet, parse_query

PLATFORM = "x"
TWITTER_EPOCH_MS = 1_288_834_974_657
TIMELINE_REACH = 3_200
RECENT_SEARCH_DAYS = 7
ARCHIVE_SEARCH_DEFAULT_DAYS = 30
ARCHIVE_START = datetime(2006, 3, 21, tzinfo=UTC)
END_TIME_MARGIN = timedelta(seconds=10)
SEARCH_DEFAULT_END_LAG_MS = 30_000

USERS_BY = "/2/users/by"
USER_TWEETS = "/2/users/:id/tweets"
SEARCH_RECENT = "/2/tweets/search/recent"
SEARCH_ALL = "/2/tweets/search/all"
# Requests per 15 minutes per token: about ten times X's Pro app limits, so normal runs
# never meet them; make_server(x_rate_limits=...) lowers them.
DEFAULT_RATE_LIMITS: Mapping[str, int] = {
    USERS_BY: 3_000,
    USER_TWEETS: 15_000,
    SEARCH_RECENT: 4_500,
    SEARCH_ALL: 3_000,
}


def _names(text: str) -> tuple[str, ...]:
    return tuple(text.split(","))


# The values X accepts, in the order its error messages list them.
TWEET_FIELDS = _names(
    "article,attachments,author_id,card_uri,community_id,context_annotations,conversation_id,"
    "created_at,display_text_range,edit_controls,edit_history_tweet_ids,entities,geo,id,"
    "in_reply_to_user_id,lang,media_metadata,non_public_metrics,note_tweet,organic_metrics,"
    "possibly_sensitive,promoted_metrics,public_metrics,referenced_tweets,reply_settings,"
    "scopes,source,text,withheld"
)
USER_FIELDS = _names(
    "affiliation,connection_status,created_at,description,entities,id,is_identity_verified,"
    "location,most_recent_tweet_id,name,parody,pinned_tweet_id,profile_banner_url,"
    "profile_image_url,protected,public_metrics,receives_your_dm,subscription,"
    "subscription_type,url,username,verified,verified_followers_count,verified_type,withheld"
)
TWEET_EXPANSIONS = _names(
    "article.cover_media,article.media_entities,attachments.media_keys,"
    "attachments.media_source_tweet,attachments.poll_ids,author_id,edit_history_tweet_ids,"
    "entities.mentions.username,geo.place_id,in_reply_to_user_id,"
    "entities.note.mentions.username,referenced_tweets.id,"
    "referenced_tweets.id.attachments.media_keys,referenced_tweets.id.author_id"
)
USER_EXPANSIONS = _names("affiliation.user_id,most_recent_tweet_id,pinned_tweet_id")
MEDIA_FIELDS = _names(
    "alt_text,duration_ms,height,media_key,non_public_metrics,organic_metrics,"
    "preview_image_url,promoted_metrics,public_metrics,type,url,variants,width"
)
POLL_FIELDS = _names("duration_minutes,end_datetime,id,options,voting_status")
PLACE_FIELDS = _names("contained_within,country,country_code,full_name,geo,id,name,place_type")
_FIELD_PARAMS = _names("expansions,tweet.fields,media.fields,poll.fields,place.fields,user.fields")
_SEARCH_PARAMS = (
    *_names("query,start_time,end_time,since_id,until_id,max_results,next_token"),
    *_names("pagination_token,sort_order"),
    *_FIELD_PARAMS,
)
ALLOWED_PARAMS: Mapping[str, tuple[str, ...]] = {
    USERS_BY: _names("usernames,expansions,tweet.fields,user.fields"),
    USER_TWEETS: (
        *_names("id,since_id,until_id,max_results,pagination_token,exclude,start_time,end_time"),
        *_FIELD_PARAMS,
    ),
    SEARCH_RECENT: _SEARCH_PARAMS,
    SEARCH_ALL: _SEARCH_PARAMS,
}
_LIST_PARAMS: Mapping[str, tuple[str, ...]] = {
    "tweet.fields": TWEET_FIELDS,
    "user.fields": USER_FIELDS,
    "media.fields": MEDIA_FIELDS,
    "poll.fields": POLL_FIELDS,
    "place.fields": PLACE_FIELDS,
    "exclude": ("replies", "retweets"),
    "sort_order": ("recency", "relevancy"),
}

_ID = re.compile(r"[0-9]{1,19}")
_USERNAME = re.compile(r"[A-Za-z0-9_]{1,15}")
_RFC3339 = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})")
_URL = re.compile(r"https?://\S+")
_HASHTAG = re.compile(r"(?<![\w#])#(\w+)")
_MENTION = re.compile(r"(?<![\w@])@(\w{1,15})")
# X's detector rarely recognises Urdu in Latin script: mostly "und", sometimes a guess.
_ROMAN_URDU_TAGS = ("und", "und", "und", "und", "und", "hi", "hi", "hi", "in", "tl")

INVALID_REQUEST = "https://api.twitter.com/2/problems/invalid-request"
NOT_FOUND = "https://api.twitter.com/2/problems/resource-not-found"
UNAUTHORIZED_BODY = {
    "title": "Unauthorized",
    "type": "about:blank",
    "status": 401,
    "detail": "Unauthorized",
}
TOO_MANY_REQUESTS_BODY = {
    "title": "Too Many Requests",
    "detail": "Too Many Requests",
    "type": "about:blank",
    "status": 429,
}
PAGE_NOT_FOUND_BODY = {"errors": [{"message": "Sorry, that page does not exist", "code": 34}]}
BAD_GATEWAY_HTML = (
    b"<html><head><title>502 Bad Gateway</title></head><body><h1>Bad Gateway</h1></body></html>"
)


# --- errors ----------------------------------------------------------------------------------


# Schema drift (mode ``drift``): optional fields X may leave out, fields it may add.
DRIFT_OPTIONAL = frozenset(
    {"lang", "entities", "referenced_tweets", "description", "url", "location", "verified"}
)
DRIFT_EXTRA = {"possibly_sensitive": False, "withheld": {"copyright": False, "country_codes": []}}


class InvalidRequest(Exception):
    """Parameters were wrong: X answers 400 listing every problem."""

    def __init__(self, errors: list[dict[str, Any]]) -> None:
        super().__init__(errors)
        self.errors = errors

    @classmethod
    def one(cls, name: str, value: str, message: str) -> InvalidRequest:
        return cls([_param_error(name, value, message)])

    def body(self) -> dict[str, Any]:
        return {
            "errors": self.errors,
            "title": "Invalid Request",
            "detail": "One or more parameters to your request was invalid.",
            "type": INVALID_REQUEST,
        }


def _param_error(name: str, value: str, message: str) -> dict[str, Any]:
    return {"parameters": {name: [value]}, "message": message}


def _not_one_of(name: str, value: str, valid: Sequence[str]) -> dict[str, Any]:
    message = f"The `{name}` query parameter value [{value}] is not one of [{','.join(valid)}]"
    return _param_error(name, value, message)


def _no_match(name: str, value: str, pattern: str) -> InvalidRequest:
    message = f"The `{name}` query parameter value [{value}] does not match {pattern}"
    return InvalidRequest.one(name, value, message)


def _query_error(query: str, message: str, position: int) -> InvalidRequest:
    text = f"There were errors processing your request: {message} (at position {position})"
    return InvalidRequest.one("query", query, text)


def _not_found(parameter: str, value: str, detail: str) -> dict[str, Any]:
    return {
        "value": value,
        "detail": detail,
        "title": "Not Found Error",
        "resource_type": "user",
        "parameter": parameter,
        "resource_id": value,
        "type": NOT_FOUND,
    }


def _client_forbidden(token: str) -> dict[str, Any]:
    return {
        "client_id": str(stable_int("client", token) % 10**8),
        "detail": "When authenticating requests to the Twitter API v2 endpoints, you must use "
        "keys and tokens from a Twitter developer App that is attached to a Project. You can "
        "create a project via the developer portal.",
        "registration_url": "https://developer.twitter.com/en/docs/projects/overview",
        "title": "Client Forbidden",
        "required_enrollment": "Appropriate Level of API Access",
        "reason": "client-not-enrolled",
        "type": "https://api.twitter.com/2/problems/client-forbidden",
    }


# --- ids, times, texts -----------------------------------------------------------------------


def post_id(ref: PostRef) -> str:
    """The snowflake of an original post: time, then the account's slot and day index."""
    return str(((ref.created_ms - TWITTER_EPOCH_MS) << 22) | (ref.slot << 6) | ref.seq)


def comment_id(comment: Comment) -> str:
    """The snowflake of a reply: time, then a marker bit and the comment's random key."""
    return str(((comment.created_ms - TWITTER_EPOCH_MS) << 22) | (1 << 21) | comment.key)


def decode_post_id(value: str) -> PostRef | None:
    """The post a snowflake names, when it has the shape of an original post's id."""
    number = int(value)
    low = number & ((1 << 22) - 1)
    if low >> 21 or (low & 0x3F) >= MAX_POSTS_PER_DAY:
        return None
    slot = (low >> 6) & ((1 << SLOT_BITS) - 1)
    return PostRef(PLATFORM, slot, (number >> 22) + TWITTER_EPOCH_MS, low & 0x3F)


def tweet_of_post(post: Post) -> Tweet:
    own_id = post_id(post.ref)
    return Tweet(int(own_id), post.created_ms, post, None, own_id)


def tweet_of_comment(post: Post, comment: Comment) -> Tweet:
    return Tweet(int(comment_id(comment)), comment.created_ms, post, comment, post_id(post.ref))


def iso(ms: int) -> str:
    """X's timestamp format: ``2025-01-02T03:04:05.000Z``."""
    return from_ms(ms).strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"


def _minute(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%MZ")


def wire_lang(comment: Comment) -> str:
    """The ``lang`` X's detector gives a comment of the intended ``comment.language``."""
    if comment.language == "ur-Latn":
        return _ROMAN_URDU_TAGS[comment.key % len(_ROMAN_URDU_TAGS)]
    if comment.language == "zxx":
        return "art"
    return comment.language


def _tco(seed: str, url: str) -> str:
    number = stable_int("t.co", seed, url)
    alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
    return "https://t.co/" + "".join(alphabet[(number >> (6 * i)) % 62] for i in range(10))


def _url_entity(start: int, short: str, url: str) -> dict[str, Any]:
    bare = re.sub(r"^https?://(www\.)?", "", url)
    display = bare if len(bare) <= 26 else bare[:25] + "\u2026"
    return {
        "start": start,
        "end": start + len(short),
        "url": short,
        "expanded_url": url,
        "display_url": display,
    }


def render_text(seed: str, text: str, known_users: Mapping[str, str]) -> tuple[str, dict[str, Any]]:
    """The text as X shows it (links wrapped in t.co) and its ``entities`` object."""
    urls: list[dict[str, Any]] = []
    shown = ""
    position = 0
    for match in _URL.finditer(text):
        shown += text[position : match.start()]
        short = _tco(seed, match.group())
        urls.append(_url_entity(len(shown), short, match.group()))
        shown += short
        position = match.end()
    shown += text[position:]
    hashtags = [
        {"start": m.start(), "end": m.end(), "tag": m.group(1)} for m in _HASHTAG.finditer(shown)
    ]
    mentions = []
    for m in _MENTION.finditer(shown):
        mention: dict[str, Any] = {"start": m.start(), "end": m.end(), "username": m.group(1)}
        if m.group(1).lower() in known_users:
            mention["id"] = known_users[m.group(1).lower()]
        mentions.append(mention)
    found = {"hashtags": hashtags, "mentions": mentions, "urls": urls}
    return shown, {key: values for key, values in found.items() if values}


def _profile_image(uid: str) -> str:
    digest = hashlib.blake2b(uid.encode(), digest_size=6).hexdigest()
    folder = stable_int("avatar", uid) % 10**18
    return f"https://pbs.twimg.com/profile_images/{folder}/{digest}_normal.jpg"


# --- parameters ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Fields:
    tweet: frozenset[str]
    user: frozenset[str]
    expansions: frozenset[str]


class Params:
    """A request's query parameters, read and validated the way X does."""

    def __init__(self, values: Mapping[str, list[str]]) -> None:
        self.values = values

    def get(self, name: str) -> str | None:
        found = self.values.get(name)
        return found[-1] if found else None

    def check_names(self, endpoint: str, path_params: Mapping[str, str]) -> None:
        """Unknown parameters, then unknown values of list parameters, all reported at once."""
        allowed = ALLOWED_PARAMS[endpoint]
        errors = [
            _param_error(
                name,
                values[-1],
                f"The query parameter [{name}] is not one of [{','.join(allowed)}]",
            )
            for name, values in self.values.items()
            if name not in allowed or name in path_params
        ]
        expansions = USER_EXPANSIONS if endpoint == USERS_BY else TWEET_EXPANSIONS
        for name, valid in {**_LIST_PARAMS, "expansions": expansions}.items():
            value = self.get(name)
            if value is not None and name in allowed:
                errors.extend(
                    _not_one_of(name, v, valid) for v in value.split(",") if v not in valid
                )
        if errors:
            raise InvalidRequest(errors)

    def fields(self) -> Fields:
        def items(name: str) -> frozenset[str]:
            value = self.get(name)
            return frozenset(value.split(",")) if value else frozenset()

        return Fields(items("tweet.fields"), items("user.fields"), items("expansions"))

    def integer(self, name: str, low: int, high: int, default: int) -> int:
        value = self.get(name)
        if value is None:
            return default
        if not value.isdigit() or not low <= int(value) <= high:
            message = (
                f"The `{name}` query parameter value [{value}] is not between {low} and {high}"
            )
            raise InvalidRequest.one(name, value, message)
        return int(value)

    def time(self, name: str) -> datetime | None:
        value = self.get(name)
        if value is None:
            return None
        if _RFC3339.fullmatch(value):
            text = re.sub(r"(\.\d{6})\d+", r"\1", value).replace("Z", "+00:00")
            try:
                return datetime.fromisoformat(text).astimezone(UTC)
            except ValueError:
                pass
        message = f"The `{name}` query parameter value [{value}] is not a valid RFC3339 date-time"
        raise InvalidRequest.one(name, value, message)

    def snowflake(self, name: str) -> int | None:
        value = self.get(name)
        if value is None:
            return None
        if not _ID.fullmatch(value):
            raise _no_match(name, value, "^[0-9]{1,19}$")
        return int(value)

    def window(self) -> tuple[datetime | None, datetime | None]:
        start, end = self.time("start_time"), self.time("end_time")
        if start is not None and end is not None and start >= end:
            message = (
                f"Invalid 'start_time':'{_minute(start)}'. 'start_time' must be before "
                f"'end_time':'{_minute(end)}'"
            )
            raise InvalidRequest.one("start_time", _minute(start), message)
        return start, end

    def fingerprint(self, *parts: str) -> str:
        """What a pagination token is bound to: the question, not the page size or fields."""
        bounds = ("start_time", "end_time", "since_id", "until_id", "exclude")
        return "|".join([*parts, *(self.get(name) or "" for name in bounds)])

    def cursor(self, name: str, fingerprint: str) -> int | None:
        token = self.get(name)
        if token is None:
            return None
        cursor = decode_cursor(token, fingerprint)
        if cursor is None:
            message = f"The `{name}` query parameter value [{token}] is not valid"
            raise InvalidRequest.one(name, token, message)
        return cursor


def encode_cursor(cursor_id: int, fingerprint: str) -> str:
    """An opaque lower-case token carrying the last id served, bound to the question."""
    tag = hashlib.blake2b(f"{cursor_id}|{fingerprint}".encode(), digest_size=16).digest()
    number = (cursor_id << 128) | int.from_bytes(tag, "big")
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    out = ""
    while number:
        number, rest = divmod(number, 36)
        out = digits[rest] + out
    return out


def decode_cursor(token: str, fingerprint: str) -> int | None:
    try:
        cursor_id = int(token, 36) >> 128
    except ValueError:
        return None
    return cursor_id if encode_cursor(cursor_id, fingerprint) == token.lower() else None


@dataclass(frozen=True)
class Bounds:
    """Which ids a page may hold: below the cursor and until_id, above since_id."""

    cursor: int | None
    since_id: int | None
    until_id: int | None

    def too_new(self, tweet_id: int) -> bool:
        return any(
            limit is not None and tweet_id >= limit for limit in (self.cursor, self.until_id)
        )

    def too_old(self, tweet_id: int) -> bool:
        return self.since_id is not None and tweet_id <= self.since_id


def _take_page(tweets: Iterator[Tweet] | Sequence[Tweet], bounds: Bounds, size: int) -> list[Tweet]:
    """Up to ``size + 1`` tweets (newest first) within ``bounds``: one more tells of a next page."""
    page: list[Tweet] = []
    for tweet in tweets:
        if bounds.too_new(tweet.id):
            continue
        if bounds.too_old(tweet.id):
            break
        page.append(tweet)
        if len(page) > size:
            break
    return page


# --- the API ---------------------------------------------------------------------------------


class XApi:
    """Answers X API v2 requests from a ``World``."""

    def __init__(
        self,
        world: World,
        *,
        full_archive: bool = True,
        rate_limits: Mapping[str, int] | None = None,
        limiter: RateLimiter | None = None,
        modes: frozenset[str] = frozenset(),
    ) -> None:
        self.world = world
        self.modes = modes
        self.full_archive = full_archive
        self.rate_limits = {**DEFAULT_RATE_LIMITS, **(rate_limits or {})}
        self.limiter = limiter or RateLimiter()
        self._known_users = {a.handle.lower(): a.uid for a in world.accounts(PLATFORM)}
        self._search_matches = lru_cache(maxsize=512)(self._find_matches)

    @staticmethod
    def handles(path: str) -> bool:
        return path.startswith("/2/")

    def avatars(self) -> Iterator[Avatar]:
        """The missions' ``profile_image_url``s (``_normal``: 48 x 48), for the media server."""
        for account in self.world.accounts(PLATFORM):
            yield Avatar(_profile_image(account.uid), account, 48)

    def respond(self, request: Request, now: datetime) -> Response:
        endpoint, path_params = _route(request)
        if endpoint is None:
            return json_response(404, PAGE_NOT_FOUND_BODY)
        token = request.bearer_token
        if token is None or EXPIRED_TOKEN_PREFIX + PLATFORM in self.modes:
            return json_response(401, UNAUTHORIZED_BODY)
        quota = self.limiter.take(token, endpoint, self.rate_limits[endpoint])
        headers = {
            "x-rate-limit-limit": str(quota.limit),
            "x-rate-limit-remaining": str(quota.remaining),
            "x-rate-limit-reset": str(quota.reset_epoch_s),
        }
        if not quota.allowed:
            return json_response(429, TOO_MANY_REQUESTS_BODY, headers)
        params = Params(request.params)
        try:
            params.check_names(endpoint, path_params)
            status, payload = self._answer(endpoint, params, path_params, to_ms(now), token)
        except InvalidRequest as invalid:
            status, payload = 400, invalid.body()
        if DRIFT in self.modes and status == 200:
            payload = drift(payload, DRIFT_OPTIONAL, DRIFT_EXTRA, PLATFORM)
        return json_response(status, payload, headers)

    def fault_response(self, fault: Fault, request: Request) -> Response:
        """How X answers when ``fault`` strikes ``request``."""
        endpoint, _ = _route(request)
        if fault.kind == RATE_LIMIT:
            reset = int(datetime.now(UTC).timestamp()) + 1 + fault.variant % 2
            headers = {
                "x-rate-limit-limit": str(self.rate_limits.get(endpoint or "", 0)),
                "x-rate-limit-remaining": "0",
                "x-rate-limit-reset": str(reset),
            }
            return json_response(429, TOO_MANY_REQUESTS_BODY, headers)
        if fault.kind == SERVER_ERROR:
            status = (500, 502, 503)[fault.variant % 3]
            if status == 502:
                return Response(502, BAD_GATEWAY_HTML, {"content-type": "text/html"})
            title = "Internal Server Error" if status == 500 else "Service Unavailable"
            body = {"title": title, "detail": title, "type": "about:blank", "status": status}
            return json_response(status, body)
        raise ValueError(f"X cannot render fault kind {fault.kind!r}")

    def _answer(
        self,
        endpoint: str,
        params: Params,
        path_params: Mapping[str, str],
        now_ms: int,
        token: str,
    ) -> tuple[int, dict[str, Any]]:
        if endpoint == USERS_BY:
            return 200, self.users_by(params, now_ms)
        if endpoint == USER_TWEETS:
            return 200, self.user_tweets(path_params["id"], params, now_ms)
        if endpoint == SEARCH_ALL and not self.full_archive:
            return 403, _client_forbidden(token)
        return 200, self.search(endpoint, params, now_ms)

    # users/by

    def users_by(self, params: Params, now_ms: int) -> dict[str, Any]:
        value = params.get("usernames") or ""
        if not value:
            message = "The `usernames` query parameter can not be empty"
            raise InvalidRequest.one("usernames", value, message)
        names = value.split(",")
        if len(names) > 100:
            message = (
                f"The number of values in the `usernames` query parameter list [{len(names)}] "
                "is not between 1 and 100"
            )
            raise InvalidRequest.one("usernames", value, message)
        for name in names:
            if not _USERNAME.fullmatch(name):
                raise _no_match("usernames", name, "^[A-Za-z0-9_]{1,15}$")
        fields = params.fields()
        data, errors, seen = [], [], set()
        for name in names:
            if name.lower() in seen:
                continue
            seen.add(name.lower())
            account = self.world.account_by_handle(PLATFORM, name)
            if account is not None and account.visible_at(now_ms):
                data.append(self.account_object(account, fields.user, now_ms))
            else:
                detail = f"Could not find user with usernames: [{name}]."
                errors.append(_not_found("usernames", name, detail))
        return {key: value for key, value in (("data", data), ("errors", errors)) if value}

    # users/:id/tweets

    def user_tweets(self, user_id: str, params: Params, now_ms: int) -> dict[str, Any]:
        if not _ID.fullmatch(user_id):
            raise _no_match("id", user_id, "^[0-9]{1,19}$")
        size = params.integer("max_results", 5, 100, 10)
        start, end = params.window()
        bounds = Bounds(None, params.snowflake("since_id"), params.snowflake("until_id"))
        exclude_replies = "replies" in (params.get("exclude") or "").split(",")
        account = self.world.account_by_uid(PLATFORM, user_id)
        if account is None or not account.visible_at(now_ms):
            detail = f"Could not find user with id: [{user_id}]."
            return {"errors": [_not_found("id", user_id, detail)]}
        fingerprint = params.fingerprint(USER_TWEETS, user_id)
        bounds = Bounds(
            params.cursor("pagination_token", fingerprint), bounds.since_id, bounds.until_id
        )
        lower_ms = to_ms(start) if start else account.created_ms
        upper_ms = min(now_ms, to_ms(end) - 1) if end else now_ms
        floor_id = self._reach_floor(account, now_ms, lower_ms)
        reachable = (
            tweet
            for tweet in self._timeline(account, upper_ms, lower_ms)
            if (floor_id is None or tweet.id >= floor_id)
            and not (exclude_replies and tweet.comment is not None)
        )
        return self._page(_take_page(reachable, bounds, size), size, fingerprint, params, now_ms)

    def _timeline(self, account: Account, upper_ms: int, lower_ms: int) -> Iterator[Tweet]:
        """The account's posts and replies created in [lower_ms, upper_ms], newest first."""
        lower_ms = max(lower_ms, account.created_ms)
        day = day_of(upper_ms)
        while day_start_ms(day) + DAY_MS > lower_ms:
            tweets = [tweet_of_post(p) for p in self.world.posts_on(account, day)]
            for answer in self.world.answers_on(account, day):
                post = self.world.post(answer.post)
                if post is not None:
                    tweets.append(tweet_of_comment(post, answer))
            for tweet in sorted(tweets, key=lambda t: t.id, reverse=True):
                if lower_ms <= tweet.created_ms <= upper_ms:
                    yield tweet
            day -= timedelta(days=1)

    def _reach_floor(self, account: Account, now_ms: int, lower_ms: int) -> int | None:
        """The oldest id among the latest 3,200, when older ones fall in the asked range."""
        most_per_day = MAX_POSTS_PER_DAY * 4  # posts, and at most three answers on each
        if (now_ms - lower_ms) / DAY_MS * most_per_day < TIMELINE_REACH:
            return None
        for rank, tweet in enumerate(self._timeline(account, now_ms, lower_ms)):
            if rank == TIMELINE_REACH - 1:
                return tweet.id
        return None

    # search

    def search(self, endpoint: str, params: Params, now_ms: int) -> dict[str, Any]:
        recent = endpoint == SEARCH_RECENT
        text = params.get("query") or ""
        if not text:
            message = "The `query` query parameter can not be empty"
            raise InvalidRequest.one("query", text, message)
        max_chars = 512 if recent else 1024
        if len(text) > max_chars:
            message = f"Query length of {len(text)} exceeds the maximum of {max_chars} characters"
            raise _query_error(text, message, max_chars + 1)
        size = params.integer("max_results", 10, 100 if recent else 500, 10)
        start, end = self._search_window(params, recent, from_ms(now_ms))
        bounds = Bounds(None, params.snowflake("since_id"), params.snowflake("until_id"))
        try:
            scope = parse_query(text, self).scope
        except QuerySyntaxError as error:
            raise _query_error(text, error.message, error.position) from None
        if scope is None:
            message = "the simulator answers queries scoped by conversation_id:, from: or to:"
            raise _query_error(text, message, 1)
        fingerprint = params.fingerprint(endpoint, text)
        token_name = "next_token" if "next_token" in params.values else "pagination_token"
        bounds = Bounds(params.cursor(token_name, fingerprint), bounds.since_id, bounds.until_id)
        matches = self._search_matches(text, to_ms(start), to_ms(end) - 1)
        return self._page(_take_page(matches, bounds, size), size, fingerprint, params, now_ms)

    @staticmethod
    def _search_window(params: Params, recent: bool, now: datetime) -> tuple[datetime, datetime]:
        """[start, end) with X's defaults, refusing what X refuses."""
        start, end = params.window()
        earliest = now - timedelta(days=RECENT_SEARCH_DAYS) if recent else ARCHIVE_START
        if start is not None and start < earliest:
            message = (
                f"Invalid 'start_time':'{_minute(start)}'. 'start_time' must be on or after "
                f"{_minute(earliest)}"
            )
            raise InvalidRequest.one("start_time", _minute(start), message)
        if end is not None and end > now - END_TIME_MARGIN:
            message = (
                f"Invalid 'end_time':'{_minute(end)}'. 'end_time' must be a minimum of 10 "
                "seconds prior to the request time."
            )
            raise InvalidRequest.one("end_time", _minute(end), message)
        default_days = RECENT_SEARCH_DAYS if recent else ARCHIVE_SEARCH_DEFAULT_DAYS
        end = end or now - timedelta(milliseconds=SEARCH_DEFAULT_END_LAG_MS)
        return start or max(earliest, end - timedelta(days=default_days)), end

    def _find_matches(self, text: str, lower_ms: int, upper_ms: int) -> tuple[Tweet, ...]:
        """Every tweet matching the query in [lower_ms, upper_ms], newest first; cached,
        because a client paging through results asks the same question page after page."""
        query = parse_query(text, self)
        assert query.scope is not None  # refused before
        candidates = self._candidates(query.scope, lower_ms, upper_ms)
        matches = {t.id: t for t in candidates if query.predicate(t)}
        return tuple(sorted(matches.values(), key=lambda t: t.id, reverse=True))

    def _candidates(self, scope: Scope, lower_ms: int, upper_ms: int) -> Iterator[Tweet]:
        for value in scope.conversations:
            ref = decode_post_id(value)
            post = self.world.post(ref) if ref is not None else None
            if post is None:
                continue
            for comment in self.world.comments_of(post):
                if lower_ms <= comment.created_ms <= upper_ms:
                    yield tweet_of_comment(post, comment)
        for handle in scope.authors:
            account = self.world.account_by_handle(PLATFORM, handle)
            if account is not None:
                yield from self._timeline(account, upper_ms, lower_ms)
        for handle in scope.recipients:
            account = self.world.account_by_handle(PLATFORM, handle)
            day = day_of(lower_ms)
            while account is not None and day_start_ms(day) <= upper_ms:
                for comment in self.world.comments_on(account, day):
                    post = self.world.post(comment.post)
                    in_range = lower_ms <= comment.created_ms <= upper_ms
                    if comment.parent is None and in_range and post is not None:
                        yield tweet_of_comment(post, comment)
                day += timedelta(days=1)

    # pages and objects

    def _page(
        self, tweets: list[Tweet], size: int, fingerprint: str, params: Params, now_ms: int
    ) -> dict[str, Any]:
        if not tweets:
            return {"meta": {"result_count": 0}}
        shown = tweets[:size]
        fields = params.fields()
        meta: dict[str, Any] = {
            "result_count": len(shown),
            "newest_id": str(shown[0].id),
            "oldest_id": str(shown[-1].id),
        }
        if len(tweets) > size:
            meta["next_token"] = encode_cursor(shown[-1].id, fingerprint)
        payload: dict[str, Any] = {
            "data": [self.tweet_object(t, fields.tweet, now_ms) for t in shown]
        }
        users = self._expanded_users(shown, fields, now_ms)
        if users:
            payload["includes"] = {"users": users}
        payload["meta"] = meta
        return payload

    def _expanded_users(
        self, tweets: Sequence[Tweet], fields: Fields, now_ms: int
    ) -> list[dict[str, Any]]:
        recipients = bool({"in_reply_to_user_id", "entities.mentions.username"} & fields.expansions)
        wanted: dict[str, Account | AudienceUser] = {}
        for tweet in tweets:
            if "author_id" in fields.expansions:
                author = self._author(tweet)
                wanted.setdefault(author.uid, author)
            recipient = self._recipient(tweet) if recipients else None
            if recipient is not None:
                wanted.setdefault(recipient.uid, recipient)
        return [
            self.account_object(p, fields.user, now_ms)
            if isinstance(p, Account)
            else self.audience_object(p, fields.user)
            for p in wanted.values()
        ]

    def _account_of(self, tweet: Tweet) -> Account:
        account = self.world.account_by_slot(PLATFORM, tweet.post.ref.slot)
        assert account is not None  # every post belongs to an account
        return account

    def _author(self, tweet: Tweet) -> Account | AudienceUser:
        if tweet.comment is None or tweet.comment.author is None:
            return self._account_of(tweet)
        return tweet.comment.author

    def _recipient(self, tweet: Tweet) -> Account | AudienceUser | None:
        """Whom a reply answers: the mission, or (for the mission's answers) the asker."""
        comment = tweet.comment
        if comment is None:
            return None
        if comment.parent is not None and comment.parent.author is not None:
            return comment.parent.author
        return self._account_of(tweet)

    @staticmethod
    def _username(person: Account | AudienceUser) -> str:
        return person.handle if isinstance(person, Account) else person.username

    def author_username(self, tweet: Tweet) -> str:
        return self._username(self._author(tweet))

    def recipient_username(self, tweet: Tweet) -> str:
        recipient = self._recipient(tweet)
        return "" if recipient is None else self._username(recipient)

    def tweet_text(self, tweet: Tweet) -> str:
        return self._rendered(tweet)[0]

    def tweet_lang(self, tweet: Tweet) -> str:
        return tweet.post.language if tweet.comment is None else wire_lang(tweet.comment)

    def _rendered(self, tweet: Tweet) -> tuple[str, dict[str, Any], int]:
        """(text, entities, where the text starts after the leading @mention)."""
        recipient = self._recipient(tweet)
        if tweet.comment is None or recipient is None:
            text, entities = render_text(str(tweet.id), tweet.post.text, self._known_users)
            return text, entities, 0
        name = self._username(recipient)
        known = {**self._known_users, name.lower(): recipient.uid}
        prefix = f"@{name} "
        text, entities = render_text(str(tweet.id), prefix + tweet.comment.text, known)
        return text, entities, len(prefix)

    def tweet_object(self, tweet: Tweet, fields: frozenset[str], now_ms: int) -> dict[str, Any]:
        text, entities, text_start = self._rendered(tweet)
        own_id = str(tweet.id)
        comment = tweet.comment
        optional: dict[str, Callable[[], Any]] = {
            "author_id": lambda: self._author(tweet).uid,
            "created_at": lambda: iso(tweet.created_ms),
            "conversation_id": lambda: tweet.conversation_id,
            "lang": lambda: self.tweet_lang(tweet),
            "public_metrics": lambda: self._public_metrics(tweet, now_ms),
            "possibly_sensitive": lambda: False,
            "reply_settings": lambda: "everyone",
            "edit_controls": lambda: {
                "edits_remaining": 5,
                "is_edit_eligible": comment is None,
                "editable_until": iso(tweet.created_ms + 3_600_000),
            },
            "display_text_range": lambda: [text_start, len(text)],
        }
        if entities:
            optional["entities"] = lambda: entities
        recipient = self._recipient(tweet)
        if comment is not None and recipient is not None:
            parent = comment.parent
            parent_id = comment_id(parent) if parent is not None else tweet.conversation_id
            optional["in_reply_to_user_id"] = lambda: recipient.uid
            optional["referenced_tweets"] = lambda: [{"type": "replied_to", "id": parent_id}]
        obj: dict[str, Any] = {"id": own_id, "text": text, "edit_history_tweet_ids": [own_id]}
        obj.update((name, optional[name]()) for name in sorted(fields) if name in optional)
        return obj

    def _public_metrics(self, tweet: Tweet, now_ms: int) -> dict[str, int]:
        comment = tweet.comment
        if comment is None:
            m = self.world.post_metrics(tweet.post, now_ms)
            return {
                "retweet_count": m.shares,
                "reply_count": m.comments,
                "like_count": m.likes,
                "quote_count": m.quotes,
                "bookmark_count": m.bookmarks,
                "impression_count": m.views,
            }
        age = now_ms - comment.created_ms
        answered = comment.answer_ms is not None and comment.answer_ms <= now_ms
        return {
            "retweet_count": 0,
            "reply_count": int(answered),
            "like_count": saturating(comment.likes, age, 2.0),
            "quote_count": 0,
            "bookmark_count": 0,
            "impression_count": saturating(comment.views, age, 3.0),
        }

    def account_object(
        self, account: Account, fields: frozenset[str], now_ms: int
    ) -> dict[str, Any]:
        description, description_entities = render_text(
            account.uid, account.description, self._known_users
        )
        website = _tco(account.uid + "/url", account.website) if account.website else ""
        entities: dict[str, Any] = {}
        if account.website:
            entities["url"] = {"urls": [_url_entity(0, website, account.website)]}
        if description_entities:
            entities["description"] = description_entities
        posted = self.world.post_count_estimate(account, now_ms)
        optional: dict[str, Callable[[], Any]] = {
            "created_at": lambda: iso(account.created_ms),
            "description": lambda: description,
            "location": lambda: account.location,
            "profile_image_url": lambda: _profile_image(account.uid),
            "protected": lambda: False,
            "public_metrics": lambda: {
                "followers_count": self.world.followers_at(account, now_ms),
                "following_count": account.following,
                "tweet_count": posted,
                "listed_count": account.listed,
                "like_count": account.following * 7,
                "media_count": posted // 3,
            },
            "url": lambda: website,
            "verified": lambda: account.verified,
            "verified_type": lambda: account.verified_type,
        }
        if entities:
            optional["entities"] = lambda: entities
        pinned = self.world.pinned_post(account, now_ms) if "pinned_tweet_id" in fields else None
        if pinned is not None:
            optional["pinned_tweet_id"] = lambda: post_id(pinned.ref)
        obj: dict[str, Any] = {
            "id": account.uid,
            "name": account.display_name,
            "username": account.handle,
        }
        obj.update((name, optional[name]()) for name in sorted(fields) if name in optional)
        return obj

    @staticmethod
    def audience_object(user: AudienceUser, fields: frozenset[str]) -> dict[str, Any]:
        optional: dict[str, Any] = {
            "created_at": iso(user.created_ms),
            "description": "",
            "location": user.location,
            "profile_image_url": _profile_image(user.uid),
            "protected": False,
            "public_metrics": {
                "followers_count": user.followers,
                "following_count": user.following,
                "tweet_count": user.posts,
                "listed_count": user.followers // 200,
                "like_count": user.posts * 3,
                "media_count": user.posts // 10,
            },
            "url": "",
            "verified": False,
            "verified_type": "none",
        }
        obj: dict[str, Any] = {"id": user.uid, "name": user.name, "username": user.username}
        obj.update((name, optional[name]) for name in sorted(fields) if name in optional)
        return obj


def _route(request: Request) -> tuple[str | None, dict[str, str]]:
    """The endpoint a request is for, and its path parameters (None: no such endpoint)."""
    if request.method != "GET":
        return None, {}
    path = request.path.rstrip("/")
    if path in (USERS_BY, SEARCH_RECENT, SEARCH_ALL):
        return path, {}
    match = re.fullmatch(r"/2/users/([^/]+)/tweets", path)
    return (USER_TWEETS, {"id": match.group(1)}) if match else (None, {})
