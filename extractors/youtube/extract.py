"""Extract one window of YouTube data for a set of channels and land it.

Entities:
- ``profiles``: one channel resource per handle (snippet, statistics, contentDetails,
  brandingSettings), as observed.
- ``posts``: the channels' videos published in the window (snippet, statistics,
  contentDetails), statistics as observed.
- ``comments``: top-level comments and replies created in the window on the channels'
  videos of the trailing week. Audience channel ids are replaced by keyed pseudonyms, their
  names, avatars and channel URLs dropped and @-mentions of them masked; the channel's own
  replies keep its id (response times). Each record also carries its ``thread``: the
  thread id, the (pseudonymised) author of its top-level comment and its reply count.

Per channel the walk is ``channels.list`` (by the registry's channel id, 50 to a call, else
by ``forHandle``) -> the uploads playlist through ``playlistItems.list`` (newest first,
stopping at the first upload older than the week) -> ``videos.list`` (50 ids a call) ->
``commentThreads.list`` per video of the week (``comments.list?parentId=`` for threads with
more replies than the thread shows). Every call costs one unit of the 10,000-unit daily
quota; ``search.list`` (100 units) is never used. Units are counted per run and per handle
and kept in the result's stats (``quota_units``).
"""

from __future__ import annotations

import logging
import re
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from extractors.common.avatar import AvatarFetcher, avatar_url
from extractors.common.errors import AuthError, ExtractError, PermissionDeniedError
from extractors.common.http import ApiClient
from extractors.common.landing import write_batch
from extractors.common.load import EntitySpec, KeyColumn
from extractors.common.pseudonym import Pseudonymiser
from extractors.common.result import ExtractResult, HandleRef, envelope
from extractors.common.window import Window, parse_rfc3339
from extractors.youtube.client import CommentsDisabledError, QuotaExhaustedError, quota_hint

log = logging.getLogger(__name__)

PLATFORM = "youtube"
API = "/youtube/v3"
# Units per call of each method used (search.list would cost 100; it is never called).
UNIT_COSTS = {"channels": 1, "playlistItems": 1, "videos": 1, "commentThreads": 1, "comments": 1}
CHANNEL_PARTS = "snippet,statistics,contentDetails,brandingSettings"
VIDEO_PARTS = "snippet,statistics,contentDetails"
IDS_PER_CALL = 50
TRAILING_DAYS = 7
AUDIENCE_FIELDS = ("authorDisplayName", "authorProfileImageUrl", "authorChannelUrl")
MASKED_MENTION = "@user"
_MENTION = re.compile(r"(?<![\w@.])@[A-Za-z0-9][A-Za-z0-9._-]{2,29}")

# Failures that every other channel would meet as well: they stop the platform's run.
STOPS_PLATFORM = (AuthError, PermissionDeniedError, QuotaExhaustedError)

_HANDLE = KeyColumn("handle", "text", ("request", "handle"))
_PUBLISHED = ("data", "snippet", "publishedAt")
ENTITIES = {
    "profiles": EntitySpec(
        PLATFORM,
        "profiles",
        [_HANDLE, KeyColumn("user_id", "text", ("data", "id"))],
        "YouTube channel resources of the registry's handles, one per handle per day as "
        "observed; user_id is the channel id.",
    ),
    "posts": EntitySpec(
        PLATFORM,
        "posts",
        [
            _HANDLE,
            KeyColumn("post_id", "text", ("data", "id")),
            KeyColumn("author_id", "text", ("data", "snippet", "channelId")),
            KeyColumn("created_at", "timestamptz", _PUBLISHED),
        ],
        "Videos of the registry's channels by publication day, statistics as observed.",
    ),
    "comments": EntitySpec(
        PLATFORM,
        "comments",
        [
            _HANDLE,
            KeyColumn("comment_id", "text", ("data", "id")),
            KeyColumn("post_id", "text", ("data", "snippet", "videoId")),
            KeyColumn("parent_id", "text", ("data", "snippet", "parentId")),
            KeyColumn("author_id", "text", ("data", "snippet", "authorChannelId", "value")),
            KeyColumn("created_at", "timestamptz", _PUBLISHED),
        ],
        "Top-level comments and replies on the channels' videos of the trailing week, by "
        "creation day; audience channel ids pseudonymised, names dropped.",
    ),
}


# --- pure parsing -----------------------------------------------------------------------


def published_at(resource: dict[str, Any]) -> datetime | None:
    """``snippet.publishedAt`` of a resource, or None when absent or unreadable."""
    value = (resource.get("snippet") or {}).get("publishedAt")
    try:
        return parse_rfc3339(str(value)) if value else None
    except ValueError:
        return None


