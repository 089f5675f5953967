"""YouTube Data API v3 on the wire: methods, parts, paging, quota, errors, faults, drift."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests

from missionpulse.simulator.faults import (
    DRIFT,
    EXPIRED_TOKEN_PREFIX,
    RATE_LIMIT,
    SERVER_ERROR,
    Fault,
)
from missionpulse.simulator.messages import Request, Response
from missionpulse.simulator.server import SimulatorServer
from missionpulse.simulator.tokens import issue_token
from missionpulse.simulator.world import to_ms, world_for
from missionpulse.simulator.world_youtube import (
    TRAILING_DAYS,
    VIEWS_PER_THREAD,
    decode_thread_id,
    thread_id_of,
    video_number_of,
    youtube_world,
)
from missionpulse.simulator.youtube_api import YouTubeApi, iso_duration, three_significant
from tests.simulator.support import DAY, RUN_TIME

V3 = "/youtube/v3"


def _get(
    simulator: SimulatorServer, method: str, key: str | None = None, **params: Any
) -> requests.Response:
    query = {**params, **({"key": key} if key else {})}
    return requests.get(f"{simulator.base_url}{V3}/{method}", params=query, timeout=10)


def _walk(simulator: SimulatorServer, method: str, key: str, **params: Any) -> list[dict]:
    items, pages = [], 0
    while True:
        response = _get(simulator, method, key, **params)
        assert response.status_code == 200, response.text
        body = response.json()
        items += body.get("items", [])
        pages += 1
        if "nextPageToken" not in body:
            assert pages > 1 or len(items) <= int(params.get("maxResults", 20))
            return items
        params = {**params, "pageToken": body["nextPageToken"]}


def _call(api: YouTubeApi, method: str, now: datetime, **params: str) -> Response:
    query = {name: [value] for name, value in params.items()}
    return api.respond(Request("GET", f"{V3}/{method}", query, {}), now)


def _body(raw: bytes) -> Any:
    return json.loads(raw)


@pytest.fixture
def key() -> str:
    return issue_token(RUN_TIME)


@pytest.fixture(scope="module")
def yt() -> Any:
    return youtube_world(world_for())


def _busy_video(yt: Any, replies_over: int = 5) -> Any:
    """A video of the test day's week with a thread longer than the inline replies."""
    for channel in yt.channels():
        for back in range(TRAILING_DAYS):
            for video in yt.videos_on(channel, DAY - timedelta(days=back)):
                if any(len(t.replies) > replies_over for t in yt.threads_of(video)):
                    return video
    raise AssertionError("no long thread in the test week")


def test_channels_by_handle_and_by_id_look_like_youtubes(
    simulator: SimulatorServer, key: str
) -> None:
    parts = "snippet,statistics,contentDetails,brandingSettings"
    by_handle = _get(simulator, "channels", key, part=parts, forHandle="@pakistaninuk").json()
    assert by_handle["kind"] == "youtube#channelListResponse"
    (channel,) = by_handle["items"]
    assert list(channel) == ["kind", "etag", "id", "snippet", "contentDetails", "statistics"] + [
        "brandingSettings"
    ]
    assert channel["id"].startswith("UC") and len(channel["id"]) == 24
    assert channel["snippet"]["customUrl"] == "@pakistaninuk"
    assert channel["snippet"]["publishedAt"].endswith("Z")
    uploads = channel["contentDetails"]["relatedPlaylists"]["uploads"]
    assert uploads == "UU" + channel["id"][2:]
    stats = channel["statistics"]
    assert all(isinstance(stats[k], str) for k in ("viewCount", "videoCount"))
    assert stats["hiddenSubscriberCount"] is False
    assert int(stats["subscriberCount"]) == three_significant(int(stats["subscriberCount"]))

    by_id = _get(simulator, "channels", key, part=parts, id=f"{channel['id']},UCnope").json()
    assert [c["id"] for c in by_id["items"]] == [channel["id"]]
    missing = _get(simulator, "channels", key, part="snippet", forHandle="@nobody_here").json()
    assert "items" not in missing and missing["pageInfo"]["totalResults"] == 0


def test_a_channel_that_hides_its_subscribers_omits_the_count(yt: Any) -> None:
    api = YouTubeApi(world_for())
    hidden = next(
        c for c in yt.channels() if c.hidden_subscribers and c.visible_at(to_ms(RUN_TIME))
    )
    body = _call(api, "channels", RUN_TIME, part="statistics", id=hidden.channel_id, key="k" * 39)
    stats = _body(body.body)["items"][0]["statistics"]
    assert stats["hiddenSubscriberCount"] is True and "subscriberCount" not in stats


