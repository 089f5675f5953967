"""dbt incremental benchmark: does building one more day's marts cost the same after a week
of history as after months of it?

    .venv/bin/python -m bench.dbt_incremental [--history 7,60] [--source-day 2026-11-26]
                                              [--state-dir DIR] [--repeat 2] [--json OUT]

Figures, not a pass/fail test. Method:

1. One real day goes through the whole pipeline once (``missionpulse run --date SOURCE``:
   simulator -> extractors -> raw -> GX -> dbt -> sentiment) in a throwaway warehouse
   (``--state-dir``, a new temporary folder by default; reused when it already holds the
   day). The bench never touches the user's ``.missionpulse/`` warehouse.
2. For each history length N: the marts schema is dropped, and the source day's raw
   partitions (every platform table), its validation records (``audit.dq_runs``) and its
   sentiment scores (``ml.comment_sentiment``) are cloned with SQL into the N + 1 days
   T-N .. T after it, shifting every timestamp by whole days and suffixing the post and
   comment ids (``~<k>``) so keys stay unique. The N history days are built with one dbt
   invocation over their interval (as a backfill would).
3. Timed: the daily run's dbt work for day T, as the DAG does it: ``dbt build`` of the
   project without the sentiment marts, then ``dbt build`` of the sentiment marts (both
   with the run's vars, models and data tests; dbt unit tests, whose cost does not depend
   on the data, are left out), repeated ``--repeat`` times (a rerun of a day
   is idempotent); the fastest run counts.

The table gives, per N, the raw rows held, the wall seconds of each build and the sum of
dbt's per-node execution times (less sensitive to dbt's start-up), and the ratio of the
longest history's total to the shortest's (target about 1; issue 9 wants 7 vs 365 with
a ratio <= 1.5). Each run's slowest dbt nodes are listed, to show what grows (``--json``
keeps every node's seconds, to compare histories node by node). Clones do not
rewrite ids inside the JSON payloads, so X's replies do not link to their cloned parents
(the responsiveness figures of cloned days differ, the work to compute them does not).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

from bench.common import day_start, ensure_day, log, machine_load, warehouse_url

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
PLATFORM_TABLE_PREFIXES = ("x__", "facebook__", "instagram__", "youtube__")
ID_COLUMNS = {"comment_id", "post_id", "media_id", "conversation_id", "parent_id"}
AFTER_SCORING = "fct_mission_daily_sentiment+"


def ensure_source_day(state_dir: Path, source: date) -> str:
    """The warehouse URL, after one real run of the source day if it is not there yet."""
    url = warehouse_url(state_dir)
    ensure_day(state_dir, url, source)
    return url


def platform_tables(conn: psycopg.Connection) -> dict[str, list[tuple[str, str]]]:
    rows = conn.execute(
        "select table_name, column_name, data_type from information_schema.columns"
        " where table_schema = 'raw' order by table_name, ordinal_position"
    ).fetchall()
    tables: dict[str, list[tuple[str, str]]] = {}
    for table, column, data_type in rows:
        if table.startswith(PLATFORM_TABLE_PREFIXES):
            tables.setdefault(table, []).append((column, data_type))
    return tables


def reset(conn: psycopg.Connection, source: date) -> None:
    """Drop the marts and every earlier clone (anything after the source day)."""
    conn.execute("drop schema if exists marts cascade")
    for table in platform_tables(conn):
        conn.execute(
            sql.SQL("delete from raw.{} where _interval_start > %s").format(sql.Identifier(table)),
            (day_start(source),),
        )
    conn.execute("delete from ml.comment_sentiment where comment_id like '%%~%%'")
    conn.execute("delete from audit.dq_runs where dq_run_id like 'bench~%%'")


def clone_days(conn: psycopg.Connection, source: date, offsets: range) -> None:
    """Copy the source day's raw partitions, validations and scores to source + k days."""
    start = day_start(source)
    shifts = sql.SQL("generate_series({}, {}) as k").format(
        sql.Literal(offsets.start), sql.Literal(offsets.stop - 1)
    )
    for table, columns in platform_tables(conn).items():
        names, values = [], []
        for column, data_type in columns:
            ident = sql.Identifier(column)
            names.append(ident)
            if column == "_loaded_at":
                values.append(sql.SQL("now()"))
            elif data_type.startswith("timestamp"):
                values.append(sql.SQL("{} + k * interval '1 day'").format(ident))
            elif data_type == "date":
                values.append(sql.SQL("{} + k").format(ident))
            elif column in ID_COLUMNS:
                values.append(sql.SQL("{} || '~' || k").format(ident))
            else:
                values.append(ident)
        conn.execute(
            sql.SQL(
                "insert into raw.{t} ({names}) select {values} from raw.{t}, {shifts}"
                " where _interval_start = %s"
            ).format(
                t=sql.Identifier(table),
                names=sql.SQL(", ").join(names),
                values=sql.SQL(", ").join(values),
                shifts=shifts,
            ),
            (start,),
        )
    columns = [
        column
        for (column,) in conn.execute(
            "select column_name from information_schema.columns where table_schema = 'audit'"
            " and table_name = 'dq_runs' order by ordinal_position"
        ).fetchall()
    ]
    values = [
        sql.SQL("'bench~' || k || '~' || dq_run_id")
        if c == "dq_run_id"
        else sql.SQL("batch_date + k")
        if c == "batch_date"
        else sql.SQL("{} + k * interval '1 day'").format(sql.Identifier(c))
        if c in ("started_at", "finished_at")
        else sql.Identifier(c)
        for c in columns
    ]
    conn.execute(
        sql.SQL(
            "insert into audit.dq_runs ({}) select {} from audit.dq_runs, {}"
            " where batch_date = %s and platform is not null and dq_run_id not like 'bench~%%'"
        ).format(
            sql.SQL(", ").join(map(sql.Identifier, columns)), sql.SQL(", ").join(values), shifts
        ),
        (source,),
    )
    scored = []
    for table in ("x__comments", "facebook__comments", "instagram__comments", "youtube__comments"):
        platform = table.split("__")[0]
        scored.append(
            sql.SQL(
                "select {p} as platform, comment_id from raw.{t} where _interval_start = %s"
            ).format(p=sql.Literal(platform), t=sql.Identifier(table))
        )
    columns = [
        column
        for (column,) in conn.execute(
            "select column_name from information_schema.columns where table_schema = 'ml'"
            " and table_name = 'comment_sentiment' order by ordinal_position"
        ).fetchall()
    ]
    values = [
        sql.SQL("s.comment_id || '~' || k")
        if c == "comment_id"
        else sql.SQL("s.scored_at + k * interval '1 day'")
        if c == "scored_at"
        else sql.SQL("s.{}").format(sql.Identifier(c))
        for c in columns
    ]
    conn.execute(
        sql.SQL(
            "insert into ml.comment_sentiment ({cols}) select {vals}"
            " from ml.comment_sentiment s join ({src}) c"
            " on c.platform = s.platform and c.comment_id = s.comment_id, {shifts}"
        ).format(
            cols=sql.SQL(", ").join(map(sql.Identifier, columns)),
            vals=sql.SQL(", ").join(values),
            src=sql.SQL(" union all ").join(scored),
            shifts=shifts,
        ),
        [day_start(source)] * len(scored),
    )
    conn.execute("analyze")