def mask_mentions(text: str, keep: frozenset[str]) -> str:
    """``text`` with @-mentions of people masked; mentions in ``keep`` (lower case) stay."""
    return _MENTION.sub(lambda m: m.group() if m.group().lower() in keep else MASKED_MENTION, text)


def pseudonymise_comment(
    comment: dict[str, Any], mission: MissionChannel, pseudonym: Pseudonymiser
) -> dict[str, Any]:
    """The comment with its audience author replaced by a keyed pseudonym and no name,
    avatar or channel URL; the mission's own comments are kept as they are, and
    @-mentions of anyone but the mission are masked in both."""
    snippet = dict(comment.get("snippet") or {})
    author = (snippet.get("authorChannelId") or {}).get("value")
    if author != mission.channel_id:
        for name in AUDIENCE_FIELDS:
            snippet.pop(name, None)
        if author:
            snippet["authorChannelId"] = {"value": pseudonym(PLATFORM, str(author))}
    for name in ("textDisplay", "textOriginal"):
        if isinstance(snippet.get(name), str):
            snippet[name] = mask_mentions(snippet[name], mission.mentions)
    return {**comment, "snippet": snippet}


def author_key(comment: dict[str, Any]) -> str | None:
    value = ((comment.get("snippet") or {}).get("authorChannelId") or {}).get("value")
    return str(value) if value else None


def statistic(video: dict[str, Any], name: str) -> int | None:
    """A video statistic as a number (YouTube sends them as strings; absent when hidden)."""
    value = (video.get("statistics") or {}).get(name)
    try:
        return int(value) if value is not None else None
    except (TypeError, ValueError):
        return None


