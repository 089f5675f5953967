"""Extract one window of Facebook Pages data for a set of handles and land it.

Entities (raw tables ``raw.facebook__<entity>``):

- ``profiles``: each handle's Page object (followers, verification, about, website), looked
  up by the registry's page id, or by username when the registry has none.
- ``posts``: the Page's published posts created in the window, with reaction, comment and
  share totals as observed.
- ``comments``: comments and replies created in the window on the Page's posts of the
  trailing week (``filter=stream`` lists replies flat, each with its ``parent``), read
  inside the posts list by field expansion; a post's own comment pages are followed only
  when its expanded first page says more follow. The post itself is landed with the
  comments' ``summary`` only. The
  Page's own replies keep its id (response times); everyone else's id is pseudonymised and
  their names are not landed.
- ``insights``: the Page's daily insights for the window, one record per metric and day,
  asked for by Facebook's current names through ``PAGE_METRICS``; a metric Facebook
  refuses is skipped, logged and listed in the result's ``stats["refused_metrics"]``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from extractors.common.avatar import AvatarFetcher, avatar_url
from extractors.common.graph import (
    InsightsFetcher,
    created_in,
    expand,
    expanded_items,
    graph_path,
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

PLATFORM = "facebook"
PAGE_FIELDS = (
    "id,name,username,about,website,fan_count,followers_count,verification_status,"
    "picture{url},link,category"
)
POST_FIELDS = (
    "id,message,created_time,from,permalink_url,shares,reactions.summary(total_count).limit(0)"
)
COMMENT_FIELDS = "id,message,created_time,from,parent,like_count"
PAGE_SIZE = 100
POSTS_PAGE_SIZE = 25  # each post brings up to PAGE_SIZE comments: keep the answers small
LOOKBACK_DAYS = 7

# Our stable metric names -> Facebook's current names. Meta retired page_impressions (now
# page_media_view), page_fans (now page_follows) and page_fan_adds_unique (now
# page_daily_follows_unique) on 2025-11-15; when it renames again, change the right side.
PAGE_METRICS: Mapping[str, str] = {
    "views": "page_media_view",
    "follows": "page_follows",
    "new_follows": "page_daily_follows_unique",
    "post_engagements": "page_post_engagements",
}

_HANDLE = KeyColumn("handle", "text", ("request", "handle"))
ENTITIES = {
    "profiles": EntitySpec(
        PLATFORM,
        "profiles",
        [_HANDLE, KeyColumn("page_id", "text", ("data", "id"))],
        "Facebook Page objects of the registry's handles, one per handle per day as observed.",
    ),
    "posts": EntitySpec(
        PLATFORM,
        "posts",
        [
            _HANDLE,
            KeyColumn("post_id", "text", ("data", "id")),
            KeyColumn("page_id", "text", ("data", "from", "id")),
            KeyColumn("created_at", "timestamptz", ("data", "created_time")),
        ],
        "Published posts of the handles' Pages, by creation day, totals as observed.",
    ),
    "comments": EntitySpec(
        PLATFORM,
        "comments",
        [
            _HANDLE,
            KeyColumn("comment_id", "text", ("data", "id")),
            KeyColumn("post_id", "text", ("request", "object_id")),
            KeyColumn("author_id", "text", ("data", "from", "id")),
            KeyColumn("parent_id", "text", ("data", "parent", "id")),
            KeyColumn("created_at", "timestamptz", ("data", "created_time")),
        ],
        "Comments and replies on the Pages' posts, by creation day; audience pseudonymised.",
    ),
    "insights": EntitySpec(
        PLATFORM,
        "insights",
        [
            _HANDLE,
            KeyColumn("page_id", "text", ("data", "page_id")),
            KeyColumn("metric", "text", ("data", "metric")),
            KeyColumn("end_time", "timestamptz", ("data", "end_time")),
        ],
        "Daily Page insights by our stable metric names (Facebook's name kept alongside).",
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


def clean_comment(
    comment: dict[str, Any], page_id: str, pseudonym: Pseudonymiser
) -> dict[str, Any]:
    """The comment as landed: authors (its own and its parent's) reduced to an id,
    pseudonymised unless it is the Page; the parent reduced to its id and author; the rest
    as the API returned it."""
    out = {key: value for key, value in comment.items() if key not in ("from", "parent")}
    author = pseudonymous_author(comment.get("from"), page_id, PLATFORM, pseudonym)
    if author is not None:
        out["from"] = author
    parent = comment.get("parent")
    if isinstance(parent, dict) and parent.get("id"):
        out["parent"] = {"id": str(parent["id"])}
        parent_author = pseudonymous_author(parent.get("from"), page_id, PLATFORM, pseudonym)
        if parent_author is not None:
            out["parent"]["from"] = parent_author
    return out


def insight_records(page_id: str, found: Mapping[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """One record per (metric, day) from insights objects keyed by our stable names."""
    records = []
    for stable, obj in found.items():
        for value in obj.get("values") or []:
            if isinstance(value, dict):
                records.append(
                    {
                        "page_id": page_id,
                        "metric": stable,
                        "name": obj.get("name"),
                        "period": obj.get("period"),
                        "end_time": value.get("end_time"),
                        "value": value.get("value"),
                    }
                )
    return records


# --- the run -----------------------------------------------------------------------------------


def run(
    window: Window,
    handles: Sequence[HandleRef],
    client: ApiClient,
    landing_root: Path,
    pseudonym: Pseudonymiser,
    *,
    now: datetime | None = None,  # part of the extractor contract; Facebook needs no clock
    lookback_days: int = LOOKBACK_DAYS,
) -> ExtractResult:
    """Extract ``window`` for ``handles`` and write one landing file per entity."""
    observed_at = datetime.now(UTC)
    insights = InsightsFetcher(client, PAGE_METRICS)
    avatars = AvatarFetcher(client)
    lookback_start = window.start - timedelta(days=lookback_days - 1)

    def extract_one(ref: HandleRef, progress: Progress) -> dict[str, Records]:
        page, _ = client.get_json(
            graph_path(ref.account_id or ref.handle), {"fields": PAGE_FIELDS}, handle=ref.handle
        )
        page_id = str(page["id"])
        progress.stage = "posts"
        comments_field = expand(
            "comments",
            COMMENT_FIELDS,
            filter="stream",
            order="chronological",
            since=unix_seconds(window.start),
            until=unix_seconds(window.end),
            limit=PAGE_SIZE,
            summary="total_count",
        )
        recent = list(
            items(
                client,
                graph_path(page_id, "published_posts"),
                {
                    "fields": f"{POST_FIELDS},{comments_field}",
                    "since": unix_seconds(lookback_start),
                    "until": unix_seconds(window.end),
                    "limit": POSTS_PAGE_SIZE,
                },
                handle=ref.handle,
            )
        )
        progress.stage = "comments"
        comments = [
            object_envelope(
                ref.handle,
                graph_path("{post-id}", "comments"),
                observed_at,
                clean_comment(comment, page_id, pseudonym),
                object_id=str(post["id"]),
                account_id=page_id,
            )
            for post in recent
            for comment in expanded_items(client, post, "comments", handle=ref.handle)
            if created_in(comment, "created_time", window)
        ]
        progress.stage = "insights"
        found = insights.fetch(
            page_id,
            {
                "period": "day",
                "since": unix_seconds(window.start),
                "until": unix_seconds(window.end),
            },
            handle=ref.handle,
        )
        progress.stage = "avatar"  # recorded in the profile's avatar block, never a failure
        profile = envelope(ref.handle, graph_path("{page-id}"), observed_at, page)
        profile["avatar"] = avatars.describe(avatar_url(page, "picture", "data", "url"), ref.handle)
        return {
            "profiles": [profile],
            "posts": [
                envelope(
                    ref.handle,
                    graph_path("{page-id}", "published_posts"),
                    observed_at,
                    without_rows(p, "comments"),
                )
                for p in recent
                if created_in(p, "created_time", window)
            ],
            "comments": comments,
            "insights": [
                envelope(ref.handle, graph_path("{page-id}", "insights"), observed_at, record)
                for record in insight_records(page_id, found)
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
            {"refused_metrics": dict(insights.refused), "metric_names": dict(PAGE_METRICS)}
            | avatars.stats()
        ),
    )
