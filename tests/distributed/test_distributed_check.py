"""The scale-out check (``make distributed-check``): one day through the seven DAGs (four
extract DAGs, then the asset-scheduled transform_warehouse, score_sentiment and publish) on
a local Celery Airflow with two workers, its marts compared with the single-machine run.

The end-to-end test runs the real check as a user would (``python -m
missionpulse.distributed``: Redis, a PostgreSQL metadata DB, api-server, scheduler,
dag-processor, two Celery workers, then ``missionpulse run`` in a twin warehouse) and reads
its JSON result. The fast tests pin down the two pieces the verdict rests on: the hostname
each worker reports and the checksums of the marts.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import psycopg
import pytest

from missionpulse import distributed, processes

# yesterday, the default (any complete day would do: the check's extract DAGs are unscheduled)
DAY = distributed.default_day()


def test_worker_hostname_comes_from_the_workers_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(distributed.HOSTNAME_ENV, "missionpulse-worker-2")
    assert distributed.worker_hostname() == "missionpulse-worker-2"
    monkeypatch.delenv(distributed.HOSTNAME_ENV)
    assert distributed.worker_hostname()  # the machine's own name otherwise


@pytest.fixture
def scratch_schema(warehouse_url: str) -> Iterator[str]:
    schema = "distributed_check_test"
    with psycopg.connect(warehouse_url, autocommit=True) as conn:
        conn.execute(f"drop schema if exists {schema} cascade")
        conn.execute(f"create schema {schema}")
        conn.execute(
            f"create table {schema}.daily (mission_id text, activity_date date, posts int,"
            " built_at timestamptz default clock_timestamp())"
        )
        conn.execute(f"create table {schema}.weekly (mission_id text, week_start_date date)")
        conn.execute(f"create table {schema}.dim (mission_id text)")
        conn.execute(
            f"insert into {schema}.daily (mission_id, activity_date, posts) values"
            " ('a', '2026-11-18', 1), ('b', '2026-11-18', 2), ('a', '2026-11-17', 9)"
        )
        conn.execute(f"insert into {schema}.weekly values ('a', '2026-11-16'), ('a', '2026-11-09')")
        conn.execute(f"insert into {schema}.dim values ('a'), ('b')")
    yield schema
    with psycopg.connect(warehouse_url, autocommit=True) as conn:
        conn.execute(f"drop schema if exists {schema} cascade")


@pytest.mark.integration
def test_checksums_cover_the_day_and_ignore_the_build_clock(
    warehouse_url: str, scratch_schema: str
) -> None:
    day = date(2026, 11, 18)
    first = distributed.mart_checksums(warehouse_url, day, scratch_schema)
    assert {t: (c.rows, c.scope) for t, c in first.items()} == {
        "daily": (2, "activity_date = 2026-11-18"),
        "weekly": (1, "week_start_date = 2026-11-16"),
        "dim": (2, "whole table"),
        # the day's dbt test results (none in this warehouse), for the order-dependent mart
        "audit.dbt_test_results": (0, "dbt tests of runs for 2026-11-18"),
    }
    with psycopg.connect(warehouse_url, autocommit=True) as conn:
        # rebuilt later (another built_at) and another day changed: same checksums
        conn.execute(f"update {scratch_schema}.daily set built_at = now() + interval '1 day'")
        conn.execute(
            f"update {scratch_schema}.daily set posts = 10 where activity_date <> %s", (day,)
        )
        assert distributed.mart_checksums(warehouse_url, day, scratch_schema) == first
        # one figure of the day changed: that table's checksum changes, the others do not
        conn.execute(
            f"update {scratch_schema}.daily set posts = 3"
            " where mission_id = 'b' and activity_date = %s",
            (day,),
        )
    changed = distributed.mart_checksums(warehouse_url, day, scratch_schema)
    assert changed["daily"].md5 != first["daily"].md5
    assert changed["weekly"] == first["weekly"] and changed["dim"] == first["dim"]


def test_the_check_refuses_a_day_that_is_not_over(capsys: pytest.CaptureFixture[str]) -> None:
    today = datetime.now(UTC).date()
    with pytest.raises(SystemExit) as refused:
        distributed.main(["--date", today.isoformat()])
    assert refused.value.code == 2
    assert f"--date {today} is not over yet" in capsys.readouterr().err


def test_the_check_refuses_a_folder_that_is_not_its_own(tmp_path: Path) -> None:
    (tmp_path / "precious.txt").write_text("keep me")
    with pytest.raises(distributed.DistributedCheckError, match="not a distributed check"):
        distributed._cleanup_previous(tmp_path)
    assert (tmp_path / "precious.txt").exists()


@pytest.fixture(scope="module")
def check() -> Iterator[dict[str, Any]]:
    """One run of the whole check (about 20 minutes on a busy two-core machine)."""
    root = Path(tempfile.mkdtemp(prefix="missionpulse-distributed-"))
    root.chmod(0o755)  # as root the clusters run as another OS user, which must traverse it
    work, out = root / "check", root / "result.json"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "missionpulse.distributed",
            "--date",
            DAY.isoformat(),
            "--work-dir",
            str(work),
            "--json",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=3600,
    )
    if not out.exists():
        pytest.fail(
            f"the distributed check wrote no result (exit {done.returncode})\n"
            f"stdout: {done.stdout[-3000:]}\nstderr: {done.stderr[-3000:]}"
        )
    result: dict[str, Any] = json.loads(out.read_text())
    result["stdout"] = done.stdout
    result["returncode"] = done.returncode
    yield result
    if result.get("ok"):  # a failed check keeps its logs (the path is in its output)
        shutil.rmtree(root, ignore_errors=True)


@pytest.mark.e2e
def test_the_day_ran_on_both_celery_workers(check: dict[str, Any]) -> None:
    assert check["run_state"] == "success", check["stdout"][-3000:]
    assert not check["failed_tasks"]
    # one run of each DAG for the day: the triggered extract runs, and the runs the
    # scheduler created from the day's asset events (none of its own beside them)
    assert set(check["runs"]) == set(distributed.DAG_IDS)
    assert all(run.endswith(": success") for run in check["runs"].values()), check["runs"]
    extract_runs = {check["runs"][d] for d in distributed.EXTRACT_DAG_IDS}
    assert extract_runs == {f"distributed_check__{DAY}: success"}
    per_worker = check["tasks_per_worker"]
    assert set(per_worker) == set(distributed.WORKERS), per_worker
    assert all(per_worker[w] > 0 for w in distributed.WORKERS), per_worker


@pytest.mark.e2e
def test_the_marts_equal_the_single_machine_run(check: dict[str, Any]) -> None:
    assert check["single_machine_ok"], check["stdout"][-3000:]
    dist, single = check["distributed"], check["single_machine"]
    assert "fct_mission_daily_engagement" in dist and "fct_mission_daily_sentiment" in dist
    assert dist["fct_mission_daily_engagement"]["rows"] > 0
    # every mart but the one that counts what was recorded before it was built (task order);
    # its source, the day's dbt test results, is compared instead
    compared = {t: c for t, c in dist.items() if t not in distributed.ORDER_DEPENDENT}
    assert compared == {t: c for t, c in single.items() if t not in distributed.ORDER_DEPENDENT}, (
        check["stdout"][-3000:]
    )
    assert set(distributed.ORDER_DEPENDENT.values()) <= set(compared)
    assert compared["audit.dbt_test_results"]["rows"] > 0
    assert check["checksums_equal"] and check["ok"] and check["returncode"] == 0


@pytest.mark.e2e
def test_the_check_left_nothing_running(check: dict[str, Any]) -> None:
    assert check["left_running"] == []
    assert "every process of the check, ports freed" in check["stdout"]
    work = Path(check["work_dir"])
    assert not list(work.rglob("postmaster.pid")), "a warehouse cluster is still running"
    for pid_file in work.rglob("*.pid"):
        pid = int(pid_file.read_text().strip() or 0)
        assert not pid or not processes.group_alive(pid), f"{pid_file} is still alive"
