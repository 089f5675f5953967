"""Operator commands of the marts publication (``missionpulse marts status|unlock|
drop-shadows``): a run that died holding the lock is released without publishing, and
withheld days' shadows are dropped once inspected, never the one being built.

They run on a published schema of their own (``pubadmin``), as test_publish_gate does.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from datetime import date

import psycopg
import pytest
from click.testing import CliRunner

from missionpulse import cli, marts_publish
from missionpulse.marts_publish import PublishError

PUBLISHED = "pubadmin"
DAY = date(2025, 4, 2)
OTHER_DAY = date(2025, 4, 3)


def schemas(conn: psycopg.Connection) -> set[str]:
    rows = conn.execute(
        "select nspname from pg_namespace where nspname like %s", (f"{PUBLISHED}%",)
    ).fetchall()
    return {name for (name,) in rows}


@pytest.fixture
def published(warehouse_url: str) -> Iterator[psycopg.Connection]:
    marts_publish.ensure_tables(warehouse_url)
    with psycopg.connect(warehouse_url, autocommit=True) as conn:
        for name in schemas(conn):
            conn.execute(f'drop schema "{name}" cascade')
        conn.execute("delete from audit.marts_publish_lock where lock_name = %s", (PUBLISHED,))
        conn.execute(
            "delete from audit.mart_publications where shadow_schema like %s",
            (f"{PUBLISHED}\\_shadow\\_%",),
        )
        conn.execute(f"create schema {PUBLISHED}")
        conn.execute(f"create table {PUBLISHED}.fct (mission_id text primary key, posts int)")
        conn.execute(
            f"insert into {PUBLISHED}.fct select 'm' || n, n from generate_series(1, 20) n"
        )
        yield conn


def test_status_names_the_holder_and_the_shadows(
    published: psycopg.Connection, warehouse_url: str
) -> None:
    assert marts_publish.lock_holder(warehouse_url, PUBLISHED) is None
    marts_publish.stage(warehouse_url, OTHER_DAY, "run-old", marts=PUBLISHED)
    marts_publish.withhold(warehouse_url, OTHER_DAY, "run-old", "suite failed", marts=PUBLISHED)
    marts_publish.stage(warehouse_url, DAY, "run-dead", marts=PUBLISHED)

    holder = marts_publish.lock_holder(warehouse_url, PUBLISHED)
    assert holder is not None
    assert (holder["dag_run_id"], holder["day"], holder["shadow"]) == (
        "run-dead",
        DAY,
        f"{PUBLISHED}_shadow_20250402",
    )
    assert holder["silent_s"] >= 0
    left = {s.schema: s for s in marts_publish.shadows(warehouse_url, PUBLISHED)}
    assert set(left) == {f"{PUBLISHED}_shadow_20250402", f"{PUBLISHED}_shadow_20250403"}
    building, withheld = left[f"{PUBLISHED}_shadow_20250402"], left[f"{PUBLISHED}_shadow_20250403"]
    assert (building.locked, building.status, building.day) == (True, "staged", DAY)
    assert (withheld.locked, withheld.status, withheld.reason) == (
        False,
        "withheld",
        "suite failed",
    )
    assert withheld.size_bytes > 0
    recent = marts_publish.recent_publications(warehouse_url, 5, PUBLISHED)
    assert [(p["day"], p["status"]) for p in recent] == [(DAY, "staged"), (OTHER_DAY, "withheld")]
    marts_publish.withhold(warehouse_url, DAY, "run-dead", "test over", marts=PUBLISHED)


def test_unlock_releases_only_the_named_holder_and_publishes_nothing(
    published: psycopg.Connection, warehouse_url: str
) -> None:
    marts_publish.stage(warehouse_url, DAY, "run-dead", marts=PUBLISHED)
    before = published.execute(f"select count(*), sum(posts) from {PUBLISHED}.fct").fetchone()

    with pytest.raises(PublishError, match="held by run run-dead"):
        marts_publish.release(warehouse_url, "run-other", "tester", PUBLISHED)
    assert marts_publish.lock_holder(warehouse_url, PUBLISHED)["dag_run_id"] == "run-dead"

    released = marts_publish.release(warehouse_url, "run-dead", "tester", PUBLISHED)

    assert released == {
        "dag_run_id": "run-dead",
        "day": DAY,
        "shadow": f"{PUBLISHED}_shadow_20250402",
    }
    assert marts_publish.lock_holder(warehouse_url, PUBLISHED) is None
    # (test_publish_gate's run-dead staged its own schema: not this one's business)
    assert published.execute(
        "select status, reason from audit.mart_publications where dag_run_id = 'run-dead'"
        " and shadow_schema = %s",
        (f"{PUBLISHED}_shadow_20250402",),
    ).fetchall() == [("withheld", "lock released by tester (missionpulse marts unlock)")]
    assert published.execute(f"select count(*), sum(posts) from {PUBLISHED}.fct").fetchone() == (
        before
    )
    assert f"{PUBLISHED}_shadow_20250402" in schemas(published), "kept for inspection"
    with pytest.raises(PublishError, match="nobody holds"):
        marts_publish.release(warehouse_url, "run-dead", "tester", PUBLISHED)
    # the lock is free again: the next run stages at once
    assert marts_publish.stage(warehouse_url, DAY, "run-next", marts=PUBLISHED, wait_s=0).schema
    marts_publish.withhold(warehouse_url, DAY, "run-next", "test over", marts=PUBLISHED)


def test_drop_shadows_spares_the_one_being_built(
    published: psycopg.Connection, warehouse_url: str
) -> None:
    marts_publish.stage(warehouse_url, OTHER_DAY, "run-old", marts=PUBLISHED)
    marts_publish.withhold(warehouse_url, OTHER_DAY, "run-old", "suite failed", marts=PUBLISHED)
    marts_publish.stage(warehouse_url, DAY, "run-live", marts=PUBLISHED)

    assert marts_publish.drop_shadows(warehouse_url, None, PUBLISHED) == [
        f"{PUBLISHED}_shadow_20250403"
    ]
    assert schemas(published) == {PUBLISHED, f"{PUBLISHED}_shadow_20250402"}
    assert marts_publish.drop_shadows(warehouse_url, [DAY], PUBLISHED) == []

    marts_publish.withhold(warehouse_url, DAY, "run-live", "test over", marts=PUBLISHED)
    assert marts_publish.drop_shadows(warehouse_url, [OTHER_DAY], PUBLISHED) == []
    assert marts_publish.drop_shadows(warehouse_url, [DAY], PUBLISHED) == [
        f"{PUBLISHED}_shadow_20250402"
    ]
    assert schemas(published) == {PUBLISHED}


def test_a_retry_withholds_only_its_own_earlier_staging(
    published: psycopg.Connection, warehouse_url: str
) -> None:
    """Staging again marks the run's earlier staging of these marts withheld, never the
    same run id's staging of another published schema (each has its own lock)."""
    other = f"{PUBLISHED}_other"
    published.execute(f"create schema {other}")
    published.execute(f"create table {other}.fct as select * from {PUBLISHED}.fct")
    try:
        marts_publish.stage(warehouse_url, DAY, "run-retry", marts=other)
        marts_publish.stage(warehouse_url, DAY, "run-retry", marts=PUBLISHED)
        marts_publish.stage(warehouse_url, DAY, "run-retry", marts=PUBLISHED)
        rows = published.execute(
            "select shadow_schema, status, reason from audit.mart_publications"
            " where dag_run_id = 'run-retry' order by shadow_schema, status"
        ).fetchall()
        assert rows == [
            (f"{other}_shadow_20250402", "staged", None),
            (f"{PUBLISHED}_shadow_20250402", "staged", None),
            (f"{PUBLISHED}_shadow_20250402", "withheld", "staged again by a retry"),
        ]
    finally:
        for marts in (other, PUBLISHED):
            marts_publish.withhold(warehouse_url, DAY, "run-retry", "test over", marts=marts)
        published.execute("delete from audit.mart_publications where dag_run_id = 'run-retry'")
        published.execute("delete from audit.marts_publish_lock where lock_name = %s", (other,))


