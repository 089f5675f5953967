"""Fault drills: the pipeline survives what production will do to it, with exact figures.

One UTC day is run several times through Airflow (``missionpulse run``), against the session's
embedded warehouse and the in-process platform simulator:

1. **kill -9 during a raw load**: the run is SIGKILLed (its whole process group) while its
   loader's transaction is copying a landing file into ``raw.*`` (seen for real in
   ``pg_stat_activity``); then the day is rerun. Raw counts equal the simulator's truth
   (``missionpulse simulate truth --json``), no row is duplicated or lost, every partition
   holds exactly the rows of its one current ``audit.raw_loads`` entry, and the landing
   files the killed run left behind are never loaded.
1b. **kill -9 while the marts are built**: the run is SIGKILLed while a dbt query of its
   build runs, so it dies holding the marts publication lock (``audit.marts_publish_lock``)
   with ``marts`` untouched; the rerun of the day takes the lock over at once (the lock
   names the dead process, and the rerun replaces its Airflow run), not after the 3-hour
   stale limit, and publishes.
2. **warehouse restart mid-run**: while a dbt task of the next run has a query running, the
   embedded PostgreSQL is stopped and started again (same port, same URL). The failed task
   is retried by Airflow and the run completes with the same counts.
3. **same day, same marts**: the reruns of drills 1 and 1b and the run of drill 2 (and plain
   runs when fewer ran) give identical checksums of every table in ``marts``
   (:data:`EXCLUDED_COLUMNS` lists the only columns left out, and why).

Run them with ``make drills`` (with the chaos and bad-data tests) or
``.venv/bin/python -m pytest -s tests/drills``; ``-s`` shows the table of what each drill
observed.
"""

from __future__ import annotations

import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest

from extractors.common.landing import Manifest, sha256_of
from missionpulse import pipeline, processes, settings, warehouse

pytestmark = [pytest.mark.e2e, pytest.mark.integration]

# a day no other end-to-end module runs (they use 2, 3, 4, 6, 12 and 21-22 days back)
DAY = datetime.now(UTC).date() - timedelta(days=9)
DAY_START = datetime(DAY.year, DAY.month, DAY.day, tzinfo=UTC)
PLATFORMS = settings.PLATFORMS
TRUTH_ENTITIES = ("profiles", "posts", "comments")
RUN_TIMEOUT_S = 1500
POLL_S = 0.01

# The only mart columns the checksums leave out. Everything else, in every table of
# schema marts, must be identical after every run of the same day.
EXCLUDED_COLUMNS: dict[str, dict[str, str]] = {
    "*": {"built_at": "now() when dbt built the row: the time of the build itself"},
    # the two audit-trail marts summarise every validation and dbt invocation ever recorded:
    # by design each run (and each retried try) of a day adds to them
    "mart_data_quality_daily": {
        "runs": "validations of the day so far: every run of the day adds one",
        "passed_runs": "passing validations of the day so far: every run of the day adds one",
        "last_run_at": "when the day's latest validation ran: the time of the build itself",
        "last_loaded_at": "when the day's raw batch was last loaded: the time of the run",
        "freshness_hours": "last_loaded_at minus the end of the day: the time of the run",
    },
    # the latest profile observation per handle, kept incrementally: the profile is the
    # same, the moment it was fetched is the run's
    "int_handle_profile_observations_latest": {
        "observed_at": "when the extractor read the profile: the time of the run",
    },
    "mart_dbt_tests_daily": {
        "invocations": "dbt invocations for the day so far: every run and try adds its own",
        "tests_run": "dbt test results for the day so far: every run and try adds its own",
        "tests_passed": "passing dbt test results for the day so far: every run adds its own",
        "tests_warned": "cumulative like tests_run (a retried try's results stay recorded)",
        "tests_failed": "cumulative like tests_run (a retried try's results stay recorded)",
        "tests_skipped": "cumulative like tests_run (a retried try's results stay recorded)",
    },
}
# Rows left out, by table: (SQL predicate of the rows compared, why).
COMPARED_ROWS: dict[str, tuple[str, str]] = {
    "mart_data_quality_daily": (
        "platform <> 'marts'",
        "the mart suites run after dbt has built this mart, so a build shows the mart "
        "validations of the runs before it: the first completed run of a day (the rerun after "
        "the kill) has none of its own day yet, the later ones have them",
    ),
}


