"""The Facebook and Instagram extractors: parsing recorded payloads, and whole runs against
the simulator (clean and under chaos) that must land exactly the simulator's truth."""

from __future__ import annotations

import gzip
import logging
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

import extractors.facebook as facebook
import extractors.instagram as instagram
from extractors.common.http import RetryPolicy
from extractors.common.landing import read_records
from extractors.common.pseudonym import Pseudonymiser
from extractors.common.result import HandleRef
from extractors.common.window import Window
from extractors.facebook.extract import clean_comment as clean_fb_comment
from extractors.facebook.extract import insight_records
from extractors.instagram.extract import clean_comment as clean_ig_comment
from extractors.instagram.extract import flatten_comments, media_observation
from missionpulse.registry import load_registry
from missionpulse.simulator.server import SimulatorServer, start_in_thread
from missionpulse.simulator.tokens import issue_token
from missionpulse.simulator.truth import default_as_of
from missionpulse.simulator.world import to_ms, world_for
from missionpulse.simulator.world_graph import platform_truth

DAY = date(2025, 10, 8)
PSEUDONYM = Pseudonymiser(b"k" * 32)
PAGE_ID = "7879006889930741"
IG_USER_ID = "17841652854856539"

# --- recorded payloads ---------------------------------------------------------------------

FB_REPLY = {
    "id": "1000019740244228_1065644645918107",
    "message": "Please send us a direct message with your details.",
    "created_time": "2025-10-08T23:42:37+0000",
    "from": {"name": "Pakistan Embassy Washington", "id": PAGE_ID},
    "parent": {
        "created_time": "2025-10-08T22:42:37+0000",
        "from": {"name": "Laura Wilson", "id": "8018625319143208"},
        "message": "When do visa appointments open?",
        "id": "1000019740244228_1054647734481509",
    },
}
FB_INSIGHTS = {
    "views": {
        "name": "page_media_view",
        "period": "day",
        "values": [{"value": 2161967, "end_time": "2025-10-09T00:00:00+0000"}],
        "title": "Daily Total Media Views",
        "id": f"{PAGE_ID}/insights/page_media_view/day",
    }
}
IG_COMMENT = {
    "id": "17865917144329610",
    "text": "Is this open to everyone or only invited guests?",
    "timestamp": "2025-10-09T01:50:55+0000",
    "username": "staylor_1pa",
    "from": {"id": "17841493167074240", "username": "staylor_1pa"},
    "like_count": 0,
    "replies": {
        "data": [
            {
                "id": "17838044088302874",
                "text": "Everyone is welcome!",
                "timestamp": "2025-10-09T02:50:55+0000",
                "username": "pakinusa",
                "from": {"id": IG_USER_ID, "username": "pakinusa"},
                "like_count": 1,
            }
        ]
    },
}


def test_facebook_comments_keep_the_page_and_pseudonymise_everyone_else() -> None:
    reply = clean_fb_comment(FB_REPLY, PAGE_ID, PSEUDONYM)
    question = clean_fb_comment(
        {**FB_REPLY["parent"], "id": FB_REPLY["parent"]["id"]}, PAGE_ID, PSEUDONYM
    )

    assert reply["from"] == {"id": PAGE_ID}
    assert reply["parent"] == {
        "id": "1000019740244228_1054647734481509",
        "from": {"id": PSEUDONYM("facebook", "8018625319143208")},
    }
    assert question["from"] == reply["parent"]["from"]
    assert "Laura Wilson" not in repr([reply, question])
    assert reply["message"] == FB_REPLY["message"]


def test_facebook_insights_become_one_record_per_metric_and_day() -> None:
    assert insight_records(PAGE_ID, FB_INSIGHTS) == [
        {
            "page_id": PAGE_ID,
            "metric": "views",
            "name": "page_media_view",
            "period": "day",
            "end_time": "2025-10-09T00:00:00+0000",
            "value": 2161967,
        }
    ]


def test_instagram_replies_are_flattened_and_usernames_dropped_for_the_audience() -> None:
    flat = [
        clean_ig_comment(c, IG_USER_ID, "pakinusa", PSEUDONYM)
        for c in flatten_comments([IG_COMMENT])
    ]

    question, answer = flat
    assert "replies" not in question and "username" not in question
    assert question["from"] == {"id": PSEUDONYM("instagram", "17841493167074240")}
    assert answer["from"] == {"id": IG_USER_ID} and answer["username"] == "pakinusa"
    assert answer["parent_id"] == IG_COMMENT["id"]
    assert answer["parent"] == {"id": IG_COMMENT["id"], "from": question["from"]}
    assert "staylor" not in repr(flat)


