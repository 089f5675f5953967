"""Airflow's own backfill runs the same extract DAGs, and a rerun replaces rather than adds.

``missionpulse airflow start`` (scheduler, DAG processor, triggerer, API, LocalExecutor) in a
throwaway state dir; extract_x is unpaused (Airflow 3.3 starts no backfill run of a paused
DAG) and backfilled through the REST API over two old days, then backfilled again with
``reprocess_behavior: completed``. The raw partitions of both days must hold the
simulator's posts once after each pass, every run must be a backfill run that succeeded,
and the audit must record one passed day per interval and one extraction per pass.

The downstream DAGs stay paused: this is about the extract DAGs' data-interval timetable
under Airflow's backfill (the chain after them is covered by the distributed check). The
scheduler also creates extract_x's latest scheduled run when it is unpaused (catchup is off:
that one run only); the test leaves it be.
"""

from __future__ import annotations

import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import psycopg
import pytest

from extractors.common.window import Window
from missionpulse.simulator.truth import truth
from tests.airflow_api import api, standalone, standalone_env, wait_for_dag

pytestmark = [pytest.mark.e2e, pytest.mark.integration]

FIRST = datetime.now(UTC).date() - timedelta(days=33)
LAST = FIRST + timedelta(days=1)
DAG_ID = "extract_x"


def _start(day: date) -> datetime:
    """The day's interval start: the raw partitions' and the backfill's dates."""
    return Window.for_day(day).start


def _raw_posts(conn: psycopg.Connection) -> dict[date, int]:
    rows = conn.execute(
        "select _interval_start::date, count(*) from raw.x__posts"
        " where _interval_start >= %s and _interval_start <= %s group by 1",
        (_start(FIRST), _start(LAST)),
    ).fetchall()
    return {day: count for day, count in rows}


def _backfill(url: str, token: str, reprocess: str, timeout_s: float = 900) -> list[dict]:
    """Create a backfill of FIRST..LAST and wait for it to complete; its runs."""
    created = api(
        url,
        "/api/v2/backfills",
        token,
        body={
            "dag_id": DAG_ID,
            "from_date": _start(FIRST).isoformat(),
            "to_date": _start(LAST).isoformat(),
            "max_active_runs": 2,
            "reprocess_behavior": reprocess,
            "dag_run_conf": {},
        },
    )
    backfill_id = created["id"]
    give_up = time.monotonic() + timeout_s
    while time.monotonic() < give_up:
        state = api(url, f"/api/v2/backfills/{backfill_id}", token)
        if state.get("completed_at"):
            break
        time.sleep(10)
    else:
        pytest.fail(f"backfill {backfill_id} of {DAG_ID} not complete after {timeout_s:.0f}s")
    runs = api(url, f"/api/v2/dags/{DAG_ID}/dagRuns?limit=100&run_type=backfill", token)
    return [
        r
        for r in runs["dag_runs"]
        if r.get("run_type") == "backfill" and r.get("backfill_id") in (None, backfill_id)
    ]


def test_airflow_backfill_of_an_extract_dag_is_exact_and_idempotent(
    tmp_path: Path, warehouse_url: str, conn: psycopg.Connection
) -> None:
    env = standalone_env(tmp_path / "state", warehouse_url)
    with standalone(env) as (url, token):
        wait_for_dag(url, token, DAG_ID)
        api(url, f"/api/v2/dags/{DAG_ID}", token, {"is_paused": False}, method="PATCH")

        first = _backfill(url, token, "none")
        assert sorted(r["logical_date"][:10] for r in first) == [str(FIRST), str(LAST)], first
        assert {r["state"] for r in first} == {"success"}, first
        once = _raw_posts(conn)
        expected = {day: truth(day)["platforms"]["x"]["posts"] for day in (FIRST, LAST)}
        assert once == expected

        second = _backfill(url, token, "completed")
        assert {r["state"] for r in second} == {"success"}, second
        assert len(second) == 2, second
        assert _raw_posts(conn) == once  # replaced, not added to

    passed = conn.execute(
        "select interval_start::date, status, dag_run_id from audit.raw_days"
        " where platform = 'x' and interval_start between %s and %s order by 1",
        (_start(FIRST), _start(LAST)),
    ).fetchall()
    assert [(day, status) for day, status, _ in passed] == [(FIRST, "passed"), (LAST, "passed")]
    assert all(run_id.startswith("backfill__") for _, _, run_id in passed), passed
    extractions = conn.execute(
        "select interval_start::date, count(distinct extract_run_id) from audit.extract_runs"
        " where platform = 'x' and interval_start between %s and %s group by 1 order by 1",
        (_start(FIRST), _start(LAST)),
    ).fetchall()
    assert extractions == [(FIRST, 2), (LAST, 2)]
