"""The bad-data catalogue: each kind of anomaly, landed in raw as the simulator would serve
it, quarantines its platform's day through the expectation the catalogue names; a clean
day of every platform passes every suite."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest

from expectations import profiles
from expectations.registry import all_suites, mart_suites, raw_suites
from expectations.runner import QuarantineError
from extractors.common.landing import write_batch
from extractors.common.load import load_manifest
from extractors.common.window import Window
from missionpulse import pipeline
from missionpulse.simulator import bad_data
from missionpulse.simulator.bad_data import CATALOGUE, CORRUPTIONS, KINDS
from tests.warehouse_support import forget_days

pytestmark = pytest.mark.integration

PLATFORMS = ("x", "facebook", "instagram", "youtube")
FIRST_DAY = date(2026, 9, 1)


def handle(platform: str) -> str:
    return pipeline.registry().handles_for(platform)[0].handle


def at(day: date, hour: int) -> str:
    return f"{day.isoformat()}T{hour:02d}:15:00Z"


def clean_day(day: date) -> dict[tuple[str, str], list[dict[str, Any]]]:
    """Wire objects of one clean day per (platform, entity), as the APIs send them."""
    return {
        ("x", "profiles"): [
            {"id": "u1", "username": handle("x"), "public_metrics": {"followers_count": 5000}}
        ],
        ("x", "posts"): [
            {
                "id": f"t{n}",
                "text": "National Day reception",
                "author_id": "u1",
                "conversation_id": f"t{n}",
                "created_at": at(day, 9 + n),
                "public_metrics": {
                    "like_count": 3,
                    "retweet_count": 1,
                    "reply_count": 0,
                    "quote_count": 0,
                },
            }
            for n in range(3)
        ],
        ("x", "comments"): [
            {
                "id": f"r{n}",
                "text": "Congratulations!",
                "author_id": f"a{n}",
                "conversation_id": "t0",
                "created_at": at(day, 12 + n),
            }
            for n in range(3)
        ],
        ("facebook", "profiles"): [{"id": "page1", "followers_count": 900}],
        ("facebook", "posts"): [
            {
                "id": f"page1_{n}",
                "from": {"id": "page1"},
                "created_time": at(day, 8 + n),
                "message": "Visa services update",
                "reactions": {"summary": {"total_count": 4}},
                "comments": {"summary": {"total_count": 1}},
            }
            for n in range(2)
        ],
        ("facebook", "comments"): [
            {"id": "c1", "from": {"id": "f1"}, "created_time": at(day, 10), "message": "Thanks"}
        ],
        ("instagram", "profiles"): [{"id": "ig1", "followers_count": 700}],
        ("instagram", "posts"): [
            {
                "id": f"m{n}",
                "owner": {"id": "ig1"},
                "timestamp": at(day, 7 + n),
                "caption": "Cultural week",
                "like_count": 9,
                "comments_count": 2,
            }
            for n in range(2)
        ],
        ("instagram", "comments"): [
            {"id": "ic1", "from": {"id": "i1"}, "timestamp": at(day, 11), "text": "Lovely"}
        ],
        ("youtube", "profiles"): [{"id": "ch1", "statistics": {"subscriberCount": "300"}}],
        ("youtube", "posts"): [
            {
                "id": f"v{n}",
                "snippet": {"channelId": "ch1", "publishedAt": at(day, 6 + n), "title": "Briefing"},
                "statistics": {"viewCount": "120", "likeCount": "5", "commentCount": "1"},
            }
            for n in range(2)
        ],
        ("youtube", "comments"): [
            {
                "id": "yc1",
                "snippet": {
                    "videoId": "v0",
                    "publishedAt": at(day, 9),
                    "textOriginal": "Useful",
                    "authorChannelId": {"value": "y1"},
                },
            }
        ],
    }


def land(
    conn: psycopg.Connection, root: Path, day: date, objects: dict[tuple[str, str], list[dict]]
) -> None:
    window = Window.for_day(day)
    for (platform, entity), items in objects.items():
        records = [
            {
                "request": {"handle": handle(platform), "object_id": "p"},
                "observed_at": at(day + timedelta(days=1), 2),
                "data": item,
            }
            for item in items
        ]
        spec = pipeline.extractor(platform).ENTITIES[entity]
        load_manifest(conn, spec, write_batch(root, platform, entity, window, records))


@pytest.fixture(scope="module", autouse=True)
def raw_tables(warehouse_url: str) -> None:
    pipeline.ensure_raw_tables(warehouse_url)


@pytest.fixture
def published(conn: psycopg.Connection, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A stand-in for the published engagement mart (the followers baseline)."""
    conn.execute("create schema if not exists test_baseline")
    conn.execute(
        "create table if not exists test_baseline.published (platform text, handle text, "
        "activity_date date, followers_count bigint)"
    )
    conn.commit()
    monkeypatch.setattr(profiles, "PUBLISHED", "test_baseline.published")
    yield "test_baseline.published"