def test_a_dead_in_process_holder_is_taken_over_at_once(
    published: psycopg.Connection,
    warehouse_url: str,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """missionpulse run/backfill run whole DAG runs in one process: the lock names it, and a
    run of another day does not wait hours for the heartbeat of a run killed with it."""
    gone = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        check=True,
        capture_output=True,
        text=True,
    )
    dead_pid = int(gone.stdout)
    host = socket.gethostname()
    monkeypatch.setattr(marts_publish, "_this_process", lambda: (host, dead_pid, 1.0e9))
    marts_publish.stage(warehouse_url, OTHER_DAY, "run-killed", marts=PUBLISHED)
    holder = marts_publish.lock_holder(warehouse_url, PUBLISHED)
    assert holder is not None
    assert (holder["holder_host"], holder["holder_pid"], holder["holder_dead"]) == (
        host,
        dead_pid,
        True,
    )

    monkeypatch.undo()  # from here on this process (alive) records itself
    monkeypatch.setenv(marts_publish.IN_PROCESS_ENV, "1")
    with caplog.at_level("WARNING", logger="missionpulse.marts_publish"):
        marts_publish.stage(warehouse_url, DAY, "run-next", marts=PUBLISHED, wait_s=0)
    assert any(f"pid {dead_pid}) has died" in r.getMessage() for r in caplog.records)
    holder = marts_publish.lock_holder(warehouse_url, PUBLISHED)
    assert holder is not None
    assert (holder["dag_run_id"], holder["holder_pid"], holder["holder_dead"]) == (
        "run-next",
        os.getpid(),
        False,
    )
    # a live in-process holder is waited for like any other
    with pytest.raises(PublishError, match="run-next"):
        marts_publish.stage(warehouse_url, OTHER_DAY, "run-third", marts=PUBLISHED, wait_s=0)
    marts_publish.withhold(warehouse_url, DAY, "run-next", "test over", marts=PUBLISHED)
    marts_publish.withhold(warehouse_url, OTHER_DAY, "run-killed", "test over", marts=PUBLISHED)


