"""End to end through Airflow: simulator -> landing -> raw -> GX -> dbt -> sentiment.

Runs the real ``missionpulse run`` command (a real Airflow DAG run, in process) against the
session's embedded warehouse and the in-process simulator, then checks the warehouse
against the simulator's ground truth, and that a rerun changes no count.
"""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import psycopg
import pytest

from missionpulse.simulator.truth import truth

pytestmark = [pytest.mark.e2e, pytest.mark.integration]

ROOT = Path(__file__).resolve().parents[2]
RECENT_DAY = datetime.now(UTC).date() - timedelta(days=2)  # recent search
OLDER_DAY = datetime.now(UTC).date() - timedelta(days=12)  # full-archive search


def missionpulse(*args: str, state_dir: Path, warehouse_url: str) -> subprocess.CompletedProcess:
    env = {
        **os.environ,
        "MISSIONPULSE_STATE_DIR": str(state_dir),
        "MISSIONPULSE_WAREHOUSE_URL": warehouse_url,
    }
    done = subprocess.run(
        [str(Path(sys.executable).with_name("missionpulse")), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    if done.returncode != 0:
        logs = sorted((state_dir / "logs" / "runs").glob("*.log"))
        errors = [
            line
            for log in logs
            for line in log.read_text(errors="replace").splitlines()
            if any(mark in line for mark in ("[error", "Error", "Traceback", "FAILED", "failed"))
        ]
        pytest.fail(
            f"missionpulse {' '.join(args)} exited {done.returncode}\n"
            f"stdout: {done.stdout[-2000:]}\nstderr: {done.stderr[-2000:]}\n"
            "errors in the run logs:\n" + "\n".join(errors[-60:])
        )
    return done


PLATFORMS = ("x", "facebook", "instagram", "youtube")


def counts(conn: psycopg.Connection, day: date) -> dict[str, dict[str, int]]:
    start = datetime(day.year, day.month, day.day, tzinfo=UTC)
    result: dict[str, dict[str, int]] = {}
    for platform in PLATFORMS:
        got = result.setdefault(platform, {})
        for entity in ("profiles", "posts", "comments"):
            (got[entity],) = conn.execute(
                f"select count(*) from raw.{platform}__{entity} where _interval_start = %s",
                (start,),
            ).fetchone()
        got["mart_rows"], got["mart_posts"], got["mart_comments"] = conn.execute(
            "select count(*), coalesce(sum(posts), 0), coalesce(sum(comments + mission_replies), 0)"
            " from marts.fct_mission_daily_engagement where activity_date = %s and platform = %s",
            (day, platform),
        ).fetchone()
        (got["scored"],) = conn.execute(
            f"select count(*) from ml.comment_sentiment s join raw.{platform}__comments c "
            "on c.comment_id = s.comment_id and s.platform = %s and c._interval_start = %s",
            (platform, start),
        ).fetchone()
        (got["dq_runs_passed"],) = conn.execute(
            "select count(*) from audit.dq_runs where batch_date = %s and platform = %s "
            "and success",
            (day, platform),
        ).fetchone()
    return result


@pytest.fixture(scope="module")
def pipeline_runs(test_state_dir: Path, warehouse_url: str) -> dict[str, dict[str, dict[str, int]]]:
    runs = {}
    for label, day in (("first", RECENT_DAY), ("rerun", RECENT_DAY), ("older", OLDER_DAY)):
        missionpulse(
            "run", "--date", day.isoformat(), state_dir=test_state_dir, warehouse_url=warehouse_url
        )
        with psycopg.connect(warehouse_url) as conn:
            runs[label] = counts(conn, day)
    return runs


@pytest.mark.parametrize("platform", PLATFORMS)
@pytest.mark.parametrize("label,day", [("first", RECENT_DAY), ("older", OLDER_DAY)])
def test_raw_and_marts_equal_the_simulator_truth(
    pipeline_runs: dict[str, dict[str, dict[str, int]]], label: str, day: date, platform: str
) -> None:
    expected = truth(day)["platforms"][platform]
    got = pipeline_runs[label][platform]

    assert got["posts"] == expected["posts"] > 0
    assert got["comments"] == expected["comments"] > 0
    assert got["profiles"] == expected["profiles"] > 0
    assert got["mart_posts"] == expected["posts"]
    assert got["mart_comments"] == expected["comments"]
    assert got["scored"] == expected["comments"] - expected["mission_replies"]
    assert got["dq_runs_passed"] >= 1


def test_rerun_changes_no_count(pipeline_runs: dict[str, dict[str, dict[str, int]]]) -> None:
    for platform in PLATFORMS:
        first, rerun = pipeline_runs["first"][platform], pipeline_runs["rerun"][platform]
        assert {k: v for k, v in rerun.items() if k != "dq_runs_passed"} == {
            k: v for k, v in first.items() if k != "dq_runs_passed"
        }, platform
        assert rerun["dq_runs_passed"] == first["dq_runs_passed"] + 1  # every run is recorded


def test_mart_has_a_row_per_active_handle(
    pipeline_runs: dict[str, dict[str, dict[str, int]]], warehouse_url: str
) -> None:
    with psycopg.connect(warehouse_url) as conn:
        handles = dict(
            conn.execute(
                "select platform, count(*) from raw.registry__handles "
                "where active_from <= %s and (active_to is null or active_to >= %s) "
                "group by platform",
                (RECENT_DAY, RECENT_DAY),
            ).fetchall()
        )
    for platform in PLATFORMS:
        assert pipeline_runs["first"][platform]["mart_rows"] == handles[platform], platform
