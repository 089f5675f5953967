"""Backfill benchmark: N days at demo scale through Airflow, twice, with row counts.

    .venv/bin/python -m bench.backfill [--days 30] [--to 2026-11-27] [--state-dir DIR]
                                       [--no-rescore] [--json OUT]

Figures, not a pass/fail test (but it exits 1 when the second pass changes any count).
Method:

1. ``missionpulse backfill --from D1 --to D2`` (the command a data team runs: every day
   through the seven DAGs with ``dag.test``, against the local platform simulator) runs the
   N days ending ``--to`` (default yesterday) in the bench's own warehouse
   (``--state-dir``, default ``$MISSIONPULSE_STATE_DIR`` or a new temporary folder; never
   the user's ``.missionpulse/``). Wall time per day comes from the command's own progress
   lines, the total from this process.
2. After the pass, the rows of every table in ``raw``, ``marts`` (tables, not views),
   ``ml`` and ``snapshots`` are counted, and the duration of each Airflow task instance of
   the range's runs is read from Airflow's metadata DB (``<state>/airflow/airflow.db``):
   ``score_sentiment.score`` is the sentiment scoring inside the daily run.
3. The same backfill runs a second time; issue 7's "done when" is that every count is
   equal after it (reruns replace a day's partitions, they never add to them).
4. Sentiment on its own (unless ``--no-rescore``): the range's scores of the current model
   version are deleted, as a model-version change leaves them, and
   ``missionpulse sentiment backfill --since D1`` scores them all again in one batch job;
   the ``ml`` counts must come back to the same figure.

``--days 30`` (``make bench``) and ``--days 365`` work the same way: each pass takes about
the number of days times the per-day time of ``bench.day``, so 365 days run twice take
most of a day on two cores. The table of the README's "Performance" says which ranges
have been measured.
"""

from __future__ import annotations

import argparse
import json
import re
import sqlite3
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
    log,
    machine_load,
    missionpulse,
    state_dir,
    state_env,
    task_runs,
    warehouse_url,
)

COUNTED_SCHEMAS = ("raw", "marts", "ml", "snapshots")
DAY_LINE = re.compile(r"^\[(\d+)/(\d+)\] (\d{4}-\d{2}-\d{2}) (\S+) in ([\d.]+)s")
ANSI = re.compile(r"\x1b\[[0-9;]*m")


def parse_day_line(line: str) -> tuple[int, int, str, str, float] | None:
    """``missionpulse backfill``'s progress line for one day: number, of, day, status, s."""
    match = DAY_LINE.match(ANSI.sub("", line))
    if not match:
        return None
    number, total, day, status, seconds = match.groups()
    return int(number), int(total), day, status, float(seconds)