def dbt(url: str, target: Path, args: list[str]) -> tuple[float, float, list[tuple[str, float]]]:
    """Run dbt; its wall time, the sum of its nodes' execution times, every node's time
    (slowest first)."""
    sys.path.insert(0, str(ROOT))
    from missionpulse import pipeline

    started = time.monotonic()
    done = subprocess.run(
        [
            str(BIN / "dbt"),
            *args,
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
    )
    elapsed = time.monotonic() - started
    if done.returncode != 0:
        sys.exit(f"dbt {' '.join(args)} failed:\n{done.stdout[-4000:]}")
    results = json.loads((target / "run_results.json").read_text())["results"]
    # the node's name (a test's readable name, not the hash that ends its unique_id)
    slowest = sorted(
        ((r["unique_id"].split(".")[2], r["execution_time"]) for r in results),
        key=lambda item: -item[1],
    )
    return elapsed, sum(seconds for _, seconds in slowest), slowest


def build_interval(url: str, target: Path, start: date, end: date) -> dict[str, Any]:
    """The daily DAG's dbt work for [start, end): all but the sentiment marts, then those."""
    day_vars = json.dumps(
        {
            "start_date": start.isoformat(),
            "end_date": end.isoformat(),
            "extracted_platforms": "x,facebook,instagram,youtube",
        }
    )
    # dbt unit tests do not read the warehouse's data: their cost is constant, leave them out
    main, main_nodes, main_slowest = dbt(
        url, target, ["build", "--exclude", AFTER_SCORING, "test_type:unit", "--vars", day_vars]
    )
    after, after_nodes, after_slowest = dbt(
        url,
        target,
        ["build", "--select", AFTER_SCORING, "--exclude", "test_type:unit", "--vars", day_vars],
    )
    nodes = sorted(main_slowest + after_slowest, key=lambda item: -item[1])
    return {
        "main_s": main,
        "sentiment_s": after,
        "total_s": main + after,
        "nodes_s": main_nodes + after_nodes,
        "slowest": nodes[:8],
        "nodes": nodes,  # every node's seconds, for --json: what grows with the history
    }


def raw_rows(conn: psycopg.Connection) -> int:
    total = 0
    for table in platform_tables(conn):
        total += conn.execute(
            sql.SQL("select count(*) from raw.{}").format(sql.Identifier(table))
        ).fetchone()[0]
    return total


def bytes_per_day(conn: psycopg.Connection, source: date) -> int:
    """On-disk bytes (heap, TOAST, indexes) one day of raw rows and scores takes: each
    table's total size times the source day's share of its rows."""
    total = 0.0
    day_comments = 0
    for table in platform_tables(conn):
        size, rows, day_rows = conn.execute(
            sql.SQL(
                "select pg_total_relation_size({name}), count(*),"
                " count(*) filter (where _interval_start = %s) from {t}"
            ).format(name=sql.Literal(f"raw.{table}"), t=sql.Identifier("raw", table)),
            (day_start(source),),
        ).fetchone()
        if rows:
            total += size * day_rows / rows
        if table.endswith("__comments"):
            day_comments += day_rows
    size, rows = conn.execute(
        "select pg_total_relation_size('ml.comment_sentiment'), count(*) from ml.comment_sentiment"
    ).fetchone()
    if rows:  # about one score per comment of the day (the missions' own replies have none)
        total += size * min(day_comments, rows) / rows
    return int(total)


def check_room(conn: psycopg.Connection, state_dir: Path, source: date, days: int) -> int:
    """Estimated bytes of ``days`` cloned days; exits when the disk cannot hold them."""
    per_day = bytes_per_day(conn, source)
    need = per_day * days
    free = shutil.disk_usage(state_dir).free
    log(
        f"one day of raw rows and scores takes ~{per_day / 2**20:.0f} MiB on disk: {days} days"
        f" ~{need / 2**30:.1f} GiB (free under {state_dir}: {free / 2**30:.0f} GiB)"
    )
    if need * 1.5 > free:  # dbt's marts and PostgreSQL's WAL need room too
        sys.exit(
            f"{days} days of history need ~{need / 2**30:.1f} GiB (x1.5 with marts and WAL),"
            f" more than the {free / 2**30:.0f} GiB free under {state_dir}: free disk space,"
            " point --state-dir elsewhere, or use a shorter --history (the default 7,60)"
        )
    return need


def bytes_per_day_estimate(estimate: int, longest: dict[str, Any]) -> float:
    return estimate / (longest["history_days"] + 1)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--history", default="7,60", help="history lengths in days, comma-separated (default 7,60)"
    )
    parser.add_argument(
        "--source-day",
        type=date.fromisoformat,
        default=datetime.now(UTC).date() - timedelta(days=2),
    )
    parser.add_argument(
        "--state-dir",
        type=Path,
        default=None,
        help="the bench's own state (warehouse); default a new temp folder",
    )
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument(
        "--estimate-only",
        action="store_true",
        help="print the disk estimate for the longest history and stop",
    )
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)
    histories = sorted({int(n) for n in args.history.split(",")})
    state_dir = args.state_dir or Path(tempfile.mkdtemp(prefix="missionpulse-bench-dbt-"))
    state_dir.mkdir(parents=True, exist_ok=True)
    state_dir.chmod(0o755)
    url = ensure_source_day(state_dir, args.source_day)
    with psycopg.connect(url, autocommit=True) as conn:
        estimate = check_room(conn, state_dir, args.source_day, max(histories) + 1)
    if args.estimate_only:
        return {"estimated_bytes": estimate, "history_days": max(histories)}
    target = Path(tempfile.mkdtemp(prefix="bench-dbt-target-"))
    offset = max(histories) + 10  # clones lie after the source day, clear of real data
    figures: list[dict[str, Any]] = []
    for history in histories:
        timed_day = args.source_day + timedelta(days=offset)
        log(f"history {history} days: cloning {history + 1} days of raw")
        started = time.monotonic()
        with psycopg.connect(url, autocommit=True) as conn:
            reset(conn, args.source_day)
            clone_days(conn, args.source_day, range(offset - history, offset + 1))
            rows = raw_rows(conn)
        clone_s = time.monotonic() - started
        started = time.monotonic()
        build_interval(url, target, timed_day - timedelta(days=history), timed_day)
        history_build_s = time.monotonic() - started
        log(
            f"cloned in {clone_s:.0f} s, history built in {history_build_s:.0f} s;"
            f" timing day {timed_day}"
        )
        runs = [
            build_interval(url, target, timed_day, timed_day + timedelta(days=1))
            for _ in range(args.repeat)
        ]
        best = min(runs, key=lambda r: r["total_s"])
        figures.append(
            {
                "history_days": history,
                "raw_rows": rows,
                "clone_s": clone_s,
                "history_build_s": history_build_s,
                **best,
                "all_totals_s": [round(r["total_s"], 1) for r in runs],
            }
        )
        log(f"history {history}: one more day {best['total_s']:.1f} s")
    print()
    print(f"machine: {machine_load()}")
    print(
        f"{'history':>8} {'raw rows':>10} {'main s':>8} {'sentiment s':>12} {'total s':>8}"
        f" {'node s':>7}  runs (total s)"
    )
    for f in figures:
        print(
            f"{f['history_days']:>8} {f['raw_rows']:>10} {f['main_s']:>8.1f}"
            f" {f['sentiment_s']:>12.1f} {f['total_s']:>8.1f} {f['nodes_s']:>7.1f}"
            f"  {f['all_totals_s']}"
        )
    ratio = figures[-1]["total_s"] / figures[0]["total_s"]
    node_ratio = figures[-1]["nodes_s"] / figures[0]["nodes_s"]
    print(
        f"\nratio {figures[-1]['history_days']} vs {figures[0]['history_days']} days of"
        f" history: {ratio:.2f} (wall), {node_ratio:.2f} (sum of dbt node times)"
    )
    for f in figures:
        nodes = ", ".join(f"{name} {seconds:.1f}s" for name, seconds in f["slowest"][:5])
        print(f"slowest nodes, history {f['history_days']}: {nodes}")
    longest = figures[-1]
    if longest["history_days"] < 365:
        scale = 366 / (longest["history_days"] + 1)
        print(
            f"365 days of history, extrapolated from {longest['history_days']}: ~"
            f"{bytes_per_day_estimate(estimate, longest) * 366 / 2**30:.1f} GiB,"
            f" cloning ~{longest['clone_s'] * scale / 60:.0f} min, building"
            f" ~{longest['history_build_s'] * scale / 60:.0f} min (linear), then as above"
        )
    result = {
        "source_day": args.source_day.isoformat(),
        "estimated_bytes": estimate,
        "figures": figures,
        "ratio": ratio,
        "node_ratio": node_ratio,
    }
    if args.json:
        args.json.write_text(json.dumps(result, indent=2, default=str))
    return result


if __name__ == "__main__":
    main()
