"""One day at demo scale, end to end, per stage.

    .venv/bin/python -m bench.day [--date 2026-11-26] [--state-dir DIR] [--no-warmup]
                                  [--json OUT]

Figures, not a pass/fail test. ``missionpulse run --date D`` (Airflow ``dag.test`` of the
day's seven DAGs against the local platform simulator: ``extract_<platform>`` x 4 (batches
-> raw -> GX), then ``transform_warehouse`` (dbt via Cosmos), ``score_sentiment`` and
``publish`` (marts validation, swap)) runs in the bench's own state folder
(``--state-dir``, default ``$MISSIONPULSE_STATE_DIR`` or a new temporary folder). First,
unless ``--no-warmup``, the day before runs once, so one-time costs (Airflow's metadata DB
migration, Cosmos's ``dbt ls`` cache, schemas) stay out of the figures, as on a deployment
that runs every day.

Per stage, from the task instances of the day's seven DAG runs in Airflow's metadata DB:
seconds and share of the command's wall time (the reference measured in the same run).
For the dbt stages also the dbt invocations' own elapsed time and the sum of their
nodes' execution times (from ``audit.dbt_runs`` / ``audit.dbt_model_results`` /
``audit.dbt_test_results``), which tells SQL work from Cosmos's per-task start-up cost.
The day's raw rows per platform give the scale.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

from bench.common import (
    BIN,
    TaskRun,
    day_start,
    log,
    machine_load,
    state_dir,
    state_env,
    task_runs,
    warehouse_url,
)

PLATFORMS = ("x", "facebook", "instagram", "youtube")
EXTRACT = tuple(f"extract_{p}" for p in PLATFORMS)
# (label, ``<DAG>.<task or dbt group>`` steps), in the order a day flows through the DAGs
STAGES: list[tuple[str, tuple[str, ...]]] = [
    (
        "prepare + plan (4 platforms)",
        tuple(f"{d}.{t}" for d in EXTRACT for t in ("prepare", "plan")),
    ),
    *[(f"extract {p} (batches)", (f"extract_{p}.extract_batch",)) for p in PLATFORMS],
    ("load raw (4 platforms)", tuple(f"{d}.load" for d in EXTRACT)),
    ("validate raw (GX, 4 platforms)", tuple(f"{d}.validate" for d in EXTRACT)),
    (
        "announce + check (4 platforms)",
        tuple(f"{d}.{t}" for d in EXTRACT for t in ("announce", "check")),
    ),
    (
        "select publishable, stage marts",
        ("transform_warehouse.select_publishable", "transform_warehouse.stage_marts"),
    ),
    ("dbt: transform", ("transform_warehouse.transform",)),
    ("sentiment scoring", ("score_sentiment.day_context", "score_sentiment.score")),
    ("dbt: sentiment marts", ("score_sentiment.transform_sentiment",)),
    ("hand-offs (staged, sentiment)", ("transform_warehouse.hand_off", "score_sentiment.hand_off")),
    ("validate marts (GX)", ("publish.day_context", "publish.validate_marts")),
    ("dbt: audit marts", ("publish.transform_audit",)),
    (
        "publish (swap, scorecard, checks)",
        ("publish.publish_marts", "publish.publish_scorecard", "publish.check_freshness"),
    ),
]


def run_day(state: Path, day: date) -> tuple[float, datetime, int]:
    """``missionpulse run --date day``: wall seconds, when it started, its exit status."""
    started_at = datetime.now(UTC)
    started = time.monotonic()
    done = subprocess.run(
        [str(BIN / "missionpulse"), "run", "--date", day.isoformat()],
        env=state_env(state),
        capture_output=True,
        text=True,
    )
    elapsed = time.monotonic() - started
    if done.returncode != 0:
        log(f"missionpulse run --date {day} exited {done.returncode}:\n{done.stderr[-1500:]}")
    return elapsed, started_at, done.returncode


def dbt_seconds(url: str, run_ids: list[str]) -> dict[str, dict[str, float]]:
    """Per dbt task group of the runs ``run_ids`` (the groups are in three DAGs, each named
    once): invocations, dbt's own elapsed seconds, sum of node seconds."""
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            """
            select split_part(r.task_id, '.', 1), count(*), sum(r.elapsed_s),
                   sum(coalesce(m.s, 0) + coalesce(t.s, 0))
            from audit.dbt_runs r
            left join (select invocation_id, sum(execution_s) s from audit.dbt_model_results
                       group by 1) m using (invocation_id)
            left join (select invocation_id, sum(execution_s) s from audit.dbt_test_results
                       group by 1) t using (invocation_id)
            where r.dag_run_id = any(%s)
            group by 1
            """,
            (run_ids,),
        ).fetchall()
    return {
        group: {"invocations": n, "dbt_elapsed_s": float(e or 0), "nodes_s": float(s or 0)}
        for group, n, e, s in rows
    }