@dataclass
class Ledger:
    """What the drills saw, shared by the module's tests (they run in file order)."""

    checksums: list[tuple[str, dict[str, str]]] = field(default_factory=list)
    rows: list[tuple[str, str, str]] = field(default_factory=list)

    def note(self, drill: str, what: str, figure: object) -> None:
        self.rows.append((drill, what, str(figure)))


@pytest.fixture(scope="module")
def ledger() -> Iterator[Ledger]:
    book = Ledger()
    yield book
    if book.rows:
        first = max(len(r[0]) for r in book.rows)
        width = max(len(r[1]) for r in book.rows)
        print(f"\n\nfault drills, day {DAY} (measured {datetime.now(UTC):%Y-%m-%d %H:%M} UTC)")
        print(f"{'drill':<{first}}  {'observed':<{width}}  figure")
        for drill, what, figure in book.rows:
            print(f"{drill:<{first}}  {what:<{width}}  {figure}")


# ----------------------------------------------------------------------------- helpers


def cli_env(state_dir: Path, url: str) -> dict[str, str]:
    return {
        **os.environ,
        "MISSIONPULSE_STATE_DIR": str(state_dir),
        "MISSIONPULSE_WAREHOUSE_URL": url,
    }


def start_run(state_dir: Path, url: str, log: Path) -> subprocess.Popen[bytes]:
    """``missionpulse run --date DAY`` in its own process group (so it can be killed whole)."""
    with log.open("ab") as out:
        return subprocess.Popen(
            [str(Path(sys.executable).with_name("missionpulse")), "run", "--date", DAY.isoformat()],
            env=cli_env(state_dir, url),
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def finish(proc: subprocess.Popen[bytes], state_dir: Path, log: Path) -> float:
    """Wait for a run; fail with its output and run-log errors unless it exited 0."""
    started = time.monotonic()
    try:
        code = proc.wait(timeout=RUN_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        processes.stop_group(proc.pid, [(signal.SIGTERM, 10), (signal.SIGKILL, 5)])
        pytest.fail(f"missionpulse run --date {DAY} did not finish in {RUN_TIMEOUT_S}s: {log}")
    if code != 0:
        pytest.fail(
            f"missionpulse run --date {DAY} exited {code}\n"
            f"{log.read_text(errors='replace')[-3000:]}\n"
            f"errors in the run log:\n{run_log_errors(state_dir)}"
        )
    return time.monotonic() - started


def run_day(state_dir: Path, url: str, log: Path) -> float:
    started = time.monotonic()
    finish(start_run(state_dir, url, log), state_dir, log)
    return time.monotonic() - started


def run_log_errors(state_dir: Path) -> str:
    path = state_dir / "logs" / "runs" / f"{DAY.isoformat()}.log"
    if not path.exists():
        return f"(no run log at {path})"
    marks = ("[error", "Error", "Traceback", "FAILED", "failed")
    lines = [
        ln for ln in path.read_text(errors="replace").splitlines() if any(m in ln for m in marks)
    ]
    return "\n".join(lines[-60:])


def truth_counts(state_dir: Path, url: str) -> dict[str, dict[str, int]]:
    """What the simulator holds for DAY, from the CLI a person would use."""
    done = subprocess.run(
        [
            str(Path(sys.executable).with_name("missionpulse")),
            *("simulate", "truth", "--date", DAY.isoformat(), "--json"),
        ],
        env=cli_env(state_dir, url),
        capture_output=True,
        text=True,
        check=True,
        timeout=300,
    )
    platforms = json.loads(done.stdout)["platforms"]
    return {p: {e: int(platforms[p][e]) for e in TRUTH_ENTITIES} for p in PLATFORMS}


def raw_tables() -> list[tuple[str, str]]:
    return [(p, e) for p in PLATFORMS for e in pipeline.extractor(p).ENTITIES]


def natural_key(platform: str, entity: str) -> str:
    names = [k.name for k in pipeline.extractor(platform).ENTITIES[entity].keys]
    for candidate in ("comment_id", "post_id", "media_id"):
        if entity != "profiles" and candidate in names:
            return candidate
    return "handle"


def raw_counts(conn: psycopg.Connection[Any]) -> dict[str, dict[str, int]]:
    return {
        p: {
            e: conn.execute(
                f"select count(*) from raw.{p}__{e} where _interval_start = %s", (DAY_START,)
            ).fetchone()[0]  # type: ignore[index]
            for e in TRUTH_ENTITIES
        }
        for p in PLATFORMS
    }


def duplicates(conn: psycopg.Connection[Any]) -> dict[str, int]:
    """Rows beyond the first per natural key, per raw table, for DAY (should all be 0)."""
    found = {}
    for platform, entity in raw_tables():
        if entity not in TRUTH_ENTITIES:
            continue
        key = natural_key(platform, entity)
        (extra,) = conn.execute(  # type: ignore[misc]
            f"select count(*) - count(distinct {key}) from raw.{platform}__{entity} "
            "where _interval_start = %s",
            (DAY_START,),
        ).fetchone()
        found[f"{platform}__{entity}"] = extra
    return found


def load_problems(conn: psycopg.Connection[Any]) -> list[str]:
    """Every way raw.* and audit.raw_loads could disagree for DAY: each partition holds exactly
    the rows of its current loads, which are the landing files (one per batch of handles) of
    one extraction run, each intact; older loads are superseded by a load that exists."""
    problems = []
    for platform, entity in raw_tables():
        where = (platform, entity, DAY_START)
        current = conn.execute(
            "select load_id, rows, landing_file, sha256 from audit.raw_loads "
            "where platform = %s and entity = %s and interval_start = %s and superseded_by is null",
            where,
        ).fetchall()
        in_raw = dict(
            conn.execute(
                f"select _load_id, count(*) from raw.{platform}__{entity} "
                "where _interval_start = %s group by 1",
                (DAY_START,),
            ).fetchall()
        )
        name = f"{platform}/{entity}"
        if not current:
            if in_raw:
                problems.append(f"{name}: rows of loads {sorted(in_raw)} but no current load")
            continue
        ids = sorted(c[0] for c in current)
        # the extraction runs whose batches landed these files, and every file they landed
        runs = conn.execute(
            "select extract_run_id, array_agg(distinct load_ids ->> %s) "
            "from audit.extract_runs where platform = %s and interval_start = %s "
            "and load_ids ->> %s = any(%s) group by 1",
            (entity, platform, DAY_START, entity, ids),
        ).fetchall()
        if len(runs) != 1 or sorted(runs[0][1]) != ids:
            problems.append(
                f"{name}: current loads {ids} are not the batches of one extraction run: {runs}"
            )
        expected = {load_id: rows for load_id, rows, _, _ in current if rows}
        if in_raw != expected:
            problems.append(f"{name}: raw holds {in_raw}, audit.raw_loads says {expected}")
        for load_id, rows, landing_file, sha256 in current:
            manifest = Manifest.read(Path(landing_file.replace(".jsonl.gz", ".manifest.json")))
            if (manifest.rows, manifest.sha256) != (rows, sha256):
                problems.append(
                    f"{name}: landing manifest of {load_id} disagrees with audit.raw_loads"
                )
        dangling = conn.execute(
            "select count(*) from audit.raw_loads l where platform = %s and entity = %s "
            "and interval_start = %s and superseded_by is not null and not exists "
            "(select 1 from audit.raw_loads n where n.load_id = l.superseded_by)",
            where,
        ).fetchone()[0]  # type: ignore[index]
        if dangling:
            problems.append(f"{name}: {dangling} loads superseded by a load that does not exist")
    return problems


def landed(state_dir: Path) -> dict[str, Manifest]:
    """load_id -> manifest of every landing file for DAY."""
    found = {}
    for path in (state_dir / "landing").glob(f"*/*/dt={DAY.isoformat()}/*.manifest.json"):
        manifest = Manifest.read(path)
        found[manifest.load_id] = manifest
    return found


def recorded_load_ids(conn: psycopg.Connection[Any]) -> set[str]:
    rows = conn.execute(
        "select load_id from audit.raw_loads where interval_start = %s", (DAY_START,)
    ).fetchall()
    return {r[0] for r in rows}


def load_ids_in_raw(conn: psycopg.Connection[Any]) -> set[str]:
    found: set[str] = set()
    for platform, entity in raw_tables():
        rows = conn.execute(
            f"select distinct _load_id from raw.{platform}__{entity} where _interval_start = %s",
            (DAY_START,),
        ).fetchall()
        found |= {r[0] for r in rows}
    return found


def marts_checksums(conn: psycopg.Connection[Any]) -> dict[str, str]:
    """md5 over the ordered rows (as JSON, less EXCLUDED_COLUMNS; COMPARED_ROWS where given)
    of every table in marts."""
    tables = [
        r[0]
        for r in conn.execute(
            "select tablename from pg_tables where schemaname = 'marts' order by 1"
        ).fetchall()
    ]
    sums = {}
    for table in tables:
        excluded = sorted({*EXCLUDED_COLUMNS["*"], *EXCLUDED_COLUMNS.get(table, {})})
        where = COMPARED_ROWS.get(table, ("true", ""))[0]
        (digest, rows) = conn.execute(  # type: ignore[misc]
            f"""
            select md5(coalesce(string_agg(line, E'\\n' order by line), '')), count(*)
            from (
                select (to_jsonb(t) - %s::text[])::text as line
                from marts."{table}" t where {where}
            ) rows
            """,
            (excluded,),
        ).fetchone()
        sums[table] = f"{digest} ({rows} rows)"
    return sums


def wait_for_query(
    conn: psycopg.Connection[Any], proc: subprocess.Popen[bytes], condition: str, what: str
) -> tuple[int, str]:
    """(backend pid, query) of the run's first statement matching ``condition`` in
    pg_stat_activity; fails if the run ends first."""
    deadline = time.monotonic() + RUN_TIMEOUT_S
    while time.monotonic() < deadline:
        found = conn.execute(
            f"select pid, query from pg_stat_activity where pid <> pg_backend_pid() and {condition}"
        ).fetchone()
        if found:
            return int(found[0]), str(found[1])
        if proc.poll() is not None:
            pytest.fail(f"the run for {DAY} ended (exit {proc.returncode}) before {what} was seen")
        time.sleep(POLL_S)
    pytest.fail(f"no {what} seen in {RUN_TIMEOUT_S}s of the run for {DAY}")


def kill_9_at(
    conn: psycopg.Connection[Any], proc: subprocess.Popen[bytes], condition: str, what: str
) -> tuple[int, str]:
    """SIGKILL the run's whole process group the moment ``condition`` matches one of its
    statements (:func:`wait_for_query`); (backend pid, query) of that statement."""
    try:
        backend, query = wait_for_query(conn, proc, condition, what)
        processes.signal_group(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.returncode is None:
            processes.stop_group(proc.pid, [(signal.SIGKILL, 10)])
    assert proc.returncode == -signal.SIGKILL
    assert not processes.group_alive(proc.pid)
    return backend, query


def wait_backend_gone(conn: psycopg.Connection[Any], pid: int, timeout_s: float = 60) -> float:
    started = time.monotonic()
    while time.monotonic() - started < timeout_s:
        alive = conn.execute("select 1 from pg_stat_activity where pid = %s", (pid,)).fetchone()
        if alive is None:
            return time.monotonic() - started
        time.sleep(0.1)
    pytest.fail(f"backend {pid} of the killed run still in pg_stat_activity after {timeout_s}s")


def latest_task_tries(state_dir: Path) -> dict[str, int]:
    """``dag_id.task_id`` -> try number (the highest of a mapped task's), over the latest
    run of each of the day's DAGs, from Airflow's metadata."""
    with sqlite3.connect(state_dir / "airflow" / "airflow.db") as meta:
        return dict(
            meta.execute(
                "select ti.dag_id || '.' || ti.task_id, max(ti.try_number)"
                " from task_instance ti join dag_run r"
                " on r.dag_id = ti.dag_id and r.run_id = ti.run_id"
                " where r.id in (select max(id) from dag_run group by dag_id)"
                " group by ti.dag_id, ti.task_id"
            ).fetchall()
        )


def check_day(conn: psycopg.Connection[Any], truth: dict[str, dict[str, int]]) -> None:
    assert raw_counts(conn) == truth
    assert set(duplicates(conn).values()) == {0}, duplicates(conn)
    assert load_problems(conn) == []


# ----------------------------------------------------------------------------- the drills


def test_kill_9_during_raw_load_then_rerun_gives_exact_counts(
    test_state_dir: Path, warehouse_url: str, tmp_path: Path, ledger: Ledger
) -> None:
    truth = truth_counts(test_state_dir, warehouse_url)
    log = tmp_path / "killed-run.log"
    proc = start_run(test_state_dir, warehouse_url, log)
    with psycopg.connect(warehouse_url, autocommit=True) as conn:
        # the loader's transaction: delete + COPY of a landing file into raw.*, in progress
        backend, query = kill_9_at(
            conn,
            proc,
            "application_name = 'missionpulse' and state = 'active' "
            f'and query ~* \'^\\s*copy "raw"\\."({"|".join(PLATFORMS)})__\' '
            "and xact_start is not null",
            "a COPY into a platform's raw.* table",
        )
        table = re.search(r'copy "raw"\."(\w+)"', query, re.IGNORECASE)
        assert table, query
        killed_platform, killed_entity = table.group(1).split("__", 1)
        gone_after = wait_backend_gone(conn, backend)

        # right after the kill: the copying transaction left nothing; raw and the load audit agree
        assert load_problems(conn) == []
        files = landed(test_state_dir)
        orphans = {i: m for i, m in files.items() if i not in recorded_load_ids(conn)}
        assert any(
            (m.platform, m.entity) == (killed_platform, killed_entity) for m in orphans.values()
        ), f"no landing file of {killed_platform}/{killed_entity} left unloaded by the kill"
        committed = len(recorded_load_ids(conn))
        ledger.note("1 kill -9 in load", "killed while copying into", f"raw.{table.group(1)}")
        ledger.note("1 kill -9 in load", "loads committed before the kill", committed)
        ledger.note("1 kill -9 in load", "landing files left unloaded", len(orphans))
        ledger.note("1 kill -9 in load", "server ended the backend after", f"{gone_after:.1f} s")

    seconds = run_day(test_state_dir, warehouse_url, tmp_path / "rerun.log")
    with psycopg.connect(warehouse_url) as conn:
        check_day(conn, truth)
        # the killed run's landing files are still there, intact, and were never loaded
        assert not orphans.keys() & load_ids_in_raw(conn)
        assert not orphans.keys() & recorded_load_ids(conn)
        assert all(sha256_of(m.path) == m.sha256 for m in orphans.values())
        ledger.checksums.append(("rerun after kill", marts_checksums(conn)))
        loaded = sum(sum(v.values()) for v in raw_counts(conn).values())
    expected = sum(sum(v.values()) for v in truth.values())
    ledger.note("1 kill -9 in load", "rerun", f"ok in {seconds:.0f} s")
    ledger.note("1 kill -9 in load", "raw rows / simulator truth", f"{loaded} / {expected}")
    ledger.note("1 kill -9 in load", "duplicate / lost rows", "0 / 0")


def test_kill_9_while_the_marts_build_then_the_rerun_takes_the_lock_over(
    test_state_dir: Path, warehouse_url: str, tmp_path: Path, ledger: Ledger
) -> None:
    truth = truth_counts(test_state_dir, warehouse_url)
    lock = "select dag_run_id, batch_date from audit.marts_publish_lock where lock_name = 'marts'"
    with psycopg.connect(warehouse_url, autocommit=True) as conn:
        published = marts_checksums(conn)
        proc = start_run(test_state_dir, warehouse_url, tmp_path / "killed-in-build.log")
        kill_9_at(
            conn, proc, "application_name = 'dbt' and state = 'active'", "a running dbt query"
        )
        holder = conn.execute(lock).fetchone()
        assert holder is not None and holder[1] == DAY, f"the killed run held no lock: {holder}"
        assert marts_checksums(conn) == published, "a killed build must leave marts untouched"
    ledger.note("1b kill -9 in marts build", "killed run left holding the lock", holder[0])

    log = tmp_path / "rerun-after-build-kill.log"
    seconds = run_day(test_state_dir, warehouse_url, log)
    run_log = (test_state_dir / "logs" / "runs" / f"{DAY.isoformat()}.log").read_text(
        errors="replace"
    )
    assert f"taking over the marts publication lock from run {holder[0]}" in run_log
    with psycopg.connect(warehouse_url) as conn:
        check_day(conn, truth)
        assert conn.execute(lock).fetchone() is None, "the rerun must release the lock"
        ledger.checksums.append(("rerun after kill in build", marts_checksums(conn)))
    ledger.note("1b kill -9 in marts build", "rerun took the lock over", f"ok in {seconds:.0f} s")


def test_warehouse_restart_mid_run_is_retried_and_completes(
    test_state_dir: Path, warehouse_url: str, tmp_path: Path, ledger: Ledger
) -> None:
    truth = truth_counts(test_state_dir, warehouse_url)
    log = tmp_path / "restart-run.log"
    started = time.monotonic()
    proc = start_run(test_state_dir, warehouse_url, log)
    try:
        with psycopg.connect(warehouse_url, autocommit=True) as conn:
            backend, query = wait_for_query(
                conn, proc, "application_name = 'dbt' and state = 'active'", "a running dbt query"
            )
        with pytest.MonkeyPatch.context() as mp:
            mp.delenv(warehouse.ENV_URL)  # the session's own cluster, not an external URL
            before = warehouse.status()
            down = time.monotonic()
            warehouse.stop()
            new_url = warehouse.start()
            downtime = time.monotonic() - down
            after = warehouse.status()
    except BaseException:
        processes.stop_group(proc.pid, [(signal.SIGKILL, 10)])
        raise
    seconds = finish(proc, test_state_dir, log)
    assert before.running and after.running
    assert after.port == before.port and new_url == warehouse_url, "the URL must not change"
    assert after.pid != before.pid  # really a new postmaster
    retried = {t: n for t, n in latest_task_tries(test_state_dir).items() if n > 1}
    assert retried, "the restart failed no task: nothing was retried"
    with psycopg.connect(warehouse_url) as conn:
        check_day(conn, truth)
        ledger.checksums.append(("run with restart", marts_checksums(conn)))
    statement = " ".join(re.sub(r"/\*.*?\*/", " ", query, flags=re.DOTALL).split())[:60]
    ledger.note("2 warehouse restart", "restarted during dbt query", statement)
    ledger.note("2 warehouse restart", "warehouse down (stop + start)", f"{downtime:.1f} s")
    ledger.note("2 warehouse restart", "port before / after", f"{before.port} / {after.port}")
    ledger.note("2 warehouse restart", "tasks retried (try number)", retried)
    ledger.note(
        "2 warehouse restart", "run", f"ok in {time.monotonic() - started:.0f} s ({seconds:.0f})"
    )
    ledger.note("2 warehouse restart", "raw counts = simulator truth", "yes")


def test_three_runs_of_a_day_give_identical_mart_checksums(
    test_state_dir: Path, warehouse_url: str, tmp_path: Path, ledger: Ledger
) -> None:
    # the rerun of drill 1 and the run of drill 2 are two of the three (when run alone: more)
    while len(ledger.checksums) < 3:
        seconds = run_day(test_state_dir, warehouse_url, tmp_path / "plain-run.log")
        ledger.note("3 identical marts", "plain run", f"ok in {seconds:.0f} s")
        with psycopg.connect(warehouse_url) as conn:
            ledger.checksums.append(("plain run", marts_checksums(conn)))
    (first_name, first), *others = ledger.checksums
    differ = {
        f"{table}: {first_name} -> {name}": (first.get(table), sums.get(table))
        for name, sums in others
        for table in sorted({*first, *sums})
        if first.get(table) != sums.get(table)
    }
    assert not differ, f"marts differ between runs of {DAY}: {differ}"
    rows = sum(int(s.split("(")[1].split()[0]) for s in first.values())
    ledger.note(
        "3 identical marts",
        f"runs compared ({', '.join(n for n, _ in ledger.checksums)})",
        len(ledger.checksums),
    )
    ledger.note("3 identical marts", "mart tables / rows, all identical", f"{len(first)} / {rows}")