def run_backfill(state: Path, first: date, last: date, log_path: Path) -> dict[str, Any]:
    """One ``missionpulse backfill`` pass: per-day wall seconds and outcome, total seconds."""
    days: dict[str, dict[str, Any]] = {}
    started = time.monotonic()
    with log_path.open("a", encoding="utf-8") as log_file:
        proc = subprocess.Popen(
            [
                str(BIN / "missionpulse"),
                "backfill",
                "--from",
                first.isoformat(),
                "--to",
                last.isoformat(),
            ],
            env=state_env(state),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        assert proc.stdout is not None
        for line in proc.stdout:
            log_file.write(line)
            log_file.flush()
            parsed = parse_day_line(line)
            if parsed:
                number, total, day, status, seconds = parsed
                days[day] = {"status": status, "seconds": seconds}
                log(f"  day {number}/{total} {day} {status} in {seconds:.1f} s")
        returncode = proc.wait()
    return {"returncode": returncode, "days": days, "total_s": time.monotonic() - started}


def row_counts(url: str) -> dict[str, int]:
    """Rows of every table (and materialised view) in the counted schemas."""
    counts: dict[str, int] = {}
    with psycopg.connect(url) as conn:
        tables = conn.execute(
            "select table_schema, table_name from information_schema.tables"
            " where table_schema = any(%s) and table_type = 'BASE TABLE'"
            " union all select schemaname, matviewname from pg_matviews"
            " where schemaname = any(%s) order by 1, 2",
            (list(COUNTED_SCHEMAS), list(COUNTED_SCHEMAS)),
        ).fetchall()
        for schema, table in tables:
            counts[f"{schema}.{table}"] = conn.execute(
                sql.SQL("select count(*) from {}").format(sql.Identifier(schema, table))
            ).fetchone()[0]
    return counts


def task_seconds(state: Path, first: date, last: date, since: datetime) -> dict[str, float]:
    """Seconds per ``<DAG>.<task>`` (dbt task groups summed per group) of the pass's runs,
    most first."""
    totals: dict[str, float] = {}
    for run in task_runs(state, first, last, since):
        totals[run.step] = totals.get(run.step, 0.0) + run.seconds
    return dict(sorted(totals.items(), key=lambda item: -item[1]))


def rescore(state: Path, url: str, first: date, since: datetime) -> dict[str, Any]:
    """Delete the scores the backfill made (scored after ``since``), as a model-version
    change leaves them, then time ``missionpulse sentiment backfill`` scoring them again."""
    with psycopg.connect(url, autocommit=True) as conn:
        version = conn.execute(
            "select model_version from ml.comment_sentiment order by scored_at desc limit 1"
        ).fetchone()
        if version is None:
            return {"skipped": "no scores in ml.comment_sentiment"}
        deleted = conn.execute(
            "delete from ml.comment_sentiment where model_version = %s and scored_at >= %s",
            (version[0], since),
        ).rowcount
    started = time.monotonic()
    out = missionpulse(
        state,
        "sentiment",
        "backfill",
        "--since",
        first.isoformat(),
        "--model-version",
        version[0],
    )
    elapsed = time.monotonic() - started
    return {
        "model_version": version[0],
        "deleted": deleted,
        "wall_s": elapsed,
        "output": out.strip().splitlines()[-1] if out.strip() else "",
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument(
        "--to",
        type=date.fromisoformat,
        default=datetime.now(UTC).date() - timedelta(days=1),
        help="last day of the range (default yesterday)",
    )
    parser.add_argument("--state-dir", type=Path, default=None)
    parser.add_argument("--no-rescore", action="store_true")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)
    first, last = args.to - timedelta(days=args.days - 1), args.to
    state = state_dir(args.state_dir, "missionpulse-bench-backfill-")
    log_path = state / "bench-backfill.log"
    log(f"state {state}; backfill log {log_path}; days {first} .. {last}")
    url = warehouse_url(state)

    passes: list[dict[str, Any]] = []
    started_at = datetime.now(UTC)
    for number in (1, 2):
        log(f"pass {number}: missionpulse backfill --from {first} --to {last}")
        pass_started = datetime.now(UTC)
        result = run_backfill(state, first, last, log_path)
        result["counts"] = row_counts(url)
        try:
            result["tasks_s"] = task_seconds(state, first, last, pass_started)
        except sqlite3.Error as err:  # the figures of the pass still count
            log(f"pass {number}: Airflow task durations unreadable: {err}")
            result["tasks_s"] = {}
        result["machine"] = machine_load()
        passes.append(result)
        if args.json:
            args.json.write_text(json.dumps({"passes": passes}, indent=2, default=str))
        log(
            f"pass {number}: exit {result['returncode']} in {result['total_s']:.0f} s;"
            f" sentiment scoring {result['tasks_s'].get('score_sentiment.score', 0):.0f} s"
        )
    sentiment = {} if args.no_rescore else rescore(state, url, first, started_at)
    if sentiment and "deleted" in sentiment:
        sentiment["ml_rows_after"] = row_counts(url).get("ml.comment_sentiment")

    one, two = passes
    print()
    print(f"Backfill of {args.days} days, {first} .. {last}, demo scale ({state})")
    print(f"machine after each pass: {one['machine']}; {two['machine']}")
    print(f"{'day':<11} {'pass 1 s':>9} {'pass 2 s':>9}")
    for day in sorted(set(one["days"]) | set(two["days"])):
        a, b = one["days"].get(day, {}), two["days"].get(day, {})
        nan = float("nan")
        print(
            f"{day:<11} {a.get('seconds', nan):>9.1f} {b.get('seconds', nan):>9.1f}"
            + ("" if a.get("status") == b.get("status") == "ok" else "  (not ok)")
        )
    for p in (one, two):
        per_day = [d["seconds"] for d in p["days"].values()]
        p["mean_day_s"] = sum(per_day) / len(per_day) if per_day else float("nan")
    print(
        f"{'total':<11} {one['total_s']:>9.0f} {two['total_s']:>9.0f}"
        f"   (mean day {one['mean_day_s']:.1f} s / {two['mean_day_s']:.1f} s;"
        f" exit {one['returncode']} / {two['returncode']})"
    )
    print("\nAirflow task time, summed over the range (s):")
    print(f"{'task':<22} {'pass 1':>8} {'pass 2':>8}")
    for task in one["tasks_s"]:
        print(f"{task:<22} {one['tasks_s'][task]:>8.0f} {two['tasks_s'].get(task, 0):>8.0f}")
    print("\nRows after each pass:")
    print(f"{'table':<48} {'pass 1':>10} {'pass 2':>10}")
    differ = []
    for table in sorted(set(one["counts"]) | set(two["counts"])):
        a, b = one["counts"].get(table), two["counts"].get(table)
        mark = "" if a == b else "  DIFFERS"
        if a != b:
            differ.append(table)
        print(f"{table:<48} {a!s:>10} {b!s:>10}{mark}")
    for schema in COUNTED_SCHEMAS:
        totals = [
            sum(v for k, v in p["counts"].items() if k.startswith(schema + ".")) for p in passes
        ]
        print(f"{schema + ' (all tables)':<48} {totals[0]:>10} {totals[1]:>10}")
    if sentiment:
        print(
            "\nSentiment alone (scores of the range deleted, then `missionpulse sentiment"
            " backfill`):"
        )
        if "deleted" in sentiment:
            rate = sentiment["deleted"] / sentiment["wall_s"]
            print(
                f"  {sentiment['deleted']} comments re-scored with {sentiment['model_version']}"
                f" in {sentiment['wall_s']:.1f} s wall ({rate:.0f} comments/s);"
                f" ml.comment_sentiment after: {sentiment['ml_rows_after']}"
            )
            print(f"  {sentiment['output']}")
        else:
            print(f"  {sentiment['skipped']}")
    idempotent = not differ and one["returncode"] == two["returncode"] == 0
    print(
        "\nidempotent: "
        + ("yes, every count equal after the second pass" if idempotent else "NO")
        + (f" (differ: {', '.join(differ)})" if differ else "")
    )
    if args.json:
        args.json.write_text(
            json.dumps(
                {"first": first, "last": last, "passes": passes, "sentiment": sentiment},
                indent=2,
                default=str,
            )
        )
    return 0 if idempotent else 1


if __name__ == "__main__":
    sys.exit(main())
