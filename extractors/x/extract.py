"""Extract one window of X data for a set of handles and land it.

Entities:
- ``profiles``: one user object per handle (followers and profile fields as observed).
- ``posts``: the handles' original posts created in the window, with public metrics.
- ``comments``: replies created in the window in the conversations the handles started in
  the trailing week (X's recent search only reaches 7 days back; older windows use the
  full-archive endpoint). The missions' own replies are kept (response times); other
  authors are pseudonymised before landing.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from extractors.common.avatar import AvatarFetcher
from extractors.common.errors import AuthError, ExtractError, PermissionDeniedError
from extractors.common.http import ApiClient
from extractors.common.landing import write_batch
from extractors.common.load import EntitySpec, KeyColumn
from extractors.common.pseudonym import Pseudonymiser
from extractors.common.result import ExtractResult, HandleRef, envelope
from extractors.common.window import Window, parse_rfc3339, rfc3339

log = logging.getLogger(__name__)

PLATFORM = "x"
USER_FIELDS = (
    "created_at,description,entities,id,name,profile_image_url,public_metrics,url,username,verified"
)
TWEET_FIELDS = (
    "author_id,conversation_id,created_at,id,in_reply_to_user_id,lang,public_metrics,"
    "referenced_tweets,text"
)
USERS_PER_LOOKUP = 100
RECENT_SEARCH_DAYS = 7

_HANDLE = KeyColumn("handle", "text", ("request", "handle"))
ENTITIES = {
    "profiles": EntitySpec(
        PLATFORM,
        "profiles",
        [_HANDLE, KeyColumn("user_id", "text", ("data", "id"))],
        "X user objects of the registry's handles, one per handle per day as observed.",
    ),
    "posts": EntitySpec(
        PLATFORM,
        "posts",
        [
            _HANDLE,
            KeyColumn("post_id", "text", ("data", "id")),
            KeyColumn("author_id", "text", ("data", "author_id")),
            KeyColumn("created_at", "timestamptz", ("data", "created_at")),
        ],
        "Original X posts of the registry's handles, by creation day, metrics as observed.",
    ),
    "comments": EntitySpec(
        PLATFORM,
        "comments",
        [
            _HANDLE,
            KeyColumn("comment_id", "text", ("data", "id")),
            KeyColumn("conversation_id", "text", ("data", "conversation_id")),
            KeyColumn("author_id", "text", ("data", "author_id")),
            KeyColumn("created_at", "timestamptz", ("data", "created_at")),
        ],
        "Replies in the handles' conversations, by creation day; audience ids pseudonymised.",
    ),
}


# --- pure parsing -----------------------------------------------------------------------


def search_queries(conversation_ids: Sequence[str], max_chars: int) -> list[str]:
    """OR-join ``conversation_id:`` terms into as few queries as fit in ``max_chars``."""
    queries: list[str] = []
    current: list[str] = []
    for cid in conversation_ids:
        term = f"conversation_id:{cid}"
        candidate = " OR ".join([*current, term])
        if current and len(candidate) > max_chars:
            queries.append(" OR ".join(current))
            current = [term]
        else:
            current.append(term)
    if current:
        queries.append(" OR ".join(current))
    return queries


def pseudonymise_reply(
    tweet: dict[str, Any], mission_user_ids: frozenset[str], pseudonym: Pseudonymiser
) -> dict[str, Any]:
    """The reply with audience user ids replaced by keyed pseudonyms (missions kept)."""
    out = dict(tweet)
    for key in ("author_id", "in_reply_to_user_id"):
        value = out.get(key)
        if isinstance(value, str) and value not in mission_user_ids:
            out[key] = pseudonym(PLATFORM, value)
    return out


def mission_user_ids(
    client: ApiClient,
    users: dict[str, dict[str, Any]],
    batch: Sequence[HandleRef],
    missions: Sequence[HandleRef],
) -> frozenset[str]:
    """The user ids of every mission handle of the day, not only of this batch's.

    A day is extracted in batches of handles, and a mission replying in another mission's
    conversation is a mission, not audience: its reply keeps its id (response times) only
    if the id is known here. The batch's own ids come from its lookup (``users``); the
    other handles' from the registry's ``platform_account_id``, or, for handles without
    one, from one more user lookup (100 names a request). Unknown names are not this
    batch's failures: their own batch records them.
    """
    ids = {str(u["id"]) for u in users.values() if u.get("id")}
    own = {ref.handle.lower() for ref in batch}
    unresolved: list[str] = []
    for ref in missions:
        if ref.handle.lower() in own:
            continue
        if ref.account_id:
            ids.add(ref.account_id)
        else:
            unresolved.append(ref.handle)
    if unresolved:
        found, _unknown = lookup_users(client, unresolved)
        ids.update(str(u["id"]) for u in found.values() if u.get("id"))
    return frozenset(ids)


# --- API walks ---------------------------------------------------------------------------


def paginate(
    client: ApiClient,
    path: str,
    params: dict[str, Any],
    *,
    handle: str,
    token_param: str,
) -> Iterator[dict[str, Any]]:
    """Every page of an X v2 list endpoint, following ``meta.next_token`` until absent."""
    query = dict(params)
    while True:
        body, _headers = client.get_json(path, query, handle=handle)
        yield body
        next_token = (body.get("meta") or {}).get("next_token")
        if not next_token:
            return
        query[token_param] = next_token


def lookup_users(
    client: ApiClient, handles: Sequence[str]
) -> tuple[dict[str, dict[str, Any]], dict[str, str]]:
    """Users by username (batches of 100): (found by lower-cased username, errors by name)."""
    found: dict[str, dict[str, Any]] = {}
    missing: dict[str, str] = {}
    for start in range(0, len(handles), USERS_PER_LOOKUP):
        batch = handles[start : start + USERS_PER_LOOKUP]
        body, _ = client.get_json(
            "/2/users/by",
            {"usernames": ",".join(batch), "user.fields": USER_FIELDS},
            handle=",".join(batch) if len(batch) < 4 else f"{len(batch)} handles",
        )
        for user in body.get("data") or []:
            found[str(user.get("username", "")).lower()] = user
        for error in body.get("errors") or []:
            value = str(error.get("value") or error.get("resource_id") or "")
            missing[value.lower()] = str(error.get("detail") or error.get("title") or error)
    return found, missing


def timeline(
    client: ApiClient, user_id: str, handle: str, start: datetime, end: datetime
) -> list[dict[str, Any]]:
    posts: list[dict[str, Any]] = []
    params = {
        "max_results": 100,
        "start_time": rfc3339(start),
        "end_time": rfc3339(end),
        "exclude": "replies,retweets",
        "tweet.fields": TWEET_FIELDS,
    }
    for page in paginate(
        client, f"/2/users/{user_id}/tweets", params, handle=handle, token_param="pagination_token"
    ):
        posts.extend(page.get("data") or [])
    return posts


def conversation_replies(
    client: ApiClient,
    conversation_ids: Sequence[str],
    window: Window,
    handle: str,
    *,
    full_archive: bool,
    max_query_chars: int,
) -> list[dict[str, Any]]:
    path = "/2/tweets/search/all" if full_archive else "/2/tweets/search/recent"
    replies: list[dict[str, Any]] = []
    for query in search_queries(conversation_ids, max_query_chars):
        params = {
            "query": query,
            "start_time": rfc3339(window.start),
            "end_time": rfc3339(window.end),
            "max_results": 100,
            "tweet.fields": TWEET_FIELDS,
        }
        for page in paginate(client, path, params, handle=handle, token_param="next_token"):
            replies.extend(page.get("data") or [])
    return replies


def needs_full_archive(window: Window, now: datetime) -> bool:
    """Recent search reaches 7 days back; keep a margin for clock skew and long runs."""
    return window.start < now - timedelta(days=RECENT_SEARCH_DAYS) + timedelta(minutes=30)


def run(
    window: Window,
    handles: Sequence[HandleRef],
    client: ApiClient,
    landing_root: Path,
    pseudonym: Pseudonymiser,
    *,
    now: datetime | None = None,
    conversation_lookback_days: int = RECENT_SEARCH_DAYS,
    max_query_chars: int = 512,
    missions: Sequence[HandleRef] = (),
) -> ExtractResult:
    """Extract ``window`` for ``handles`` and write one landing file per entity.

    ``missions`` are all of the day's X handles in the registry, ``handles`` (one batch)
    among them: a reply by any of them keeps its user id (see :func:`mission_user_ids`).

    A handle that fails is recorded in ``result.failures`` and the others go on; an
    authentication or permission failure stops the platform (it would fail every handle).
    """
    now = now or datetime.now(UTC)
    result = ExtractResult(PLATFORM, window)
    observed_at = datetime.now(UTC)
    names = [h.handle for h in handles]
    users, missing = lookup_users(client, names)
    for ref in handles:
        if ref.handle.lower() in missing:
            result.fail(ref.handle, "profile", missing[ref.handle.lower()])

    profiles: list[dict[str, Any]] = []
    posts: list[dict[str, Any]] = []
    comments: list[dict[str, Any]] = []
    mission_ids = mission_user_ids(client, users, handles, missions)
    full_archive = needs_full_archive(window, now)
    avatars = AvatarFetcher(client)
    lookback_start = window.start - timedelta(days=conversation_lookback_days - 1)
    for ref in handles:
        user = users.get(ref.handle.lower())
        if user is None:
            continue
        try:
            recent = timeline(client, str(user["id"]), ref.handle, lookback_start, window.end)
            replies = (
                conversation_replies(
                    client,
                    [
                        str(p["conversation_id"] if p.get("conversation_id") else p["id"])
                        for p in recent
                    ],
                    window,
                    ref.handle,
                    full_archive=full_archive,
                    max_query_chars=max_query_chars,
                )
                if recent
                else []
            )
        except (AuthError, PermissionDeniedError):
            raise  # every other handle would fail the same way: stop the platform
        except ExtractError as err:
            result.fail(ref.handle, "posts", client.redact(str(err)))
            continue  # nothing of this handle lands: the loader keeps its previous rows
        profile = envelope(ref.handle, "/2/users/by", observed_at, user)
        profile["avatar"] = avatars.describe(user.get("profile_image_url"), ref.handle)
        profiles.append(profile)
        posts.extend(
            envelope(ref.handle, "/2/users/:id/tweets", observed_at, p)
            for p in recent
            if _created_in(p, window)
        )
        comments.extend(
            envelope(
                ref.handle,
                "/2/tweets/search/all" if full_archive else "/2/tweets/search/recent",
                observed_at,
                pseudonymise_reply(r, mission_ids, pseudonym),
            )
            for r in replies
        )

    for entity, records in (("profiles", profiles), ("posts", posts), ("comments", comments)):
        result.count_rows(entity, records)
    result.stats = client.stats.as_dict() | {"full_archive_search": full_archive} | avatars.stats()
    for entity, records in (("profiles", profiles), ("posts", posts), ("comments", comments)):
        result.manifests[entity] = write_batch(
            landing_root, PLATFORM, entity, window, records, result.stats
        )
    log.info(
        "x %s: %d profiles, %d posts, %d comments, %d requests (%d retries), %d failed handles",
        window.label(),
        len(profiles),
        len(posts),
        len(comments),
        client.stats.requests,
        client.stats.retries,
        len(result.failed_handles),
    )
    return result


def _created_in(tweet: dict[str, Any], window: Window) -> bool:
    try:
        return window.contains(parse_rfc3339(str(tweet.get("created_at"))))
    except ValueError:
        return True  # keep it: the data-quality run reports the bad timestamp