def test_uploads_page_newest_first_with_page_tokens(simulator: SimulatorServer, key: str) -> None:
    channel = _get(simulator, "channels", key, part="contentDetails", forHandle="PakistanInUK")
    uploads = channel.json()["items"][0]["contentDetails"]["relatedPlaylists"]["uploads"]
    first = _get(simulator, "playlistItems", key, part="contentDetails", playlistId=uploads)
    body = first.json()
    assert len(body["items"]) == 5 and "nextPageToken" in body and "prevPageToken" not in body
    params = {"part": "snippet,contentDetails", "playlistId": uploads, "maxResults": 50}
    page = _get(simulator, "playlistItems", key, **params).json()
    second = _get(simulator, "playlistItems", key, **params, pageToken=page["nextPageToken"])
    items = page["items"] + second.json()["items"]
    published = [i["contentDetails"]["videoPublishedAt"] for i in items]
    assert published == sorted(published, reverse=True) and len(items) == 100
    assert [i["snippet"]["position"] for i in items] == list(range(100))
    assert second.json()["prevPageToken"]
    assert all(p <= "2025-10-09T02:00:00Z" for p in published)  # nothing after the clock


@pytest.mark.parametrize(
    "params,status,reason",
    [
        ({"part": "contentDetails", "playlistId": "UUx", "pageToken": "bogus"}, 400, "invalid"),
        ({"part": "contentDetails", "playlistId": "UUnope"}, 404, "playlistNotFound"),
        ({"part": "contentDetails", "playlistId": "UUx", "maxResults": "51"}, 400, "invalid"),
        ({"part": "nonsense", "playlistId": "UUx"}, 400, "unknownPart"),
        ({"playlistId": "UUx"}, 400, "required"),
        ({"part": "id"}, 400, "missingRequiredParameter"),
        ({"part": "id", "playlistId": "UUx", "colour": "red"}, 400, "badRequest"),
    ],
)
def test_bad_requests_get_googles_error_body(
    simulator: SimulatorServer, key: str, params: dict[str, str], status: int, reason: str
) -> None:
    uploads = "UU" + youtube_world(world_for()).channels()[0].channel_id[2:]
    params = {k: (uploads if v == "UUx" else v) for k, v in params.items()}
    response = _get(simulator, "playlistItems", key, **params)
    assert response.status_code == status
    error = response.json()["error"]
    assert error["code"] == status and error["errors"][0]["reason"].startswith(reason)
    assert error["message"] == error["errors"][0]["message"]


def test_videos_list_statistics_are_strings_and_grow_with_age(
    simulator: SimulatorServer, yt: Any
) -> None:
    video = next(v for c in yt.channels() for v in yt.videos_on(c, DAY) if not v.comments_disabled)
    seen = []
    for hours in (2, 26, 24 * 6):
        now = datetime.fromtimestamp(video.published_ms / 1000, UTC) + timedelta(hours=hours)
        body = _get(
            simulator,
            "videos",
            issue_token(now),
            part="snippet,statistics,contentDetails",
            id=f"{video.video_id},AAAAAAAAAAA",
        ).json()
        (item,) = body["items"]
        stats = item["statistics"]
        assert set(stats) == {"viewCount", "likeCount", "favoriteCount", "commentCount"}
        assert all(isinstance(v, str) for v in stats.values())
        assert item["contentDetails"]["duration"].startswith("PT")
        seen.append({k: int(v) for k, v in stats.items()})
    assert [s["viewCount"] for s in seen] == sorted(s["viewCount"] for s in seen)
    assert 0.005 <= seen[-1]["likeCount"] / seen[-1]["viewCount"] <= 0.06
    assert 100 <= seen[-1]["viewCount"] <= 200_000


def test_comments_disabled_video_has_no_comment_count_and_refuses_threads(
    simulator: SimulatorServer, key: str, yt: Any
) -> None:
    video = next(
        v
        for c in yt.channels()
        for back in range(TRAILING_DAYS)
        for v in yt.videos_on(c, DAY - timedelta(days=back))
        if v.comments_disabled
    )
    stats = _get(simulator, "videos", key, part="statistics", id=video.video_id).json()
    assert "commentCount" not in stats["items"][0]["statistics"]
    response = _get(simulator, "commentThreads", key, part="snippet", videoId=video.video_id)
    assert response.status_code == 403
    (error,) = response.json()["error"]["errors"]
    assert (error["reason"], error["domain"], error["location"]) == (
        "commentsDisabled",
        "youtube.commentThread",
        "videoId",
    )
    unknown = _get(simulator, "commentThreads", key, part="snippet", videoId="AAAAAAAAAAA")
    assert unknown.status_code == 404
    assert unknown.json()["error"]["errors"][0]["reason"] == "videoNotFound"