def unique_by_id(items: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    return list({str(item.get("id")): item for item in items}.values())


# --- quota-counted calls ----------------------------------------------------------------


@dataclass
class QuotaMeter:
    """Units of the daily quota a run spends, in all and per handle. Every attempt is
    counted, failed ones included (YouTube bills those too), so the count is an upper
    bound on what the project's quota page will show."""

    total: int = 0
    by_handle: Counter[str] = field(default_factory=Counter)

    def charge(self, handle: str, units: int) -> None:
        self.total += units
        self.by_handle[handle] += units


@dataclass
class YouTubeCalls:
    """The client plus a quota meter: every list call is charged to its handle."""

    client: ApiClient
    meter: QuotaMeter = field(default_factory=QuotaMeter)

    def get(self, method: str, params: dict[str, Any], handle: str) -> dict[str, Any]:
        before = self.client.stats.requests
        try:
            body, _ = self.client.get_json(f"{API}/{method}", params, handle=handle)
        finally:
            self.meter.charge(handle, UNIT_COSTS[method] * (self.client.stats.requests - before))
        return body

    def pages(self, method: str, params: dict[str, Any], handle: str) -> Iterator[dict[str, Any]]:
        """Every page of a list method, following ``nextPageToken`` until it is absent."""
        query = dict(params)
        while True:
            body = self.get(method, query, handle)
            yield body
            token = body.get("nextPageToken")
            if not token:
                return
            query["pageToken"] = token


# --- API walks ---------------------------------------------------------------------------


@dataclass(frozen=True)
class MissionChannel:
    """What the comment walk needs to know about the mission's own channel."""

    channel_id: str
    mentions: frozenset[str]  # the @handle forms of the channel that stay unmasked

    @classmethod
    def of(cls, channel: dict[str, Any], handle: str) -> MissionChannel:
        custom = str((channel.get("snippet") or {}).get("customUrl") or "")
        names = {f"@{handle.lower()}", custom.lower()} - {""}
        return cls(str(channel.get("id")), frozenset(names))


def lookup_channels(
    calls: YouTubeCalls, handles: Sequence[HandleRef]
) -> tuple[dict[str, dict[str, Any]], dict[str, str]]:
    """Channels by handle: (found, why the others were not found).

    Handles whose channel id the registry knows are looked up 50 ids to a call; the others
    one ``forHandle`` call each. A call that fails fails only the handles it was for."""
    found: dict[str, dict[str, Any]] = {}
    missing: dict[str, str] = {}
    with_ids = [ref for ref in handles if ref.account_id]
    for start in range(0, len(with_ids), IDS_PER_CALL):
        batch = with_ids[start : start + IDS_PER_CALL]
        label = ",".join(r.handle for r in batch) if len(batch) < 4 else f"{len(batch)} handles"
        params = {"part": CHANNEL_PARTS, "id": ",".join(str(r.account_id) for r in batch)}
        try:
            items = calls.get("channels", params, label).get("items") or []
        except STOPS_PLATFORM:
            raise
        except ExtractError as err:
            missing.update((ref.handle, calls.client.redact(str(err))) for ref in batch)
            continue
        by_id = {str(c.get("id")): c for c in items}
        for ref in batch:
            if str(ref.account_id) in by_id:
                found[ref.handle] = by_id[str(ref.account_id)]
            else:
                missing[ref.handle] = (
                    f"no channel with id {ref.account_id} (deleted, terminated or a wrong id "
                    "in the registry)"
                )
    for ref in handles:
        if ref.account_id:
            continue
        params = {"part": CHANNEL_PARTS, "forHandle": f"@{ref.handle}"}
        try:
            matches = calls.get("channels", params, ref.handle).get("items") or []
        except STOPS_PLATFORM:
            raise
        except ExtractError as err:
            missing[ref.handle] = calls.client.redact(str(err))
            continue
        if matches:
            found[ref.handle] = matches[0]
        else:
            missing[ref.handle] = (
                f"no channel with handle @{ref.handle} (renamed or deleted; fix the registry)"
            )
    return found, missing


def recent_uploads(
    calls: YouTubeCalls, playlist_id: str, handle: str, since: datetime, until: datetime
) -> list[str]:
    """Ids of the uploads published in [since, until), reading the playlist newest first
    and stopping at the first page that reaches back before ``since``."""
    params = {"part": "contentDetails", "playlistId": playlist_id, "maxResults": IDS_PER_CALL}
    video_ids: list[str] = []
    for page in calls.pages("playlistItems", params, handle):
        oldest: datetime | None = None
        for item in page.get("items") or []:
            details = item.get("contentDetails") or {}
            try:
                published = parse_rfc3339(str(details.get("videoPublishedAt")))
            except ValueError:
                continue  # private or deleted videos have no publication time
            if since <= published < until:
                video_ids.append(str(details.get("videoId")))
            oldest = published if oldest is None else min(oldest, published)
        if oldest is not None and oldest < since:
            break
    return list(dict.fromkeys(video_ids))


def video_details(
    calls: YouTubeCalls, video_ids: Sequence[str], handle: str
) -> list[dict[str, Any]]:
    videos: list[dict[str, Any]] = []
    for start in range(0, len(video_ids), IDS_PER_CALL):
        batch = ",".join(video_ids[start : start + IDS_PER_CALL])
        body = calls.get("videos", {"part": VIDEO_PARTS, "id": batch}, handle)
        videos.extend(body.get("items") or [])
    return videos


@dataclass(frozen=True)
class LandedComment:
    """A comment to land, the thread it belongs to and the method that returned it."""

    comment: dict[str, Any]
    thread: dict[str, Any]
    method: str


def video_comments(
    calls: YouTubeCalls, video_id: str, window: Window, handle: str
) -> list[LandedComment]:
    """Top-level comments and replies created in ``window`` on one video."""
    params = {
        "part": "snippet,replies",
        "videoId": video_id,
        "maxResults": 100,
        "order": "time",
        "textFormat": "plainText",
    }
    found: list[LandedComment] = []
    for page in calls.pages("commentThreads", params, handle):
        for thread in page.get("items") or []:
            snippet = thread.get("snippet") or {}
            top = snippet.get("topLevelComment") or {}
            replies = list((thread.get("replies") or {}).get("comments") or [])
            total = int(snippet.get("totalReplyCount") or 0)
            started = published_at(top)
            replies_from = "commentThreads"
            if total > len(replies) and (started is None or started < window.end):
                replies = all_replies(calls, str(thread.get("id")), handle)
                replies_from = "comments"
            context = {
                "id": thread.get("id"),
                "top_level_author_id": author_key(top),
                "total_reply_count": total,
            }
            candidates = [(top, "commentThreads")]
            candidates += [(reply, replies_from) for reply in unique_by_id(replies)]
            for comment, method in candidates:
                created = published_at(comment)
                if created is None or window.contains(created):
                    found.append(LandedComment(comment, context, method))
    return found


def all_replies(calls: YouTubeCalls, thread_id: str, handle: str) -> list[dict[str, Any]]:
    params = {
        "part": "snippet",
        "parentId": thread_id,
        "maxResults": 100,
        "textFormat": "plainText",
    }
    return [
        reply
        for page in calls.pages("comments", params, handle)
        for reply in page.get("items") or []
    ]


@dataclass
class ChannelHarvest:
    posts: list[dict[str, Any]]
    comments: list[LandedComment]
    videos_scanned: int
    comments_disabled: list[str]


def harvest_channel(
    calls: YouTubeCalls, channel: dict[str, Any], handle: str, window: Window, since: datetime
) -> ChannelHarvest:
    """One channel's videos published in the window and comments created in it."""
    uploads = ((channel.get("contentDetails") or {}).get("relatedPlaylists") or {}).get("uploads")
    if not uploads:
        raise ExtractError(
            PLATFORM, "channels", "the channel lists no uploads playlist", handle=handle
        )
    videos = video_details(calls, recent_uploads(calls, uploads, handle, since, window.end), handle)
    harvest = ChannelHarvest([], [], len(videos), [])
    for video in videos:
        published = published_at(video)
        if published is None or window.contains(published):
            harvest.posts.append(video)
        if statistic(video, "commentCount") == 0:
            continue  # nothing to read (absent means disabled or hidden: ask)
        try:
            harvest.comments += video_comments(calls, str(video.get("id")), window, handle)
        except CommentsDisabledError:
            harvest.comments_disabled.append(str(video.get("id")))
    return harvest


def run(
    window: Window,
    handles: Sequence[HandleRef],
    client: ApiClient,
    landing_root: Path,
    pseudonym: Pseudonymiser,
    *,
    now: datetime | None = None,
    trailing_days: int = TRAILING_DAYS,
) -> ExtractResult:
    """Extract ``window`` for ``handles`` and write one landing file per entity.

    A channel that fails is recorded in ``result.failures`` and the others go on; a bad key,
    missing permissions or an exhausted quota stop the platform (every channel would fail
    the same way) and nothing is landed.
    """
    result = ExtractResult(PLATFORM, window)
    observed_at = datetime.now(UTC)
    calls = YouTubeCalls(client)
    since = window.start - timedelta(days=trailing_days - 1)
    profiles: list[dict[str, Any]] = []
    posts: list[dict[str, Any]] = []
    comments: list[dict[str, Any]] = []
    disabled: list[str] = []
    videos_scanned = 0
    avatars = AvatarFetcher(client)
    try:
        channels, missing = lookup_channels(calls, handles)
        for handle, reason in missing.items():
            result.fail(handle, "profile", reason)
        for ref in handles:
            channel = channels.get(ref.handle)
            if channel is None:
                continue
            try:
                harvest = harvest_channel(calls, channel, ref.handle, window, since)
            except STOPS_PLATFORM:
                raise
            except ExtractError as err:
                # nothing of a failed channel is landed: the loader keeps its previous rows
                result.fail(ref.handle, "posts", client.redact(str(err)))
                continue
            profile = envelope(ref.handle, f"{API}/channels", observed_at, channel)
            profile["avatar"] = avatars.describe(
                avatar_url(channel, "snippet", "thumbnails", "default", "url"), ref.handle
            )
            profiles.append(profile)
            mission = MissionChannel.of(channel, ref.handle)
            posts += [envelope(ref.handle, f"{API}/videos", observed_at, v) for v in harvest.posts]
            comments += [
                comment_record(ref.handle, observed_at, c, mission, pseudonym)
                for c in harvest.comments
            ]
            disabled += harvest.comments_disabled
            videos_scanned += harvest.videos_scanned
    except QuotaExhaustedError as err:
        raise QuotaExhaustedError(
            PLATFORM,
            err.endpoint,
            "the daily quota is exceeded",
            handle=err.handle,
            status=err.status,
            hint=quota_hint(calls.meter.total, now),
        ) from None

    entities = (("profiles", profiles), ("posts", posts), ("comments", comments))
    for entity, records in entities:
        result.count_rows(entity, records)
    result.stats = (
        client.stats.as_dict()
        | {
            "quota_units": calls.meter.total,
            "quota_units_by_handle": dict(sorted(calls.meter.by_handle.items())),
            "videos_scanned": videos_scanned,
            "comments_disabled_videos": len(disabled),
        }
        | avatars.stats()
    )
    for entity, records in entities:
        result.manifests[entity] = write_batch(
            landing_root, PLATFORM, entity, window, records, result.stats
        )
    log.info(
        "youtube %s: %d profiles, %d posts, %d comments, %d quota units, %d requests "
        "(%d retries), %d videos with comments disabled, %d failed handles",
        window.label(),
        len(profiles),
        len(posts),
        len(comments),
        calls.meter.total,
        client.stats.requests,
        client.stats.retries,
        len(disabled),
        len(result.failed_handles),
    )
    return result


def comment_record(
    handle: str,
    observed_at: datetime,
    landed: LandedComment,
    mission: MissionChannel,
    pseudonym: Pseudonymiser,
) -> dict[str, Any]:
    """The landed record of a comment: the pseudonymised comment and its thread."""
    record = envelope(
        handle,
        f"{API}/{landed.method}",
        observed_at,
        pseudonymise_comment(landed.comment, mission, pseudonym),
    )
    top_author = landed.thread.get("top_level_author_id")
    if top_author and top_author != mission.channel_id:
        top_author = pseudonym(PLATFORM, str(top_author))
    record["thread"] = {**landed.thread, "top_level_author_id": top_author}
    return record
