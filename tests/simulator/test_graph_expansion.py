"""Graph field expansion: an edge read inside its parent answers as the edge itself does."""

from __future__ import annotations

from typing import Any

from missionpulse.simulator.server import SimulatorServer
from tests.simulator.support import DAY_START
from tests.simulator.test_graph_api import IG_USER_ID, PAGE_ID, graph

SINCE = str(int(DAY_START.timestamp()))
UNTIL = str(int(DAY_START.timestamp()) + 86_400)
COMMENT_FIELDS = "id,message,created_time,parent"


def _all(base: str, first: dict[str, Any]) -> list[dict[str, Any]]:
    """The rows of an expanded edge and of every page its ``paging.next`` leads to."""
    import requests

    rows, page = list(first.get("data", [])), first
    while (page.get("paging") or {}).get("next"):
        page = requests.get(page["paging"]["next"], timeout=10).json()
        rows += page.get("data", [])
    return rows


def test_expanded_post_comments_equal_the_comments_edge(simulator: SimulatorServer) -> None:
    base = simulator.base_url
    field = (
        f"comments.filter(stream).order(chronological).since({SINCE}).until({UNTIL})"
        f".limit(2).summary(total_count){{{COMMENT_FIELDS}}}"
    )
    posts = graph(
        base, f"{PAGE_ID}/published_posts", fields=f"id,{field}", since=SINCE, until=UNTIL
    ).json()["data"]
    assert posts
    for post in posts:
        expanded = post["comments"]
        assert expanded["summary"]["total_count"] >= 0
        direct = graph(
            base,
            f"{post['id']}/comments",
            fields=COMMENT_FIELDS,
            filter="stream",
            order="chronological",
            since=SINCE,
            until=UNTIL,
            limit=100,
        ).json()
        assert _all(base, expanded) == _all(base, direct)
        assert len(expanded.get("data", [])) <= 2


def test_a_summary_alone_has_no_rows(simulator: SimulatorServer) -> None:
    posts = graph(
        simulator.base_url,
        f"{PAGE_ID}/published_posts",
        fields="id,comments.summary(total_count).limit(0)",
        since=SINCE,
        until=UNTIL,
    ).json()["data"]
    assert all(p["comments"]["data"] == [] and "paging" not in p["comments"] for p in posts)


def test_expanded_media_comments_equal_the_comments_edge(simulator: SimulatorServer) -> None:
    base = simulator.base_url
    fields = "id,text,timestamp,replies{id,text,parent_id}"
    media = graph(
        base, f"{IG_USER_ID}/media", fields=f"id,comments.limit(3){{{fields}}}", limit=10
    ).json()["data"]
    assert media
    for item in media:
        direct = graph(base, f"{item['id']}/comments", fields=fields, limit=100).json()
        assert _all(base, item.get("comments", {"data": []})) == _all(base, direct)
