"""Facebook Pages and Instagram on the wire: paths, fields, paging, insights, errors, modes."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests

from missionpulse.simulator.faults import (
    DEPRECATED_METRIC,
    DRIFT,
    EXPIRED_TOKEN_PREFIX,
    RATE_LIMIT,
    SERVER_ERROR,
    Fault,
    FaultProfile,
)
from missionpulse.simulator.graph_api import GraphApi
from missionpulse.simulator.messages import Request
from missionpulse.simulator.server import SimulatorServer, start_in_thread
from missionpulse.simulator.tokens import issue_token
from missionpulse.simulator.truth import truth
from missionpulse.simulator.world import Account, Post, day_start_ms, to_ms, world_for
from missionpulse.simulator.world_graph import fb_post_id, ig_media_id, platform_truth
from tests.simulator.support import DAY, RUN_TIME

PAGE_ID = "7879006889930741"  # EmbassyOfPakistanUSA in the example registry
IG_USER_ID = "17841652854856539"  # pakinusa
AFTER_RETIREMENT = datetime(2025, 12, 2, 2, 0, tzinfo=UTC)


def graph(base: str, path: str, now: datetime = RUN_TIME, **params: Any) -> requests.Response:
    return requests.get(
        f"{base}/v21.0/{path}", params={**params, "access_token": issue_token(now)}, timeout=10
    )


@pytest.fixture(scope="module")
def modes_server() -> Iterator[SimulatorServer]:
    """One simulator with every Graph mode on: drift, deprecated metric, expired FB token."""
    profile = FaultProfile(
        "graph-modes",
        0.0,
        (),
        frozenset({DRIFT, DEPRECATED_METRIC, EXPIRED_TOKEN_PREFIX + "facebook"}),
    )
    server = start_in_thread(faults=profile)
    yield server
    server.shutdown()


def _account(platform: str, handle: str) -> Account:
    account = world_for().account_by_handle(platform, handle)
    assert account is not None
    return account


def _post_with_answers(platform: str) -> tuple[Account, Post]:
    world = world_for()
    for account in world.accounts(platform):
        for post in world.posts_on(account, DAY):
            if post.answers and max(a.created_ms for a in post.answers) < day_start_ms(DAY) + (
                26 * 3_600_000
            ):
                return account, post
    raise AssertionError("no post with answers on DAY")


def test_page_by_username_or_id_returns_the_requested_fields(simulator: SimulatorServer) -> None:
    fields = "id,name,username,fan_count,followers_count,verification_status,picture{url},link"
    by_name = graph(simulator.base_url, "EmbassyOfPakistanUSA", fields=fields)
    by_id = graph(simulator.base_url, PAGE_ID, fields=fields)

    assert by_name.status_code == 200 and by_name.json() == by_id.json()
    page = by_id.json()
    assert set(page) == set(fields.replace("{url}", "").split(","))
    assert page["id"] == PAGE_ID and page["username"] == "EmbassyOfPakistanUSA"
    assert set(page["picture"]["data"]) == {"url"}
    assert 0 < page["fan_count"] < page["followers_count"]
    assert graph(simulator.base_url, PAGE_ID).json() == {"name": page["name"], "id": PAGE_ID}


def test_published_posts_page_by_cursor_and_stop_only_without_next(
    simulator: SimulatorServer,
) -> None:
    account = _account("facebook", "EmbassyOfPakistanUSA")
    expected = [fb_post_id(account, p) for p in reversed(world_for().posts_on(account, DAY))]
    params = {"fields": "id,created_time", "since": DAY.isoformat(), "until": "2025-10-09"}
    seen, body = [], graph(simulator.base_url, f"{PAGE_ID}/published_posts", limit=3, **params)
    while True:
        page = body.json()
        seen += [post["id"] for post in page["data"]]
        assert "after" in page["paging"]["cursors"]  # present on the last page too
        if "next" not in page["paging"]:
            break
        assert "access_token=" in page["paging"]["next"]  # as Graph's own next links
        body = requests.get(page["paging"]["next"], timeout=10)

    assert seen == expected and len(expected) > 3  # newest first, nothing twice
    beyond = graph(
        simulator.base_url,
        f"{PAGE_ID}/published_posts",
        limit=3,
        after=page["paging"]["cursors"]["after"],
        **params,
    )
    assert beyond.json() == {"data": []}


def test_an_unbounded_media_listing_starts_with_the_newest(simulator: SimulatorServer) -> None:
    account = _account("instagram", "pakinusa")
    posts = [
        post
        for day in (DAY, DAY + timedelta(days=1))
        for post in world_for().posts_on(account, day)
        if post.created_ms <= to_ms(RUN_TIME)
    ]
    body = graph(simulator.base_url, f"{IG_USER_ID}/media", fields="id,timestamp", limit=2).json()

    assert [m["id"] for m in body["data"]] == [ig_media_id(p) for p in reversed(posts)][:2]
    assert "next" in body["paging"]


def test_stream_comments_hold_the_pages_replies_with_their_parent(
    simulator: SimulatorServer,
) -> None:
    account, post = _post_with_answers("facebook")
    path = f"{fb_post_id(account, post)}/comments"
    fields = "id,message,created_time,from,parent"
    stream = graph(simulator.base_url, path, fields=fields, filter="stream", limit=100).json()
    top = graph(simulator.base_url, path, fields=fields, limit=100).json()

    replies = [c for c in stream["data"] if "parent" in c]
    assert replies and all(c["from"]["id"] == account.uid for c in replies)
    assert all(c["parent"]["from"]["id"] != account.uid for c in replies)
    assert {c["id"] for c in top["data"]} == {c["id"] for c in stream["data"] if "parent" not in c}
    audience = [c for c in stream["data"] if c["from"]["id"] != account.uid]
    assert all(set(c["from"]) == {"id", "name"} for c in audience)


def test_instagram_comments_nest_the_accounts_replies(simulator: SimulatorServer) -> None:
    account, post = _post_with_answers("instagram")
    comments: list[dict[str, Any]] = []
    params: dict[str, Any] = {
        "fields": "id,text,timestamp,username,from,replies{id,username,from,parent_id}",
        "limit": 100,
    }
    while True:  # every page: the answered comment need not be on the first one
        body = graph(simulator.base_url, f"{ig_media_id(post)}/comments", **params).json()
        comments += body["data"]
        if "next" not in body.get("paging", {}):
            break
        params["after"] = body["paging"]["cursors"]["after"]
    replies = [r for c in comments for r in c.get("replies", {}).get("data", [])]

    assert replies and all(r["username"] == account.handle for r in replies)
    assert all(r["from"]["id"] == account.uid for r in replies)
    parents = {c["id"] for c in comments if "replies" in c}
    assert {r["parent_id"] for r in replies} <= parents


def test_retired_metrics_are_refused_from_their_date(simulator: SimulatorServer) -> None:
    base = simulator.base_url
    before = graph(base, f"{PAGE_ID}/insights", metric="page_impressions,page_fans")
    after = graph(base, f"{PAGE_ID}/insights", now=AFTER_RETIREMENT, metric="page_impressions")
    current = graph(
        base,
        f"{PAGE_ID}/insights",
        now=AFTER_RETIREMENT,
        metric="page_media_view,page_follows,page_daily_follows_unique,page_post_engagements",
        period="day",
        since="2025-11-30",
        until="2025-12-01",
    )

    assert before.status_code == 200
    assert after.status_code == 400
    error = after.json()["error"]
    assert {k: v for k, v in error.items() if k != "fbtrace_id"} == {
        "message": "(#100) The value must be a valid insights metric",
        "type": "OAuthException",
        "code": 100,
    }
    data = current.json()["data"]
    assert [m["name"] for m in data] == [
        "page_media_view",
        "page_follows",
        "page_daily_follows_unique",
        "page_post_engagements",
    ]
    assert all(m["values"] == [m["values"][0]] and m["values"][0]["value"] > 0 for m in data)
    assert data[0]["values"][0]["end_time"] == "2025-12-01T00:00:00+0000"
    assert "next" in current.json()["paging"]  # the next time range, not more rows
    media = ig_media_id(world_for().posts_on(_account("instagram", "pakinusa"), DAY)[0])
    refused = graph(base, f"{media}/insights", metric="views,impressions")
    assert refused.status_code == 400
    assert refused.json()["error"]["message"].startswith(
        "(#100) metric[1] must be one of the following values: views, reach"
    )
    post = fb_post_id(
        _account("facebook", "EmbassyOfPakistanUSA"),
        world_for().posts_on(_account("facebook", "EmbassyOfPakistanUSA"), DAY)[0],
    )
    assert graph(base, f"{post}/insights", metric="post_media_view").status_code == 200
    assert (
        graph(base, f"{post}/insights", now=AFTER_RETIREMENT, metric="post_impressions").json()[
            "error"
        ]["code"]
        == 100
    )


def test_instagram_counters_keep_settling_for_48_hours(simulator: SimulatorServer) -> None:
    post = world_for().posts_on(_account("instagram", "pakinusa"), DAY)[0]
    posted = datetime.fromtimestamp(post.created_ms / 1000, UTC)
    fields = "like_count,comments_count"

    def seen(hours: float) -> tuple[int, ...]:
        now = posted + timedelta(hours=hours)
        media = graph(simulator.base_url, ig_media_id(post), now=now, fields=fields).json()
        insights = graph(
            simulator.base_url, f"{ig_media_id(post)}/insights", now=now, metric="views,saved"
        ).json()
        values = [m["values"][0]["value"] for m in insights["data"]]
        return (media["like_count"], media["comments_count"], *values)

    early, later, settled, after = seen(3), seen(27), seen(48), seen(80)
    assert all(a <= b for a, b in zip(early, later, strict=True)) and early != later
    assert later[0] < settled[0] == after[0] and settled[2] == after[2]


def test_graph_errors_for_token_objects_fields_and_paths(simulator: SimulatorServer) -> None:
    base = simulator.base_url
    no_token = requests.get(f"{base}/v21.0/{PAGE_ID}", timeout=10)
    assert no_token.status_code == 400
    assert no_token.json()["error"]["code"] == 104
    alias = graph(base, "NoSuchPageAnywhere").json()["error"]
    assert alias["code"] == 803 and "NoSuchPageAnywhere" in alias["message"]
    missing = graph(base, "123456789").json()["error"]
    assert (missing["code"], missing["error_subcode"]) == (100, 33)
    assert missing["type"] == "GraphMethodException"
    field = graph(base, PAGE_ID, fields="id,colour").json()["error"]
    assert (
        field["message"] == "(#100) Tried accessing nonexisting field (colour) on node type (Page)"
    )
    assert graph(base, PAGE_ID, fields="id,{").json()["error"]["code"] == 2500
    assert graph(base, f"{PAGE_ID}/videos").json()["error"]["code"] == 2500
    for version in ("v19.0", "v23.0"):
        response = requests.get(
            f"{base}/{version}/{IG_USER_ID}",
            params={"access_token": issue_token(RUN_TIME)},
            timeout=10,
        )
        assert response.status_code == 200 and response.headers["facebook-api-version"] == version


def test_every_answer_carries_usage_headers(simulator: SimulatorServer) -> None:
    response = graph(simulator.base_url, PAGE_ID)
    assert set(json.loads(response.headers["x-app-usage"])) == {
        "call_count",
        "total_cputime",
        "total_time",
    }
    usage = json.loads(response.headers["x-business-use-case-usage"])
    assert usage[PAGE_ID][0]["type"] == "pages"
    assert usage[PAGE_ID][0]["estimated_time_to_regain_access"] == 0


def test_fault_bodies_are_graphs_throttling_and_server_errors() -> None:
    api = GraphApi(world_for())
    request = Request("GET", f"/v21.0/{IG_USER_ID}/media", {}, {"host": "localhost"})
    throttles = [api.fault_response(Fault(RATE_LIMIT, variant), request) for variant in range(5)]
    errors = [json.loads(r.body)["error"] for r in throttles]
    assert [e["code"] for e in errors] == [4, 17, 32, 613, 80002]
    assert {r.status for r in throttles} == {400, 403}
    assert all(e["type"] == "OAuthException" and e["fbtrace_id"] for e in errors)
    usage = json.loads(throttles[0].headers["x-business-use-case-usage"])[IG_USER_ID][0]
    assert usage["estimated_time_to_regain_access"] == 1 and usage["call_count"] == 100
    failures = [api.fault_response(Fault(SERVER_ERROR, variant), request) for variant in (0, 1)]
    assert {json.loads(r.body)["error"]["code"] for r in failures} == {1, 2}
    assert {r.status for r in failures} == {500}


def test_modes_expire_only_facebook_retire_more_metrics_and_drift(
    modes_server: SimulatorServer,
) -> None:
    base = modes_server.base_url
    expired = graph(base, PAGE_ID).json()["error"]
    assert (expired["code"], expired["error_subcode"], expired["type"]) == (
        190,
        463,
        "OAuthException",
    )
    assert expired["message"].startswith("Error validating access token: Session has expired on")
    user = graph(base, IG_USER_ID, fields="id,username,biography,followers_count")
    assert user.status_code == 200
    assert list(user.json())[0] != "id"  # keys come reversed under drift
    assert "has_transitioned_to_new_page_experience" in user.json()
    media = ig_media_id(world_for().posts_on(_account("instagram", "pakinusa"), DAY)[0])
    assert graph(base, f"{media}/insights", metric="views").status_code == 200
    reach = graph(base, f"{media}/insights", metric="reach").json()["error"]
    assert reach["message"].startswith("(#100) metric[0] must be one of the following values:")
    assert "reach" not in reach["message"]


def test_a_day_has_realistic_facebook_and_instagram_volumes() -> None:
    world = world_for()
    volumes = {}
    for platform in ("facebook", "instagram"):
        accounts = [a for a in world.accounts(platform) if a.exists and a.spec.active_on(DAY)]
        posts = [p for a in accounts for p in world.posts_on(a, DAY)]
        comments = [c for a in accounts for c in world.comments_on(a, DAY)]
        assert any(c.by_mission for c in comments)
        shares = sorted(
            p.likes / world.followers_at(a, p.created_ms)
            for a in accounts
            for p in world.posts_on(a, DAY)
        )
        assert 0.0005 <= shares[len(shares) // 2] <= 0.01  # a typical post: 0.05%-1%
        volumes[platform] = (len(posts), len(comments))
    assert 350 <= volumes["facebook"][0] <= 500 and 8_000 <= volumes["facebook"][1] <= 12_000
    assert 200 <= volumes["instagram"][0] <= 350 and 5_000 <= volumes["instagram"][1] <= 8_000


def test_truth_counts_what_the_graph_api_can_reach() -> None:
    world = world_for()
    as_of = to_ms(RUN_TIME)
    counts = truth(DAY)["platforms"]
    assert counts["facebook"] == platform_truth(world, "facebook", DAY, as_of)
    # Instagram can only be reached through an account id: truth counts those handles
    with_ids = [a.handle for a in world.accounts("instagram") if a.spec.platform_account_id]
    assert counts["instagram"] == platform_truth(world, "instagram", DAY, as_of, with_ids)
    fewer = platform_truth(world, "instagram", DAY, as_of, with_ids[1:])
    assert fewer["profiles"] == counts["instagram"]["profiles"] - 1
