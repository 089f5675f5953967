"""The YouTube extractor: parsing, error classes, retries, quota, privacy, and the truth."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests
import responses

from extractors.common.errors import AuthError, NotFoundError, RateLimitedError, RetriableError
from extractors.common.http import ApiClient, RetryPolicy
from extractors.common.landing import read_records
from extractors.common.pseudonym import Pseudonymiser
from extractors.common.result import ExtractResult, HandleRef
from extractors.common.window import Window
from extractors.youtube import ENTITIES, make_client, run
from extractors.youtube.client import CommentsDisabledError, QuotaExhaustedError, classify
from extractors.youtube.extract import (
    MissionChannel,
    YouTubeCalls,
    mask_mentions,
    pseudonymise_comment,
    recent_uploads,
    statistic,
    video_comments,
)
from missionpulse.registry import load_registry
from missionpulse.simulator.server import SimulatorServer, start_in_thread
from missionpulse.simulator.tokens import issue_token
from missionpulse.simulator.truth import truth
from missionpulse.simulator.youtube_api import YouTubeApi

BASE = "https://youtube.example.test"
KEY = "AIzaSy-test-key-0123456789abcdefghijklmn"
DAY = date(2025, 10, 8)
WINDOW = Window.for_day(DAY)
RUN_TIME = WINDOW.end + timedelta(hours=2)
PSEUDONYM = Pseudonymiser(b"p" * 32)
MISSION = "UCKdxjvj_ELWr_D6zXVcHdSI"
AUDIENCE = "UCJfgzmlwOQ6T-dcg4Q30CHw"
URL = f"{BASE}/youtube/v3"

# A commentThreads page as YouTube sends it (trimmed to one thread with two replies).
THREADS_PAGE: dict[str, Any] = {
    "kind": "youtube#commentThreadListResponse",
    "etag": "STULhJLbecwSKj_JVLgTifi93bw",
    "pageInfo": {"totalResults": 1, "resultsPerPage": 100},
    "items": [
        {
            "kind": "youtube#commentThread",
            "etag": "x",
            "id": "UgwdjMu8NL-iFAADG5o4AaABAg",
            "snippet": {
                "channelId": MISSION,
                "videoId": "djMu8NL-iFA",
                "topLevelComment": {
                    "kind": "youtube#comment",
                    "id": "UgwdjMu8NL-iFAADG5o4AaABAg",
                    "snippet": {
                        "channelId": MISSION,
                        "videoId": "djMu8NL-iFA",
                        "textDisplay": "When will passport appointments open?",
                        "textOriginal": "When will passport appointments open?",
                        "authorDisplayName": "@rwalker-81z",
                        "authorProfileImageUrl": "https://yt3.ggpht.com/ytc/abc=s48",
                        "authorChannelUrl": "http://www.youtube.com/@rwalker-81z",
                        "authorChannelId": {"value": AUDIENCE},
                        "likeCount": 2,
                        "publishedAt": "2025-10-07T21:29:59Z",
                        "updatedAt": "2025-10-07T21:29:59Z",
                    },
                },
                "canReply": True,
                "totalReplyCount": 2,
                "isPublic": True,
            },
            "replies": {
                "comments": [
                    {
                        "kind": "youtube#comment",
                        "id": "UgwdjMu8NL-iFAADG5o4AaABAg.aNqFHulJIB-T_xxT-cRwEr",
                        "snippet": {
                            "videoId": "djMu8NL-iFA",
                            "textOriginal": "@rwalker-81z Appointments open every Monday.",
                            "textDisplay": "@rwalker-81z Appointments open every Monday.",
                            "parentId": "UgwdjMu8NL-iFAADG5o4AaABAg",
                            "authorDisplayName": "@pakistaninuk",
                            "authorChannelId": {"value": MISSION},
                            "publishedAt": "2025-10-08T01:14:30Z",
                            "updatedAt": "2025-10-08T01:14:30Z",
                        },
                    },
                    {
                        "kind": "youtube#comment",
                        "id": "UgwdjMu8NL-iFAADG5o4AaABAg.bbbbbbbbbbbbbbbbbbbbbb",
                        "snippet": {
                            "videoId": "djMu8NL-iFA",
                            "textOriginal": "Same question @pakistaninuk",
                            "parentId": "UgwdjMu8NL-iFAADG5o4AaABAg",
                            "authorDisplayName": "@someone-else",
                            "authorChannelId": {"value": "UC0U-DgTHLPa6lxomzBk28qQ"},
                            "publishedAt": "2025-10-09T00:10:00Z",
                            "updatedAt": "2025-10-09T00:10:00Z",
                        },
                    },
                ]
            },
        }
    ],
}


def google_error(status: int, reason: str, domain: str = "global", message: str = "m") -> dict:
    item = {"message": message, "domain": domain, "reason": reason}
    return {"error": {"code": status, "message": message, "errors": [item]}}


def offline_client(sleeps: list[float], attempts: int = 4) -> ApiClient:
    client = make_client(BASE, KEY, retry=RetryPolicy(max_attempts=attempts, backoff_base_s=1.0))
    client._sleep = sleeps.append  # record waits instead of sleeping
    return client


# --- parsing ------------------------------------------------------------------------------


def test_pseudonymise_drops_audience_identity_and_keeps_the_mission() -> None:
    mission = MissionChannel(MISSION, frozenset({"@pakistaninuk"}))
    thread = THREADS_PAGE["items"][0]
    top = thread["snippet"]["topLevelComment"]
    answer, other = thread["replies"]["comments"]

    audience = pseudonymise_comment(top, mission, PSEUDONYM)["snippet"]
    own = pseudonymise_comment(answer, mission, PSEUDONYM)["snippet"]
    second = pseudonymise_comment(other, mission, PSEUDONYM)["snippet"]

    assert audience["authorChannelId"]["value"] == PSEUDONYM("youtube", AUDIENCE)
    assert not {"authorDisplayName", "authorProfileImageUrl", "authorChannelUrl"} & set(audience)
    assert AUDIENCE not in str(audience) and "rwalker" not in str(audience)
    assert (
        own["authorChannelId"]["value"] == MISSION and own["authorDisplayName"] == "@pakistaninuk"
    )
    assert own["textOriginal"] == "@user Appointments open every Monday."  # the asker masked
    assert second["textOriginal"] == "Same question @pakistaninuk"  # the mission stays
    assert top["snippet"]["authorChannelId"]["value"] == AUDIENCE  # the input is not changed


def test_mentions_are_masked_but_not_email_addresses() -> None:
    text = "@ali-khan write to consular@mofa.gov.pk or ask @PakistanInUK"
    assert (
        mask_mentions(text, frozenset({"@pakistaninuk"}))
        == "@user write to consular@mofa.gov.pk or ask @PakistanInUK"
    )


def test_statistics_are_strings_that_may_be_absent() -> None:
    video = {"statistics": {"viewCount": "4106", "likeCount": "136", "favoriteCount": "0"}}
    assert statistic(video, "viewCount") == 4106
    assert statistic(video, "commentCount") is None
    assert statistic({"statistics": {"likeCount": "lots"}}, "likeCount") is None


@responses.activate
def test_thread_walk_keeps_the_window_and_reads_long_threads_in_full() -> None:
    page = {**THREADS_PAGE, "items": [dict(THREADS_PAGE["items"][0])]}
    page["items"][0]["snippet"] = {**page["items"][0]["snippet"], "totalReplyCount": 3}
    responses.get(f"{URL}/commentThreads", json=page)
    extra = {
        "id": "UgwdjMu8NL-iFAADG5o4AaABAg.cccccccccccccccccccccc",
        "snippet": {"parentId": "x", "publishedAt": "2025-10-08T23:00:00Z"},
    }
    replies = [*THREADS_PAGE["items"][0]["replies"]["comments"], extra]
    responses.get(f"{URL}/comments", json={"items": replies[:2], "nextPageToken": "CAIQAA"})
    responses.get(f"{URL}/comments", json={"items": replies[2:]})
    calls = YouTubeCalls(offline_client([]))

    found = video_comments(calls, "djMu8NL-iFA", WINDOW, "PakistanInUK")

    assert [c.comment["id"][-4:] for c in found] == ["RwEr", "cccc"]  # 7 Oct and 9 Oct left out
    assert [c.method for c in found] == ["comments", "comments"]
    assert calls.meter.total == 3 == len(responses.calls)
    assert "pageToken=CAIQAA" in str(responses.calls[2].request.url)


@responses.activate
def test_uploads_stop_at_the_first_page_older_than_the_week() -> None:
    def item(video_id: str, published: str) -> dict:
        return {"contentDetails": {"videoId": video_id, "videoPublishedAt": published}}

    first = [item("new", "2025-10-09T01:00:00Z"), item("a", "2025-10-08T10:00:00Z")]
    second = [item("b", "2025-10-02T10:00:00Z"), item("old", "2025-09-30T10:00:00Z")]
    responses.get(f"{URL}/playlistItems", json={"items": first, "nextPageToken": "CAIQAA"})
    responses.get(f"{URL}/playlistItems", json={"items": second, "nextPageToken": "CAQQAA"})
    calls = YouTubeCalls(offline_client([]))

    ids = recent_uploads(calls, "UUx", "h", WINDOW.start - timedelta(days=6), WINDOW.end)

    assert ids == ["a", "b"] and len(responses.calls) == 2 and calls.meter.total == 2


# --- errors and retries -------------------------------------------------------------------


def _response(status: int, body: dict, headers: dict[str, str] | None = None) -> requests.Response:
    response = requests.Response()
    response.status_code = status
    response._content = json.dumps(body).encode()
    response.headers.update(headers or {})
    return response


@pytest.mark.parametrize(
    "status,reason,domain,expected",
    [
        (403, "quotaExceeded", "youtube.quota", QuotaExhaustedError),
        (403, "dailyLimitExceeded", "usageLimits", QuotaExhaustedError),
        (403, "rateLimitExceeded", "usageLimits", RateLimitedError),
        (429, "rateLimitExceeded", "global", RateLimitedError),
        (500, "backendError", "global", RetriableError),
        (503, "backendError", "global", RetriableError),
        (400, "keyInvalid", "usageLimits", AuthError),
        (401, "authError", "global", AuthError),
        (403, "commentsDisabled", "youtube.commentThread", CommentsDisabledError),
        (404, "videoNotFound", "youtube.commentThread", NotFoundError),
        (404, "channelNotFound", "youtube.channel", NotFoundError),
    ],
)
def test_error_reasons_map_to_typed_errors(
    status: int, reason: str, domain: str, expected: type
) -> None:
    error = classify(_response(status, google_error(status, reason, domain)), "/videos", "h")
    assert type(error) is expected


def test_quota_and_key_errors_say_what_to_do() -> None:
    quota = classify(
        _response(403, google_error(403, "quotaExceeded", "youtube.quota")), "/v", None
    )
    key = classify(_response(400, google_error(400, "keyInvalid", "usageLimits")), "/v", None)
    assert "midnight Pacific time" in str(quota) and "UTC" in str(quota)
    assert "MISSIONPULSE_YOUTUBE_API_KEY" in str(key)


@responses.activate
def test_each_retriable_error_class_is_retried_and_every_attempt_is_billed() -> None:
    url = f"{URL}/videos"
    responses.get(url, status=503, json=google_error(503, "backendError"))
    responses.get(url, status=403, json=google_error(403, "rateLimitExceeded", "usageLimits"))
    responses.get(
        url, status=429, json=google_error(429, "rateLimitExceeded"), headers={"Retry-After": "7"}
    )
    responses.get(url, body=requests.ConnectionError("connection reset by peer"))
    responses.get(url, json={"items": []})
    sleeps: list[float] = []
    calls = YouTubeCalls(offline_client(sleeps, attempts=6))

    assert calls.get("videos", {"part": "id", "id": "a"}, "PakistanInUK") == {"items": []}

    assert len(sleeps) == 4 and 7.0 <= sleeps[2] < 7.3  # Retry-After honoured
    assert calls.meter.total == 5 == calls.meter.by_handle["PakistanInUK"]
    assert KEY in str(responses.calls[0].request.url)  # the key travels as ?key=


@responses.activate
def test_quota_exhaustion_stops_the_platform_with_units_spent_and_lands_nothing(
    tmp_path: Path,
) -> None:
    channel = {
        "id": MISSION,
        "snippet": {"customUrl": "@pakistaninuk"},
        "contentDetails": {"relatedPlaylists": {"uploads": "UU" + MISSION[2:]}},
    }
    responses.get(f"{URL}/channels", json={"items": [channel]})
    responses.get(
        f"{URL}/playlistItems",
        status=403,
        json=google_error(403, "quotaExceeded", "youtube.quota", "exceeded your quota"),
    )
    handles = [HandleRef("m1", "PakistanInUK", MISSION), HandleRef("m2", "PakHCOther")]

    with pytest.raises(QuotaExhaustedError) as info:
        run(WINDOW, handles, offline_client([]), tmp_path, PSEUDONYM)

    text = str(info.value)
    assert "midnight Pacific time" in text and "this run spent 3 units" in text
    assert KEY not in text and not list(tmp_path.rglob("*.jsonl.gz"))


@responses.activate
def test_a_bad_key_stops_the_platform_naming_the_variable(tmp_path: Path) -> None:
    body = google_error(
        400, "keyInvalid", "usageLimits", "API key expired. Please renew the API key."
    )
    responses.get(f"{URL}/channels", status=400, json=body)

    with pytest.raises(AuthError) as info:
        run(WINDOW, [HandleRef("m", "PakistanInUK")], offline_client([]), tmp_path, PSEUDONYM)

    assert "MISSIONPULSE_YOUTUBE_API_KEY" in str(info.value) and KEY not in str(info.value)


@responses.activate
def test_one_failing_channel_never_stops_the_others(tmp_path: Path) -> None:
    def for_handle(handle: str) -> Any:
        return responses.matchers.query_param_matcher({"forHandle": handle}, strict_match=False)

    channel = {
        "id": MISSION,
        "snippet": {"customUrl": "@pakistaninuk"},
        "contentDetails": {"relatedPlaylists": {"uploads": "UU" + MISSION[2:]}},
    }
    responses.get(
        f"{URL}/channels",
        status=500,
        json=google_error(500, "backendError"),
        match=[for_handle("@PakBroken")],
    )
    responses.get(f"{URL}/channels", json={"items": [channel]}, match=[for_handle("@PakistanInUK")])
    responses.get(
        f"{URL}/playlistItems",
        status=404,
        json=google_error(404, "playlistNotFound", "youtube.playlistItem"),
        match=[responses.matchers.query_param_matcher({"key": KEY}, strict_match=False)],
    )
    handles = [HandleRef("m1", "PakBroken"), HandleRef("m2", "PakistanInUK")]

    result = run(WINDOW, handles, offline_client([], attempts=2), tmp_path, PSEUDONYM)

    assert [(f.handle, f.stage) for f in result.failures] == [
        ("PakBroken", "profile"),
        ("PakistanInUK", "posts"),
    ]
    assert "HTTP 500" in result.failures[0].error and KEY not in result.failures[0].error
    assert read_records(result.manifests["profiles"]) == []  # a failed channel lands nothing
    assert result.stats["quota_units"] == 4  # two attempts, one lookup, one playlist page


def test_no_key_is_refused_before_any_request() -> None:
    with pytest.raises(AuthError, match="MISSIONPULSE_YOUTUBE_API_KEY"):
        make_client(BASE, "")


# --- against the simulator ----------------------------------------------------------------


@pytest.fixture(scope="module")
def servers() -> Iterator[dict[str, SimulatorServer]]:
    started = {name: start_in_thread(faults=name) for name in ("none", "chaos")}
    yield started
    for server in started.values():
        server.shutdown()


def _handles() -> list[HandleRef]:
    refs = [
        HandleRef(h.mission_id, h.handle, h.platform_account_id)
        for h in load_registry().handles_for("youtube", on=DAY)
    ]
    return [*refs, HandleRef("pk-nowhere", "PakNoSuchChannel")]


def _extract(server: SimulatorServer, key: str, root: Path) -> ExtractResult:
    client = make_client(
        server.base_url,
        key,
        retry=RetryPolicy(backoff_base_s=0.001, backoff_cap_s=0.01),
        timeout=(1.0, 0.3),
    )
    client._sleep = lambda seconds: None  # the simulator does not hold a Retry-After against us
    client.media_base = server.base_url + "/__media__"  # the simulator's CDN
    try:
        return run(WINDOW, _handles(), client, root, PSEUDONYM)
    finally:
        client.close()


@pytest.mark.parametrize("faults", ["none", "chaos"])
def test_one_day_lands_exactly_the_truth(
    servers: dict[str, SimulatorServer],
    faults: str,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    key = issue_token(RUN_TIME)
    with caplog.at_level(logging.DEBUG):
        result = _extract(servers[faults], key, tmp_path)

    landed = {entity: read_records(m) for entity, m in result.manifests.items()}
    expected = truth(DAY)["platforms"]["youtube"]
    assert {e: len(rows) for e, rows in landed.items()} == {
        e: expected[e] for e in ("profiles", "posts", "comments")
    }
    missions = {r["data"]["id"] for r in landed["profiles"]}
    authors = [ENTITIES["comments"].keys[4].extract(r) for r in landed["comments"]]
    assert sum(a in missions for a in authors) == expected["mission_replies"] > 0
    assert all(a in missions or a.startswith("anon_") for a in authors)
    audience = [r["data"]["snippet"] for r, a in zip(landed["comments"], authors, strict=True)]
    assert not any(
        "authorDisplayName" in s
        for s, a in zip(audience, authors, strict=True)
        if a not in missions
    )
    failed = {f.handle for f in result.failures}
    assert "PakNoSuchChannel" in failed and len(failed) + len(missions) == len(_handles())
    assert result.stats["comments_disabled_videos"] > 0
    ours = "\n".join(  # the simulator stands in for Google: its own request log is not ours
        r.getMessage() for r in caplog.records if not r.name.startswith("missionpulse.simulator")
    )
    assert "key=REDACTED" in ours and key not in ours
    assert all(key not in f.error for f in result.failures)
    if faults == "none":
        api = next(a for a in servers["none"].apis if isinstance(a, YouTubeApi))
        assert (
            result.stats["quota_units"]
            == api.units_spent(key, RUN_TIME)
            == result.stats["requests"] - result.stats["avatar_downloads"]  # the CDN costs none
        )
        assert sum(result.stats["quota_units_by_handle"].values()) == result.stats["quota_units"]
    else:
        assert result.stats["retries"] > 0


def test_landed_rows_have_typed_keys(servers: dict[str, SimulatorServer], tmp_path: Path) -> None:
    result = _extract(servers["none"], issue_token(RUN_TIME), tmp_path)
    post = read_records(result.manifests["posts"])[0]
    comment = read_records(result.manifests["comments"])[0]
    keys = {k.name: k.extract(post) for k in ENTITIES["posts"].keys}
    assert keys["handle"] and keys["post_id"] and keys["author_id"].startswith("UC")
    assert WINDOW.contains(keys["created_at"])
    comment_keys = {k.name: k.extract(comment) for k in ENTITIES["comments"].keys}
    assert comment_keys["post_id"] == comment["data"]["snippet"]["videoId"]
    assert (
        isinstance(comment_keys["created_at"], datetime)
        and comment_keys["created_at"].tzinfo == UTC
    )
    assert comment["thread"]["id"] == comment_keys["comment_id"].split(".")[0]
