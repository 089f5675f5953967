"""The ground truth agrees with what a correct client finds through the API."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import requests

from missionpulse.registry import load_registry
from missionpulse.simulator.server import SimulatorServer
from missionpulse.simulator.truth import expected_posts, truth
from tests.simulator.support import DAY, DAY_START, RUN_TIME, day_bounds, rfc3339

Session = Callable[..., requests.Session]


def _pages(
    session: requests.Session, url: str, params: dict[str, Any], token: str
) -> Iterator[dict[str, Any]]:
    while True:
        response = session.get(url, params=params, timeout=10)
        assert response.status_code == 200, response.text
        body = response.json()
        yield body
        if "next_token" not in body["meta"]:
            return
        params = {**params, token: body["meta"]["next_token"]}


def _queries(conversation_ids: list[str]) -> list[str]:
    queries: list[str] = []
    for cid in conversation_ids:
        term = f"conversation_id:{cid}"
        if queries and len(f"{queries[-1]} OR {term}") <= 512:
            queries[-1] = f"{queries[-1]} OR {term}"
        else:
            queries.append(term)
    return queries


def test_walking_the_api_finds_exactly_the_truth(
    simulator: SimulatorServer, x_session: Session
) -> None:
    """Profiles, the day's posts, and every reply created that day in the week's conversations."""
    session, base = x_session(RUN_TIME), simulator.base_url
    handles = [h.handle for h in load_registry().handles_for("x", DAY)]
    users = []
    for i in range(0, len(handles), 100):
        batch = ",".join(handles[i : i + 100])
        users += session.get(f"{base}/2/users/by", params={"usernames": batch}).json()["data"]
    day_start, day_end = day_bounds()
    week_start = rfc3339(DAY_START - timedelta(days=6))
    posts: dict[tuple[str, str], int] = {}
    comments: dict[str, dict[str, Any]] = {}
    for user in users:
        timeline = {
            "start_time": week_start,
            "end_time": day_end,
            "max_results": 100,
            "exclude": "replies,retweets",
            "tweet.fields": "created_at",
        }
        recent = [
            t
            for page in _pages(
                session, f"{base}/2/users/{user['id']}/tweets", timeline, "pagination_token"
            )
            for t in page.get("data", [])
        ]
        posts[("x", user["username"])] = sum(day_start <= t["created_at"] < day_end for t in recent)
        for query in _queries([t["id"] for t in recent]):
            search = {
                "query": query,
                "start_time": day_start,
                "end_time": day_end,
                "max_results": 100,
                "tweet.fields": "author_id",
            }
            for page in _pages(session, f"{base}/2/tweets/search/recent", search, "next_token"):
                comments.update((t["id"], t) for t in page.get("data", []))
    mission_ids = {u["id"] for u in users}
    expected = truth(DAY)["platforms"]["x"]
    assert len(users) == expected["profiles"]
    assert sum(posts.values()) == expected["posts"]
    assert posts == expected_posts(DAY)
    assert len(comments) == expected["comments"]
    assert (
        sum(t["author_id"] in mission_ids for t in comments.values()) == expected["mission_replies"]
    )


def test_truth_is_json_and_counts_only_what_existed_at_as_of() -> None:
    full = truth(DAY)
    assert json.loads(json.dumps(full)) == full
    assert full["date"] == "2025-10-08" and full["as_of"] == "2025-10-09T02:00:00+00:00"
    x = full["platforms"]["x"]
    assert sum(x["comments_by_label"].values()) == x["audience_comments"]
    assert sum(x["comments_by_language"].values()) == x["audience_comments"]
    assert x["audience_comments"] + x["mission_replies"] == x["comments"]
    noon = truth(DAY, as_of=datetime(2025, 10, 8, 12, tzinfo=UTC))["platforms"]["x"]
    assert noon["profiles"] == x["profiles"]
    assert 0 < noon["posts"] < x["posts"] and 0 < noon["comments"] < x["comments"]
