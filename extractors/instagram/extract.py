"""Extract one window of Instagram (Graph API) data for a set of handles and land it.

Instagram's Graph API names accounts only by their ig-user-id, so a handle without
``platform_account_id`` in the registry fails with a message saying how to add it.

Entities (raw tables ``raw.instagram__<entity>``):

- ``profiles``: each account's user object (followers, follows, media count, biography).
- ``posts``: media created in the window, with like and comment counts as observed.
- ``comments``: comments and replies created in the window on the account's media of the
  trailing week, read inside the media list by field expansion (a media's own comment pages
  are followed only when its expanded first page says more follow; the media is landed
  without them); replies (``replies{...}``) are landed as records of their own with their
  ``parent_id``. The account's own replies keep its id and username; everyone else's id
  is pseudonymised and their usernames are not landed.
- ``post_metrics``: observations of the media of the window's day and the day before:
  counters plus insights (``MEDIA_METRICS``). Instagram's numbers settle only 48 h after
  posting, so each run observes the last two days again and every observation is kept
  (keyed by media id and ``observed_at``) instead of overwriting the previous one.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from extractors.common.avatar import AvatarFetcher
from extractors.common.errors import ExtractError
from extractors.common.graph import (
    InsightsFetcher,
    created_in,
    expand,
    expanded_items,
    graph_path,
    insight_value,
    items,
    make_graph_client,
    object_envelope,
    pseudonymous_author,
    unix_seconds,
    without_rows,
)
from extractors.common.http import ApiClient, RetryPolicy
from extractors.common.load import EntitySpec, KeyColumn
from extractors.common.per_handle import Progress, Records, extract_handles
from extractors.common.pseudonym import Pseudonymiser
from extractors.common.result import ExtractResult, HandleRef, envelope
from extractors.common.window import Window

PLATFORM = "instagram"
USER_FIELDS = (
    "id,username,name,biography,website,followers_count,follows_count,media_count,"
    "profile_picture_url"
)
MEDIA_FIELDS = (
    "id,caption,media_type,media_product_type,permalink,timestamp,like_count,comments_count,owner"
)
_COMMENT_FIELDS = "id,text,timestamp,username,from,like_count"
COMMENT_FIELDS = f"{_COMMENT_FIELDS},replies{{{_COMMENT_FIELDS},parent_id}}"
PAGE_SIZE = 100
MEDIA_PAGE_SIZE = 25  # each media brings up to PAGE_SIZE comments: keep the answers small
LOOKBACK_DAYS = 7
OBSERVED_DAYS = 2  # the window's day and the day before: insights settle within 48 h

# Our stable metric names -> Instagram's current names. Meta retired ``impressions`` and
# ``plays`` (now ``views``) on 2025-04-21; when it renames again, change the right side.
MEDIA_METRICS: Mapping[str, str] = {
    "views": "views",
    "reach": "reach",
    "saved": "saved",
    "shares": "shares",
}

_HANDLE = KeyColumn("handle", "text", ("request", "handle"))
ENTITIES = {
    "profiles": EntitySpec(
        PLATFORM,
        "profiles",
        [_HANDLE, KeyColumn("user_id", "text", ("data", "id"))],
        "Instagram user objects of the registry's handles, one per handle per day as observed.",
    ),
    "posts": EntitySpec(
        PLATFORM,
        "posts",
        [
            _HANDLE,
            KeyColumn("media_id", "text", ("data", "id")),
            KeyColumn("user_id", "text", ("data", "owner", "id")),
            KeyColumn("created_at", "timestamptz", ("data", "timestamp")),
        ],
        "Instagram media of the handles, by creation day, counters as observed.",
    ),
    "comments": EntitySpec(
        PLATFORM,
        "comments",
        [
            _HANDLE,
            KeyColumn("comment_id", "text", ("data", "id")),
            KeyColumn("media_id", "text", ("request", "object_id")),
            KeyColumn("author_id", "text", ("data", "from", "id")),
            KeyColumn("parent_id", "text", ("data", "parent_id")),
            KeyColumn("created_at", "timestamptz", ("data", "timestamp")),
        ],
        "Comments and replies on the handles' media, by creation day; audience pseudonymised.",
    ),
    "post_metrics": EntitySpec(
        PLATFORM,
        "post_metrics",
        [
            _HANDLE,
            KeyColumn("media_id", "text", ("data", "id")),
            KeyColumn("observed_at", "timestamptz", ("observed_at",)),
            KeyColumn("media_created_at", "timestamptz", ("data", "timestamp")),
        ],
        "Observations of recent media's counters and insights (they settle within 48 h).",
    ),
}


def make_client(
    base_url: str,
    access_token: str,
    *,
    retry: RetryPolicy | None = None,
    timeout: tuple[float, float] = (5.0, 30.0),
) -> ApiClient:
    return make_graph_client(PLATFORM, base_url, access_token, retry=retry, timeout=timeout)


# --- pure parsing -----------------------------------------------------------------------------


def author_key(comment: Mapping[str, Any], user_id: str, username: str) -> str | None:
    """Who wrote a comment: the account's own id for its replies, else the commenter's id,
    or (when the platform leaves ``from`` out) their username as a stand-in."""
    given = comment.get("from")
    author: Mapping[str, Any] = given if isinstance(given, dict) else {}
    commenter = str(comment.get("username") or "")
    if str(author.get("id")) == user_id or commenter.lower() == username.lower():
        return user_id
    if author.get("id"):
        return str(author["id"])
    return f"username:{commenter}" if commenter else None


def clean_comment(
    comment: Mapping[str, Any], user_id: str, username: str, pseudonym: Pseudonymiser
) -> dict[str, Any]:
    """The comment as landed: the account's own keeps its id and username, anyone else is
    reduced to a pseudonymous id (also as the parent's author); nested replies are removed
    (they are landed apiece)."""
    skip = ("from", "username", "replies", "parent")
    out = {key: value for key, value in comment.items() if key not in skip}

    def author(of: Mapping[str, Any]) -> dict[str, str] | None:
        key = author_key(of, user_id, username)
        return pseudonymous_author({"id": key} if key else None, user_id, PLATFORM, pseudonym)

    own = author(comment)
    if own is not None:
        out["from"] = own
        if own["id"] == user_id:
            out["username"] = username
    parent = comment.get("parent")
    if isinstance(parent, dict) and parent.get("id"):
        out["parent"] = {"id": str(parent["id"])}
        parent_author = author(parent)
        if parent_author is not None:
            out["parent"]["from"] = parent_author
    return out


def flatten_comments(
    comments: Iterator[dict[str, Any]] | Sequence[dict[str, Any]],
) -> Iterator[dict[str, Any]]:
    """Top-level comments and their replies, one by one. A reply carries ``parent_id`` and
    (added here, as Facebook's comments have it) ``parent``: the comment it answers, with
    its author, so that the reply's addressee is known."""
    for comment in comments:
        yield comment
        replies = comment.get("replies")
        for reply in (replies.get("data") if isinstance(replies, dict) else None) or []:
            if isinstance(reply, dict):
                parent = {k: comment.get(k) for k in ("id", "from", "username")}
                yield {
                    **reply,
                    "parent_id": reply.get("parent_id") or comment.get("id"),
                    "parent": parent,
                }


def media_observation(media: Mapping[str, Any], found: Mapping[str, dict[str, Any]]) -> dict:
    """One observation of a media: its counters and each accepted insights metric."""
    observation = {
        "id": media.get("id"),
        "timestamp": media.get("timestamp"),
        "media_product_type": media.get("media_product_type"),
        "like_count": media.get("like_count"),
        "comments_count": media.get("comments_count"),
    }
    observation.update({stable: insight_value(obj) for stable, obj in found.items()})
    return observation


def missing_id_error(handle: str) -> ExtractError:
    return ExtractError(
        PLATFORM,
        "registry",
        "no Instagram user id in the registry; the Graph API finds Instagram accounts only by id",
        handle=handle,
        hint="look it up with GET /{page-id}?fields=instagram_business_account on the "
        "linked Facebook Page and put it in platform_account_id in "
        "config/registry/handles.csv",
    )


# --- the run -----------------------------------------------------------------------------------


def run(
    window: Window,
    handles: Sequence[HandleRef],
    client: ApiClient,
    landing_root: Path,
    pseudonym: Pseudonymiser,
    *,
    now: datetime | None = None,  # part of the extractor contract; Instagram needs no clock
    lookback_days: int = LOOKBACK_DAYS,
) -> ExtractResult:
    """Extract ``window`` for ``handles`` and write one landing file per entity."""
    observed_at = datetime.now(UTC)
    insights = InsightsFetcher(client, MEDIA_METRICS)
    avatars = AvatarFetcher(client)
    lookback_start = window.start - timedelta(days=lookback_days - 1)
    observed_from = window.start - timedelta(days=OBSERVED_DAYS - 1)

    def extract_one(ref: HandleRef, progress: Progress) -> dict[str, Records]:
        if not ref.account_id:
            raise missing_id_error(ref.handle)
        user, _ = client.get_json(
            graph_path(ref.account_id), {"fields": USER_FIELDS}, handle=ref.handle
        )
        user_id, username = str(user["id"]), str(user.get("username") or ref.handle)
        progress.stage = "posts"
        comments_field = expand("comments", COMMENT_FIELDS, limit=PAGE_SIZE)
        recent = list(
            items(
                client,
                graph_path(user_id, "media"),
                {
                    "fields": f"{MEDIA_FIELDS},{comments_field}",
                    "since": unix_seconds(lookback_start),
                    "until": unix_seconds(window.end),
                    "limit": MEDIA_PAGE_SIZE,
                },
                handle=ref.handle,
            )
        )
        progress.stage = "comments"
        comments = [
            object_envelope(
                ref.handle,
                graph_path("{media-id}", "comments"),
                observed_at,
                clean_comment(comment, user_id, username, pseudonym),
                object_id=str(media["id"]),
                account_id=user_id,
            )
            for media in recent
            for comment in flatten_comments(
                expanded_items(client, media, "comments", handle=ref.handle)
            )
            if created_in(comment, "timestamp", window)
        ]
        progress.stage = "post_metrics"
        observed = [
            media_observation(media, insights.fetch(str(media["id"]), {}, handle=ref.handle))
            for media in recent
            if created_in(media, "timestamp", Window(observed_from, window.end))
        ]
        progress.stage = "avatar"  # recorded in the profile's avatar block, never a failure
        profile = envelope(ref.handle, graph_path("{ig-user-id}"), observed_at, user)
        profile["avatar"] = avatars.describe(user.get("profile_picture_url"), ref.handle)
        return {
            "profiles": [profile],
            "posts": [
                envelope(
                    ref.handle,
                    graph_path("{ig-user-id}", "media"),
                    observed_at,
                    without_rows(m, "comments"),
                )
                for m in recent
                if created_in(m, "timestamp", window)
            ],
            "comments": comments,
            "post_metrics": [
                envelope(ref.handle, graph_path("{media-id}", "insights"), observed_at, o)
                for o in observed
            ],
        }

    return extract_handles(
        PLATFORM,
        window,
        handles,
        client,
        landing_root,
        tuple(ENTITIES),
        extract_one,
        lambda: (
            {"refused_metrics": dict(insights.refused), "metric_names": dict(MEDIA_METRICS)}
            | avatars.stats()
        ),
    )