def test_threads_page_and_long_threads_continue_in_comments_list(
    simulator: SimulatorServer, key: str, yt: Any
) -> None:
    video = _busy_video(yt)
    channel_id = video.channel.channel_id
    threads = _walk(
        simulator,
        "commentThreads",
        key,
        part="snippet,replies",
        videoId=video.video_id,
        maxResults=7,
        order="time",
        textFormat="plainText",
    )
    everything = _walk(
        simulator, "commentThreads", key, part="snippet", videoId=video.video_id, maxResults=100
    )
    assert [t["id"] for t in threads] == [t["id"] for t in everything]
    times = [t["snippet"]["topLevelComment"]["snippet"]["publishedAt"] for t in threads]
    assert times == sorted(times, reverse=True)
    long = next(t for t in threads if t["snippet"]["totalReplyCount"] > 5)
    assert len(long["replies"]["comments"]) == 5
    replies = _walk(
        simulator,
        "comments",
        key,
        part="snippet",
        parentId=long["id"],
        maxResults=3,
        textFormat="plainText",
    )
    assert len(replies) == long["snippet"]["totalReplyCount"]
    assert {r["snippet"]["parentId"] for r in replies} == {long["id"]}
    top = long["snippet"]["topLevelComment"]["snippet"]
    assert top["authorChannelId"]["value"].startswith("UC")
    assert top["authorDisplayName"].startswith("@") and top["textDisplay"] == top["textOriginal"]
    assert {"likeCount", "publishedAt", "updatedAt", "videoId", "channelId"} <= set(top)
    assert all(t["snippet"]["channelId"] == channel_id for t in threads)


def test_the_channels_own_replies_carry_its_channel_id(key: str, yt: Any) -> None:
    comments = [
        c for channel in yt.channels() for c in yt.comments_on(channel, DAY) if c.by_channel
    ]
    assert comments
    api = YouTubeApi(world_for())
    reply = comments[0]
    body = _call(api, "comments", RUN_TIME, part="snippet", id=reply.comment_id, key=key)
    (item,) = _body(body.body)["items"]
    video = yt.video(reply.video_id)
    assert item["snippet"]["authorChannelId"]["value"] == video.channel.channel_id
    assert item["snippet"]["authorDisplayName"] == video.channel.custom_url


def test_search_is_not_served(simulator: SimulatorServer, key: str) -> None:
    response = _get(simulator, "search", key, part="snippet", q="embassy")
    assert response.status_code == 404
    assert response.json()["error"]["message"] == "Method not found."


def test_no_key_gets_the_real_403(simulator: SimulatorServer) -> None:
    response = _get(simulator, "channels", part="snippet", forHandle="@PakistanInUK")
    assert response.status_code == 403
    assert response.json()["error"]["errors"] == [
        {
            "message": "The request is missing a valid API key.",
            "domain": "global",
            "reason": "forbidden",
        }
    ]


def test_an_expired_key_gets_key_invalid_on_every_call() -> None:
    api = YouTubeApi(world_for(), modes=frozenset({EXPIRED_TOKEN_PREFIX + "youtube"}))
    response = _call(api, "channels", RUN_TIME, part="id", forHandle="@x", key="k" * 39)
    assert response.status == 400
    error = _body(response.body)["error"]
    assert error["message"] == "API key expired. Please renew the API key."
    assert error["errors"][0]["reason"] == "keyInvalid"


def test_quota_is_10000_units_per_key_per_pacific_day() -> None:
    api = YouTubeApi(world_for(), daily_quota=3)
    before_midnight = datetime(2025, 10, 9, 6, 59, tzinfo=UTC)  # 23:59 PDT
    after_midnight = before_midnight + timedelta(minutes=2)
    call = {"part": "id", "forHandle": "@PakistanInUK"}
    statuses = [
        _call(api, "channels", before_midnight, **call, key="a" * 39).status for _ in "1234"
    ]
    assert statuses == [200, 200, 200, 403]
    refused = _body(_call(api, "channels", before_midnight, **call, key="a" * 39).body)
    (error,) = refused["error"]["errors"]
    assert (error["domain"], error["reason"]) == ("youtube.quota", "quotaExceeded")
    assert _call(api, "channels", after_midnight, **call, key="a" * 39).status == 200
    assert _call(api, "channels", before_midnight, **call, key="b" * 39).status == 200
    assert api.units_spent("a" * 39, before_midnight) == 3
    assert api.units_spent("a" * 39, after_midnight) == 1
    assert YouTubeApi(world_for()).daily_quota == 10_000