def test_a_scheduler_driven_holder_names_no_process(
    published: psycopg.Connection, warehouse_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One task per process: the process that staged exits while its run goes on."""
    monkeypatch.delenv(marts_publish.IN_PROCESS_ENV, raising=False)
    marts_publish.stage(warehouse_url, DAY, "run-scheduled", marts=PUBLISHED)
    holder = marts_publish.lock_holder(warehouse_url, PUBLISHED)
    assert holder is not None
    assert (holder["holder_pid"], holder["holder_dead"]) == (None, False)
    with pytest.raises(PublishError, match="run-scheduled"):
        marts_publish.stage(warehouse_url, OTHER_DAY, "run-other", marts=PUBLISHED, wait_s=0)
    marts_publish.withhold(warehouse_url, DAY, "run-scheduled", "test over", marts=PUBLISHED)


def test_cli_status_unlock_and_drop_shadows(warehouse_url: str) -> None:
    runner = CliRunner()
    status = runner.invoke(cli.main, ["marts", "status"])
    assert status.exit_code == 0, status.output
    assert status.output.startswith("lock: ")
    assert "shadow schemas left" in status.output

    unlock = runner.invoke(cli.main, ["marts", "unlock", "--run", "no-such-run"])
    assert unlock.exit_code == 1
    assert "nothing" in unlock.output and "released the lock" not in unlock.output

    usage = runner.invoke(cli.main, ["marts", "drop-shadows"])
    assert usage.exit_code == 2
    assert "--date D, or --all" in usage.output