def raw_rows(url: str, day: date) -> dict[str, int]:
    """The day's raw rows per platform (all its entity tables)."""
    counts: dict[str, int] = {}
    with psycopg.connect(url) as conn:
        tables = conn.execute(
            "select table_name from information_schema.tables where table_schema = 'raw'"
            " and table_name like '%%\\_\\_%%' and table_name not like 'registry%%'"
        ).fetchall()
        for (table,) in tables:
            platform = table.split("__")[0]
            counts[platform] = (
                counts.get(platform, 0)
                + conn.execute(
                    sql.SQL("select count(*) from {} where _interval_start = %s").format(
                        sql.Identifier("raw", table)
                    ),
                    (day_start(day),),
                ).fetchone()[0]
            )
    return counts


def comments(url: str, day: date) -> int:
    with psycopg.connect(url) as conn:
        return sum(
            conn.execute(
                sql.SQL("select count(*) from {} where _interval_start = %s").format(
                    sql.Identifier("raw", f"{p}__comments")
                ),
                (day_start(day),),
            ).fetchone()[0]
            for p in PLATFORMS
        )


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--date",
        type=date.fromisoformat,
        default=datetime.now(UTC).date() - timedelta(days=2),
        help="the day to time (default the day before yesterday, as bench.dbt_incremental)",
    )
    parser.add_argument("--state-dir", type=Path, default=None)
    parser.add_argument("--no-warmup", action="store_true")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)
    state = state_dir(args.state_dir, "missionpulse-bench-day-")
    log(f"state {state}")
    url = warehouse_url(state)
    if not args.no_warmup:
        warm = args.date - timedelta(days=1)
        log(f"warm-up: missionpulse run --date {warm}")
        warm_s, _, _ = run_day(state, warm)
        log(f"warm-up done in {warm_s:.0f} s")
    log(f"timed: missionpulse run --date {args.date}")
    wall, started_at, returncode = run_day(state, args.date)
    tasks: list[TaskRun] = task_runs(state, args.date, args.date, started_at)
    if not tasks:
        sys.exit(f"no Airflow task instances of {args.date} in {state}/airflow: the run failed")
    dbt = dbt_seconds(url, sorted({t.run_id for t in tasks}))
    rows = raw_rows(url, args.date)
    n_comments = comments(url, args.date)
    dag_s = (max(t.ended for t in tasks) - min(t.started for t in tasks)).total_seconds()

    stages = []
    for label, ids in STAGES:
        mine = [t for t in tasks if t.step in ids]
        seconds = sum(t.seconds for t in mine)
        stage: dict[str, Any] = {"stage": label, "tasks": len(mine), "seconds": seconds}
        for step in ids:
            group = step.split(".", 1)[1]
            if group in dbt:
                stage.update(dbt[group])
        stages.append(stage)
    in_tasks = sum(s["seconds"] for s in stages)
    unlisted = sorted({t.step for t in tasks} - {i for _, ids in STAGES for i in ids})

    print()
    print(
        f"One day at demo scale: {args.date}, {sum(rows.values())} raw rows"
        f" ({', '.join(f'{p} {n}' for p, n in sorted(rows.items()))}), {n_comments} comments;"
        f" exit {returncode}"
    )
    print(f"machine: {machine_load()}")
    print(
        f"{'stage':<32} {'tasks':>5} {'seconds':>8} {'share':>6}  dbt: invocations, own s, nodes s"
    )
    for s in stages:
        extra = (
            f"  {s['invocations']:>3} {s['dbt_elapsed_s']:>7.1f} {s['nodes_s']:>7.1f}"
            if "invocations" in s
            else ""
        )
        print(
            f"{s['stage']:<32} {s['tasks']:>5} {s['seconds']:>8.1f} {s['seconds'] / wall:>6.1%}"
            + extra
        )
    print(f"{'all tasks':<32} {len(tasks):>5} {in_tasks:>8.1f} {in_tasks / wall:>6.1%}")
    outside = wall - in_tasks
    print(
        f"{'outside tasks':<32} {'':>5} {outside:>8.1f} {outside / wall:>6.1%}"
        "  (process start, DagBag parse, dag.test scheduling between tasks and DAGs)"
    )
    print(f"{'missionpulse run (wall)':<32} {'':>5} {wall:>8.1f} {1:>6.1%}")
    print(f"first task start to last task end: {dag_s:.1f} s")
    if unlisted:
        print(f"tasks in no stage above: {', '.join(unlisted)}")
    result = {
        "day": args.date.isoformat(),
        "raw_rows": rows,
        "comments": n_comments,
        "wall_s": wall,
        "dag_s": dag_s,
        "tasks_s": in_tasks,
        "stages": stages,
        "returncode": returncode,
        "machine": machine_load(),
    }
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))
    return result


if __name__ == "__main__":
    main()
