"""The benchmarks' readers of the CLI's progress lines and of Airflow's metadata DB.

The benchmarks themselves print figures and are run by ``make bench``; what is tested here
is that they read their inputs right: a changed progress line or a second run of the same
day in Airflow's DB would otherwise skew the figures silently.
"""

from __future__ import annotations

import sqlite3
from datetime import UTC, date, datetime
from pathlib import Path
from types import SimpleNamespace

import click

from bench.backfill import parse_day_line
from bench.common import task_runs
from bench.load import Batch, by_entity


def test_parse_day_line_reads_the_backfill_progress_line_with_colours() -> None:
    ok = f"[3/30] 2026-11-20 {click.style('ok', fg='green')} in 71.4s; 27 days to go, about 32 min"
    failed = (
        f"[4/30] 2026-11-21 {click.style('FAILED', fg='red')} in 12.0s"
        " (failed: extract_x; log /tmp/x.log)"
    )
    assert parse_day_line(ok) == (3, 30, "2026-11-20", "ok", 71.4)
    assert parse_day_line(failed) == (4, 30, "2026-11-21", "FAILED", 12.0)
    assert parse_day_line("backfilling 30 days, 2026-10-29 .. 2026-11-27") is None


def _airflow_db(path: Path) -> None:
    """The columns of Airflow 3's dag_run and task_instance that the benchmarks read."""
    conn = sqlite3.connect(path)
    conn.executescript(
        """
        create table dag_run (dag_id text, run_id text, logical_date text, start_date text);
        create table task_instance (dag_id text, run_id text, task_id text, start_date text,
                                    end_date text, state text);
        """
    )
    # `missionpulse run` gives each DAG's run of day D the logical date D + 1: two runs of
    # 2026-11-20 (dag.test keeps the first), one of 2026-11-21; dag.test sets a run's
    # start_date to its logical date, so only task times tell runs apart
    runs = [
        ("extract_x", "r1", "2026-11-21 00:00:00.000000"),
        ("extract_x", "r2", "2026-11-21 00:00:00.000000"),
        ("transform_warehouse", "t2", "2026-11-21 00:00:00.000000"),
        ("score_sentiment", "s2", "2026-11-21 00:00:00.000000"),
        ("extract_youtube", "r3", "2026-11-22 00:00:00.000000"),
        ("other_dag", "o1", "2026-11-21 00:00:00.000000"),
    ]
    tasks = [
        ("extract_x", "r1", "prepare", "2026-11-28 10:00:00.000000", "2026-11-28 10:00:05.000000"),
        ("extract_x", "r2", "prepare", "2026-11-28 12:00:00.000000", "2026-11-28 12:00:02.000000"),
        (
            "transform_warehouse",
            "t2",
            "transform.stg_x__posts_model_build",
            "2026-11-28 12:00:03.000000",
            "2026-11-28 12:00:04.500000",
        ),
        (
            "transform_warehouse",
            "t2",
            "transform.fct_x_model_build",
            "2026-11-28 12:00:05.000000",
            "2026-11-28 12:00:07.000000",
        ),
        ("score_sentiment", "s2", "score", "2026-11-28 12:00:08.000000", None),  # running
        (
            "extract_youtube",
            "r3",
            "prepare",
            "2026-11-28 12:01:00.000000",
            "2026-11-28 12:01:03.000000",
        ),
        ("other_dag", "o1", "prepare", "2026-11-28 12:00:00.000000", "2026-11-28 12:09:00.000000"),
    ]
    conn.executemany("insert into dag_run values (?, ?, ?, ?)", [(*r, r[2]) for r in runs])
    conn.executemany("insert into task_instance values (?, ?, ?, ?, ?, 'success')", tasks)
    conn.commit()
    conn.close()


def test_task_runs_counts_only_the_latest_runs_of_the_range(tmp_path: Path) -> None:
    (tmp_path / "airflow").mkdir()
    _airflow_db(tmp_path / "airflow" / "airflow.db")
    since = datetime(2026, 11, 28, 11, 0, tzinfo=UTC)

    one_day = task_runs(tmp_path, date(2026, 11, 20), date(2026, 11, 20), since)
    assert [(r.run_id, r.task_id) for r in one_day] == [
        ("r2", "prepare"),
        ("t2", "transform.stg_x__posts_model_build"),
        ("t2", "transform.fct_x_model_build"),
    ]
    assert [r.stage for r in one_day] == ["prepare", "transform", "transform"]
    assert [r.step for r in one_day] == [
        "extract_x.prepare",
        "transform_warehouse.transform",
        "transform_warehouse.transform",
    ]
    assert sum(r.seconds for r in one_day if r.stage == "transform") == 3.5
    assert {r.day for r in one_day} == {date(2026, 11, 20)}

    both_days = task_runs(tmp_path, date(2026, 11, 20), date(2026, 11, 21), since)
    assert {r.run_id for r in both_days} == {"r2", "t2", "r3"}
    assert {(r.dag_id, r.day) for r in both_days if r.run_id == "r3"} == {
        ("extract_youtube", date(2026, 11, 21))
    }
    everything = task_runs(
        tmp_path, date(2026, 11, 20), date(2026, 11, 21), datetime(2026, 1, 1, tzinfo=UTC)
    )
    assert {r.run_id for r in everything} == {"r1", "r2", "t2", "r3"}


def test_the_load_bench_loads_each_entity_once_with_all_its_batches() -> None:
    # as the pipeline's load task does: one load_manifests per platform and entity (loading
    # batch by batch would delete what the previous batch of the same entity copied)
    posts, comments = (SimpleNamespace(platform="x", entity=e) for e in ("posts", "comments"))
    batches = [
        Batch(posts, "p1", []),  # type: ignore[arg-type]
        Batch(comments, "c1", []),  # type: ignore[arg-type]
        Batch(posts, "p2", []),  # type: ignore[arg-type]
    ]
    assert by_entity(batches) == [(posts, ["p1", "p2"]), (comments, ["c1"])]