def test_every_kind_names_a_real_expectation_and_there_are_at_least_ten() -> None:
    assert len({a.kind for a in CATALOGUE}) >= 10
    assert set(KINDS) == set(CORRUPTIONS) | {"duplicate_id"}
    suites = {s.name: s for s in all_suites()}
    for anomaly in CATALOGUE:
        assert anomaly.suite in suites, anomaly
    assert {s.entity for s in mart_suites()} >= {"dim_missions", "fct_mission_daily_engagement"}
    for platform in PLATFORMS:
        assert {s.entity for s in raw_suites(platform)} >= {"profiles", "posts", "comments"}


def test_the_simulator_injects_every_kind_deterministically() -> None:
    pages = {
        "/2/users/1/tweets": [{"id": str(n), "public_metrics": {}} for n in range(300)],
        "/2/tweets/search/recent": [
            {"id": str(n), "created_at": "2026-09-01T10:00:00Z"} for n in range(800)
        ],
        "/2/users/by": [
            {"id": str(n), "public_metrics": {"followers_count": 10}} for n in range(60)
        ],
        "/v21.0/page1/published_posts": [{"id": str(n)} for n in range(60)],
        "/v21.0/ig1/media": [{"id": str(n)} for n in range(60)],
        "/youtube/v3/videos": [{"id": str(n)} for n in range(60)],
    }
    applied: set[str] = set()
    for path, objects in pages.items():
        first = {"data" if "youtube" not in path else "items": copy.deepcopy(objects)}
        second = copy.deepcopy(first)
        applied |= set(bad_data.corrupt_objects(path, first))
        bad_data.corrupt_objects(path, second)
        assert first == second, path  # the same objects, corrupted the same way
    assert applied == set(KINDS)


def test_a_clean_day_passes_every_suite(conn: psycopg.Connection, landing_root: Path) -> None:
    day = FIRST_DAY
    land(conn, landing_root, day, clean_day(day))
    for platform in PLATFORMS:
        results = pipeline.validate_raw(platform, day, dag_run_id="test-clean")
        assert {r["suite"] for r in results} == {s.name for s in raw_suites(platform)}


def corrupted_day(kind: str, day: date) -> dict[tuple[str, str], list[dict]]:
    objects = clean_day(day)
    anomaly = KINDS[kind]
    _, platform, entity = anomaly.suite.split("__")
    items = objects[(platform, entity)]
    if kind == "duplicate_id":
        items.append(copy.deepcopy(items[0]))
    else:
        CORRUPTIONS[kind](items[0])
    return objects


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_each_kind_is_caught_by_its_expectation_and_quarantines_the_day(
    conn: psycopg.Connection, landing_root: Path, published: str, kind: str
) -> None:
    anomaly = KINDS[kind]
    platform = anomaly.suite.split("__")[1]
    day = FIRST_DAY + timedelta(days=1 + sorted(KINDS).index(kind))
    conn.execute(
        f"insert into {published} values (%s, %s, %s, 5000)",
        (platform, handle(platform).lower(), day - timedelta(days=1)),
    )
    conn.commit()
    land(conn, landing_root, day, corrupted_day(kind, day))

    with pytest.raises(QuarantineError) as info:
        pipeline.validate_raw(platform, day, dag_run_id=f"test-{kind}")

    message = str(info.value)
    assert anomaly.expectation in message and anomaly.suite in message
    assert day.isoformat() in message and "quarantined" in message
    failed = conn.execute(
        """
        select d.suite_name, r.severity, r.unexpected_examples
        from audit.dq_results r join audit.dq_runs d using (dq_run_id)
        where d.batch_date = %s and d.dag_run_id = %s and r.expectation_name = %s
          and not r.success
        """,
        (day, f"test-{kind}", anomaly.expectation),
    ).fetchall()
    assert [(s, sev) for s, sev, _ in failed] == [(anomaly.suite, "blocking")]
    # the batch stays in raw for inspection
    (rows,) = conn.execute(
        f"select count(*) from raw.{platform}__{anomaly.suite.split('__')[2]} "
        "where _interval_start = %s",
        (Window.for_day(day).start,),
    ).fetchone()
    assert rows > 0


@pytest.fixture(scope="module", autouse=True)
def _forget_fixture_days(warehouse_url: str) -> Iterator[None]:
    """Leave no hand-made raw batch behind for the later end-to-end modules."""
    yield
    forget_days(warehouse_url, [FIRST_DAY + timedelta(days=n) for n in range(-1, len(KINDS) + 2)])