def test_an_instagram_comment_without_from_is_keyed_by_a_pseudonymised_username() -> None:
    hidden = {k: v for k, v in IG_COMMENT.items() if k not in ("from", "replies")}
    cleaned = clean_ig_comment(hidden, IG_USER_ID, "pakinusa", PSEUDONYM)
    assert cleaned["from"]["id"].startswith("anon_") and "staylor" not in repr(cleaned)


def test_a_media_observation_holds_counters_and_accepted_metrics() -> None:
    media = {"id": "18000019739383557", "timestamp": "t", "like_count": 295, "comments_count": 34}
    found = {"views": {"name": "views", "values": [{"value": 29394}]}}
    assert media_observation(media, found) == {
        "id": "18000019739383557",
        "timestamp": "t",
        "media_product_type": None,
        "like_count": 295,
        "comments_count": 34,
        "views": 29394,
    }


# --- whole runs against the simulator --------------------------------------------------------


@pytest.fixture(scope="module")
def servers() -> Iterator[dict[str, SimulatorServer]]:
    started = {faults: start_in_thread(faults=faults) for faults in ("none", "chaos")}
    yield started
    for server in started.values():
        server.shutdown()


def _landed(manifest_path: Path) -> str:
    with gzip.open(manifest_path, "rt", encoding="utf-8") as handle:
        return handle.read()


@pytest.mark.parametrize(
    "package,faults,how_many",
    [
        (facebook, "none", None),
        (instagram, "none", None),
        (facebook, "chaos", 14),
        (instagram, "chaos", 14),
    ],
    ids=["facebook-none", "instagram-none", "facebook-chaos", "instagram-chaos"],
)
def test_a_run_lands_exactly_the_simulators_truth(
    servers: dict[str, SimulatorServer],
    package: ModuleType,
    faults: str,
    how_many: int | None,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    platform = package.__name__.rsplit(".", 1)[-1]
    refs = [
        HandleRef(h.mission_id, h.handle, h.platform_account_id)
        for h in load_registry().handles_for(platform, on=DAY)
    ][:how_many]
    token = issue_token(default_as_of(DAY))
    client = package.make_client(
        servers[faults].base_url,
        token,
        retry=RetryPolicy(max_attempts=6, backoff_base_s=0.01, backoff_cap_s=0.05),
        timeout=(2.0, 0.3),  # a "slow" fault answers after 3 s: time out and retry instead
    )
    client._sleep = lambda seconds: None  # throttling may ask for a minute; the retry is fine
    client.media_base = servers[faults].base_url + "/__media__"  # the simulator's CDN

    with caplog.at_level(logging.INFO):
        result = package.run(Window.for_day(DAY), refs, client, tmp_path, PSEUDONYM)
    client.close()

    world = world_for()
    reachable = [r.handle for r in refs if platform == "facebook" or r.account_id]
    expected = platform_truth(world, platform, DAY, to_ms(default_as_of(DAY)), reachable)
    landed = {entity: manifest.rows for entity, manifest in result.manifests.items()}
    assert {k: landed[k] for k in ("profiles", "posts", "comments")} == {
        k: expected[k] for k in ("profiles", "posts", "comments")
    }
    gone = {a.handle for a in world.accounts(platform) if not a.exists}
    assert set(result.failed_handles) == {r.handle for r in refs if r.handle not in reachable} | (
        gone & {r.handle for r in refs}
    )
    comments = read_records(result.manifests["comments"])
    mission = [c for c in comments if not c["data"]["from"]["id"].startswith("anon_")]
    assert len(mission) == expected["mission_replies"]
    assert all(set(c["data"]["from"]) == {"id"} for c in comments)  # no names anywhere
    assert result.stats["refused_metrics"] == {}
    avatars = [p["avatar"] for p in read_records(result.manifests["profiles"])]
    assert avatars and all(a["phash"] and a["error"] is None for a in avatars)
    if faults == "chaos":
        assert result.stats["retries"] > 0
    everything = caplog.text + repr(result.failures) + repr(result.stats)
    everything += "".join(_landed(m.path) for m in result.manifests.values())
    assert token not in everything
    _check_recent_metrics(platform, result.manifests, refs)


def _check_recent_metrics(platform: str, manifests: dict[str, Any], refs: list[HandleRef]) -> None:
    if platform == "facebook":
        insights = read_records(manifests["insights"])
        assert {r["data"]["metric"] for r in insights} == set(facebook.PAGE_METRICS)
        return
    observations = read_records(manifests["post_metrics"])
    days = {o["data"]["timestamp"][:10] for o in observations}
    assert days == {"2025-10-07", "2025-10-08"}  # the window's day and the day before
    assert all(set(instagram.MEDIA_METRICS) <= set(o["data"]) for o in observations)