@pytest.mark.parametrize(
    "fault,status,reason,retry_after",
    [
        (Fault(RATE_LIMIT, 2), 403, "rateLimitExceeded", None),
        (Fault(RATE_LIMIT, 3), 429, "rateLimitExceeded", "1"),
        (Fault(SERVER_ERROR, 2), 500, "backendError", None),
        (Fault(SERVER_ERROR, 3), 503, "backendError", None),
    ],
)
def test_faults_use_youtubes_bodies(
    fault: Fault, status: int, reason: str, retry_after: str | None
) -> None:
    request = Request("GET", f"{V3}/videos", {}, {})
    response = YouTubeApi(world_for()).fault_response(fault, request)
    assert response.status == status
    assert _body(response.body)["error"]["errors"][0]["reason"] == reason
    assert response.headers.get("retry-after") == retry_after


def test_drift_changes_the_shape_not_the_data(yt: Any) -> None:
    channel = next(c for c in yt.channels() if c.visible_at(to_ms(RUN_TIME)))
    call = {"part": "snippet,statistics,brandingSettings", "id": channel.channel_id}
    plain = _call(YouTubeApi(world_for()), "channels", RUN_TIME, **call, key="k" * 39)
    drifted = _call(
        YouTubeApi(world_for(), modes=frozenset({DRIFT})),
        "channels",
        RUN_TIME,
        **call,
        key="k" * 39,
    )
    before = _body(plain.body)["items"][0]
    after = _body(drifted.body)["items"][0]
    assert after["id"] == before["id"] and after["statistics"] == before["statistics"]
    assert list(after) != list(before) and "localizations" in after


def test_ids_have_youtubes_shapes_and_lead_back_to_their_objects(yt: Any) -> None:
    channel = yt.channels()[0]
    video = next(v for d in range(60) for v in yt.videos_on(channel, DAY - timedelta(days=d)))
    assert len(video.video_id) == 11 and video.video_id[-1] in "AEIMQUYcgkosw048"
    assert yt.video(video.video_id) == video
    assert video_number_of("AAAAAAAAAAB") is None and yt.video("AAAAAAAAAAA") is None
    thread = thread_id_of(video.number, 17)
    assert len(thread) == 26 and thread.startswith("Ug") and thread.endswith("4AaABAg")
    assert decode_thread_id(thread) == (video.number, 17)
    assert decode_thread_id(thread[:-8] + "x4AaABAg") is None
    assert iso_duration(3723) == "PT1H2M3S" and iso_duration(45) == "PT45S"
    assert three_significant(123_456) == 123_000 and three_significant(999) == 999


def _day_volumes(yt: Any, days: int) -> Iterator[tuple[int, int, int, int, int]]:
    for offset in range(days):
        day = DAY - timedelta(days=offset)
        active = [c for c in yt.channels() if c.account.exists and c.account.spec.active_on(day)]
        videos = [v for c in active for v in yt.videos_on(c, day)]
        comments = [x for c in active for x in yt.comments_on(c, day)]
        yield (
            len(videos),
            sum(v.comments_disabled for v in videos),
            len(comments),
            sum(x.by_channel for x in comments),
            sum(x.parent_id is None for x in comments),
        )


def test_a_day_has_realistic_youtube_volumes(yt: Any) -> None:
    days = list(_day_volumes(yt, 14))
    videos, disabled, comments, by_channel, threads = (sum(col) for col in zip(*days, strict=True))
    assert all(8 <= d[0] <= 50 for d in days) and 15 <= videos / 14 <= 40
    assert 0.04 <= disabled / videos <= 0.2
    assert 800 <= comments / 14 <= 3_500
    assert 0.04 <= by_channel / threads <= 0.12  # threads the channel answers


def test_no_video_gets_more_comments_than_views(yt: Any) -> None:
    """The thread count's heavy tail (8x on 1 % of videos) once gave a small channel's video
    3,713 comments on 506 views: views follow the threads (VIEWS_PER_THREAD)."""
    checked = 0
    for channel in yt.channels():
        for back in range(60):
            for video in yt.videos_on(channel, DAY - timedelta(days=back)):
                assert video.views >= video.thread_count * VIEWS_PER_THREAD, video.video_id
                done = yt.video_stats(video, video.published_ms + 7 * 86_400_000)
                assert done.comments <= done.views, (video.video_id, done)
                checked += 1
    assert checked > 500
