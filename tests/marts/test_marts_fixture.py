"""The engagement, sentiment, responsiveness and leaderboard marts on a small hand-made day.

Inserts one X handle's day (profile, a post, audience comments, two mission replies) and
its sentiment scores straight into ``raw`` / ``ml`` of the session's warehouse, marks the
batch validated, runs ``dbt build`` for the day as the daily DAG does (the main models, then
the sentiment mart) and checks every figure against the numbers worked out by hand. Then
runs the project's dbt unit tests (net sentiment, spike flag, median reply time, ranks).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import psycopg
import pytest

from missionpulse import pipeline
from tests.warehouse_support import forget_days

ROOT = Path(__file__).resolve().parents[2]
DAY = date(2026, 3, 4)  # a Wednesday: its ISO week starts on 2026-03-02
WEEK = date(2026, 3, 2)
MISSION_USER = "fixture-mission-user"
MARTS = "+fct_mission_responsiveness +mart_leaderboard stg_ml__comment_sentiment"


def run_dbt(url: str, target: Path, *args: str) -> str:
    done = subprocess.run(
        [
            str(Path(sys.executable).with_name("dbt")),
            *args,
            # a test on two models runs only when both are built (dim_handles is not here)
            "--indirect-selection",
            "cautious",
            "--profiles-dir",
            "profiles",
            "--target-path",
            str(target),
            "--log-path",
            str(target / "logs"),
        ],
        cwd=ROOT / "dbt_project",
        env={**os.environ, **pipeline.dbt_env(url)},
        capture_output=True,
        text=True,
        timeout=600,
    )
    if done.returncode != 0:
        lines = done.stdout.splitlines()
        failures = [
            "\n".join(lines[i : i + 8]) for i, line in enumerate(lines) if "Failure in" in line
        ]
        pytest.fail(f"dbt {' '.join(args)} failed:\n" + "\n".join(failures or lines[-60:]))
    return done.stdout


def at(hour: int, minute: int = 0, day: date = DAY) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=UTC)


def insert_day(conn: psycopg.Connection, handle: str) -> None:
    """One profile per day (D-1, D), one post and six comments on day D."""
    for day, followers in ((DAY - timedelta(days=1), 990), (DAY, 1000)):
        start = at(0, day=day)
        conn.execute(
            "insert into audit.dq_runs (dq_run_id, suite_name, platform, entity, batch_date,"
            " success, blocking_failures, warning_failures, expectations, rows_checked,"
            " started_at, finished_at, summary) values (%s, 'fixture', 'x', 'profiles', %s,"
            " true, 0, 0, 0, 0, now(), now(), 'marts fixture')",
            (f"marts-fixture-{day}", day),
        )
        profile = {
            "data": {
                "id": MISSION_USER,
                "username": handle,
                "public_metrics": {"followers_count": followers},
            },
            "observed_at": (start + timedelta(days=1, hours=1)).isoformat(),
        }
        conn.execute(
            "insert into raw.x__profiles (_interval_start, _interval_end, _load_id,"
            " _row_number, handle, user_id, payload) values (%s, %s, 'fixture', 1, %s, %s, %s)",
            (start, start + timedelta(days=1), handle, MISSION_USER, json.dumps(profile)),
        )
    start = at(0)
    post = {
        "data": {
            "id": "p1",
            "text": "Consular camp on Saturday",
            "public_metrics": {
                "like_count": 10,
                "retweet_count": 2,
                "quote_count": 1,
                "reply_count": 6,
                "impression_count": 500,
            },
        }
    }
    conn.execute(
        "insert into raw.x__posts (_interval_start, _interval_end, _load_id, _row_number,"
        " handle, post_id, author_id, created_at, payload)"
        " values (%s, %s, 'fixture', 1, %s, 'p1', %s, %s, %s)",
        (start, start + timedelta(days=1), handle, MISSION_USER, at(9), json.dumps(post)),
    )
    comments = [  # id, author, created, replied_to, text
        ("q1", "anon-1", at(10), "p1", "When is the office open?"),
        ("q2", "anon-2", at(11), "p1", "Thanks for the help"),
        ("r2", MISSION_USER, at(11, 15), "q2", "You are welcome"),
        ("r1", MISSION_USER, at(12, 30), "q1", "From 9 to 5"),
        ("c3", "anon-3", at(13), "p1", "Bad service"),
        ("c4", "anon-4", at(14), "p1", "Great"),
    ]
    for number, (cid, author, created, parent, text) in enumerate(comments, start=1):
        payload = {
            "data": {
                "id": cid,
                "text": text,
                "conversation_id": "p1",
                "referenced_tweets": [{"type": "replied_to", "id": parent}],
            }
        }
        conn.execute(
            "insert into raw.x__comments (_interval_start, _interval_end, _load_id, _row_number,"
            " handle, comment_id, conversation_id, author_id, created_at, payload)"
            " values (%s, %s, 'fixture', %s, %s, %s, 'p1', %s, %s, %s)",
            (
                start,
                start + timedelta(days=1),
                number,
                handle,
                cid,
                author,
                created,
                json.dumps(payload),
            ),
        )
    scores = [  # c4 was scored twice: the later version (v1) counts by default
        ("q1", "v1", "negative", at(23)),
        ("q2", "v1", "neutral", at(23)),
        ("c3", "v1", "negative", at(23)),
        ("c4", "v0", "negative", at(22)),
        ("c4", "v1", "positive", at(23)),
    ]
    for cid, version, label, scored_at in scores:
        conn.execute(
            "insert into ml.comment_sentiment (platform, comment_id, model_version, label,"
            " score, scored_at, language, language_supported)"
            " values ('x', %s, %s, %s, 0.9, %s, 'en', %s)",
            (cid, version, label, scored_at, cid != "q2"),
        )


@pytest.fixture(scope="module")
def fixture_day(warehouse_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    pipeline.prepare()
    target = tmp_path_factory.mktemp("dbt-target")
    with psycopg.connect(warehouse_url) as conn:
        mission_id, handle = conn.execute(
            "select mission_id, handle from raw.registry__handles where platform = 'x'"
            " and active_from <= %s and (active_to is null or active_to >= %s)"
            " order by mission_id limit 1",
            (DAY, DAY),
        ).fetchone()
        insert_day(conn, handle)
    day_vars = json.dumps(
        {
            "start_date": DAY.isoformat(),
            "end_date": (DAY + timedelta(days=1)).isoformat(),
            "extracted_platforms": "x",
        }
    )
    # as the daily DAG: everything but the sentiment marts, then (after scoring) those;
    # the unit tests run on their own below
    run_dbt(
        warehouse_url,
        target,
        "build",
        "--select",
        MARTS,
        "--exclude",
        "fct_mission_daily_sentiment+ test_type:unit",
        "--vars",
        day_vars,
    )
    run_dbt(
        warehouse_url,
        target,
        "build",
        "--select",
        "fct_mission_daily_sentiment+",
        "--exclude",
        "test_type:unit",
        "--vars",
        day_vars,
    )
    yield {"mission_id": mission_id, "handle": handle.lower(), "target": target, "vars": day_vars}


def one_row(url: str, query: str, params: tuple) -> dict:
    with psycopg.connect(url, row_factory=psycopg.rows.dict_row) as conn:
        rows = conn.execute(query, params).fetchall()
    assert len(rows) == 1, rows
    return rows[0]


def test_engagement_figures(fixture_day: dict, warehouse_url: str) -> None:
    row = one_row(
        warehouse_url,
        "select * from marts.fct_mission_daily_engagement"
        " where mission_id = %s and platform = 'x' and activity_date = %s",
        (fixture_day["mission_id"], DAY),
    )
    assert (row["followers_count"], row["follower_growth"], row["followers_start_of_day"]) == (
        1000,
        10,
        990,
    )
    assert (row["posts"], row["likes"], row["comments"], row["mission_replies"]) == (1, 10, 4, 2)
    assert (row["shares"], row["reposts"], row["quotes"], row["views"]) == (3, 2, 1, 500)
    assert row["interactions"] == 17  # likes + audience comments + shares
    assert row["engagement_rate_per_follower"] == Decimal("0.017000")
    assert row["interactions_per_post"] == Decimal("17.0000")
    # the day's post only: 10 likes + its 6 replies (platform count) + 3 shares, 500 views
    assert row["engagement_rate_per_view"] == Decimal("0.038000")
    assert row["average_followers"] == Decimal("995.0")
    assert row["twiplomacy_interaction_rate"] == Decimal("0.01708543")  # 17 / 1 / 995


def test_responsiveness_counts_answers_and_median(fixture_day: dict, warehouse_url: str) -> None:
    row = one_row(
        warehouse_url,
        "select * from marts.fct_mission_responsiveness"
        " where mission_id = %s and platform = 'x' and week_start_date = %s",
        (fixture_day["mission_id"], WEEK),
    )
    assert (row["audience_comments"], row["audience_questions"]) == (4, 1)
    assert (row["comments_answered"], row["questions_answered"]) == (2, 1)
    assert row["answered_share"] == Decimal("0.500000")
    assert row["median_reply_hours"] == Decimal("1.3750")  # median of 2.5 h and 0.25 h
    assert row["mission_replies"] == 2


def test_sentiment_uses_each_comments_latest_score(fixture_day: dict, warehouse_url: str) -> None:
    row = one_row(
        warehouse_url,
        "select * from marts.fct_mission_daily_sentiment"
        " where mission_id = %s and platform = 'x' and activity_date = %s",
        (fixture_day["mission_id"], DAY),
    )
    assert (row["audience_comments"], row["comments_scored"]) == (4, 4)
    assert (row["positive_comments"], row["neutral_comments"], row["negative_comments"]) == (
        1,
        1,
        2,
    )
    assert row["net_sentiment"] == Decimal("-0.333333")  # (1 - 2) / (1 + 2)
    assert row["negative_share"] == Decimal("0.500000")
    assert row["unsupported_language_share"] == Decimal("0.250000")
    assert row["model_version"] == "v1"
    assert row["is_negative_spike"] is False  # no baseline


def test_sentiment_can_pin_a_model_version(fixture_day: dict, warehouse_url: str) -> None:
    pinned = json.loads(fixture_day["vars"]) | {"sentiment_model_version": "v0"}
    try:
        run_dbt(
            warehouse_url,
            fixture_day["target"],
            "run",
            "--select",
            "fct_mission_daily_sentiment",
            "--vars",
            json.dumps(pinned),
        )
        row = one_row(
            warehouse_url,
            "select * from marts.fct_mission_daily_sentiment"
            " where mission_id = %s and platform = 'x' and activity_date = %s",
            (fixture_day["mission_id"], DAY),
        )
        assert (row["comments_scored"], row["negative_comments"], row["model_version"]) == (
            1,
            1,
            "v0",
        )
    finally:  # leave the default build behind for the other tests
        run_dbt(
            warehouse_url,
            fixture_day["target"],
            "run",
            "--select",
            "fct_mission_daily_sentiment",
            "--vars",
            fixture_day["vars"],
        )


def test_leaderboard_has_the_mission(fixture_day: dict, warehouse_url: str) -> None:
    row = one_row(
        warehouse_url,
        "select * from marts.mart_leaderboard where mission_id = %s and week_start_date = %s",
        (fixture_day["mission_id"], WEEK),
    )
    assert row["followers_end_of_week"] == 1000
    assert row["answered_share"] == Decimal("0.500000")
    assert row["most_followed_rank"] >= 1 and row["most_followed_region_rank"] >= 1


def test_dbt_unit_tests_pass(fixture_day: dict, warehouse_url: str) -> None:
    out = run_dbt(
        warehouse_url,
        fixture_day["target"],
        "test",
        "--select",
        "test_type:unit,fct_mission_daily_sentiment test_type:unit,"
        "fct_mission_responsiveness test_type:unit,mart_leaderboard",
    )
    assert "PASS=3" in out, out[-2000:]


@pytest.fixture(scope="module", autouse=True)
def _forget_fixture_days(warehouse_url: str) -> Iterator[None]:
    """Leave no hand-made raw batch behind for the later end-to-end modules."""
    yield
    forget_days(warehouse_url, [DAY - timedelta(days=n) for n in range(0, 3)])
