"""The marts are published only after their suites pass (missionpulse/marts_publish.py).

The first tests drive the shadow copy, the swap and the lock on a schema of their own
(``pubgate``, published the same way as ``marts``) so they stay out of the way of the other
mart tests. The end-to-end test runs real days through Airflow: a bad row that dbt's
incremental build carries into the shadow fails a mart suite, the run fails naming the mart
and the expectation, ``marts`` stays byte-identical, and the next good run publishes.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import psycopg
import pytest

from missionpulse import db, marts_publish
from missionpulse.marts_publish import PublishError

PUBLISHED = "pubgate"
DAY = date(2025, 3, 20)


def fingerprint(conn: psycopg.Connection, schema: str) -> dict[str, str]:
    """Every table's rows (md5 of the sorted rows) and the schema's oid: equal fingerprints
    mean nothing was written, and no schema was swapped in."""
    (oid,) = conn.execute(
        "select oid::text from pg_namespace where nspname = %s", (schema,)
    ).fetchone()
    result = {"schema oid": oid}
    tables = conn.execute(
        "select tablename from pg_tables where schemaname = %s order by 1", (schema,)
    ).fetchall()
    for (table,) in tables:
        (digest,) = conn.execute(
            f"select md5(coalesce(string_agg(t::text, E'\\n' order by t::text), ''))"
            f' from "{schema}"."{table}" t'
        ).fetchone()
        result[table] = digest
    return result


def schema_exists(conn: psycopg.Connection, name: str) -> bool:
    return (
        conn.execute("select 1 from pg_namespace where nspname = %s", (name,)).fetchone()
        is not None
    )


@pytest.fixture
def published(warehouse_url: str) -> psycopg.Connection:
    """A small published schema: an incremental-style table with a key, an index and a
    comment, a snapshot-style table, and a view over the first."""
    marts_publish.ensure_tables(warehouse_url)
    with psycopg.connect(warehouse_url, autocommit=True) as conn:
        conn.execute(
            "select pg_advisory_lock(hashtext('missionpulse-marts-publish-tests'))"
        )  # one test of this module at a time, even across sessions on one warehouse
        conn.execute(f"drop schema if exists {PUBLISHED} cascade")
        for (name,) in conn.execute(
            "select nspname from pg_namespace where nspname like %s", (f"{PUBLISHED}\\_%",)
        ).fetchall():
            conn.execute(f'drop schema "{name}" cascade')
        conn.execute("delete from audit.marts_publish_lock where lock_name = %s", (PUBLISHED,))
        conn.execute(f"create schema {PUBLISHED}")
        conn.execute(
            f"create table {PUBLISHED}.fct_daily (mission_id text, activity_date date,"
            " posts integer not null default 0, primary key (mission_id, activity_date))"
        )
        conn.execute(f"create index on {PUBLISHED}.fct_daily (activity_date)")
        conn.execute(f"comment on table {PUBLISHED}.fct_daily is 'one row per mission and day'")
        conn.execute(
            f"insert into {PUBLISHED}.fct_daily select 'm' || n, date '2025-03-19', n"
            " from generate_series(1, 50) n"
        )
        conn.execute(
            f"create table {PUBLISHED}.snp_profiles (handle_key text, dbt_valid_from"
            " timestamptz, dbt_valid_to timestamptz)"
        )
        conn.execute(f"insert into {PUBLISHED}.snp_profiles values ('x:a', now(), null)")
        conn.execute(
            f"create view {PUBLISHED}.v_totals as select activity_date, sum(posts) as posts"
            f" from {PUBLISHED}.fct_daily group by 1"
        )
        yield conn
        conn.execute("select pg_advisory_unlock(hashtext('missionpulse-marts-publish-tests'))")


def test_stage_copies_tables_indexes_and_views_into_the_shadow(
    published: psycopg.Connection, warehouse_url: str
) -> None:
    staged = marts_publish.stage(warehouse_url, DAY, "run-a", marts=PUBLISHED)
    shadow = marts_publish.shadow_schema(DAY, PUBLISHED)

    assert staged.schema == shadow == f"{PUBLISHED}_shadow_20250320"
    assert staged.tables == {"fct_daily": 50, "snp_profiles": 1, "v_totals": -1}
    assert {k: v for k, v in fingerprint(published, shadow).items() if k != "schema oid"} == {
        k: v for k, v in fingerprint(published, PUBLISHED).items() if k != "schema oid"
    }
    indexes = published.execute(
        "select count(*) from pg_indexes where schemaname = %s and tablename = 'fct_daily'",
        (shadow,),
    ).fetchone()
    assert indexes == (2,)  # primary key and the activity_date index
    assert published.execute(
        "select obj_description(%s::regclass)", (f"{shadow}.fct_daily",)
    ).fetchone() == ("one row per mission and day",)
    # the view reads the shadow's table, not the published one
    published.execute(f"insert into {shadow}.fct_daily values ('m1', date '2025-03-20', 7)")
    assert published.execute(f"select count(*) from {shadow}.v_totals").fetchone() == (2,)
    assert published.execute(f"select count(*) from {PUBLISHED}.v_totals").fetchone() == (1,)
    marts_publish.withhold(warehouse_url, DAY, "run-a", "test", marts=PUBLISHED)


def test_withheld_build_leaves_the_published_schema_byte_identical(
    published: psycopg.Connection, warehouse_url: str
) -> None:
    before = fingerprint(published, PUBLISHED)
    marts_publish.stage(warehouse_url, DAY, "run-bad", marts=PUBLISHED)
    shadow = marts_publish.shadow_schema(DAY, PUBLISHED)
    published.execute(f"insert into {shadow}.fct_daily values ('m1', date '2025-03-20', -5)")
    published.execute(f"update {shadow}.snp_profiles set dbt_valid_to = now()")

    assert marts_publish.withhold(warehouse_url, DAY, "run-bad", "suite failed", marts=PUBLISHED)

    assert fingerprint(published, PUBLISHED) == before
    assert published.execute(
        f"select posts from {shadow}.fct_daily where posts < 0"
    ).fetchall() == [(-5,)], "the shadow stays for inspection"
    assert published.execute(
        "select status, reason from audit.mart_publications where dag_run_id = 'run-bad'"
    ).fetchall() == [("withheld", "suite failed")]
    assert (
        published.execute(
            "select 1 from audit.marts_publish_lock where lock_name = %s", (PUBLISHED,)
        ).fetchone()
        is None
    )


def test_publish_swaps_in_one_transaction_while_a_bi_reader_reads(
    published: psycopg.Connection, warehouse_url: str
) -> None:
    reader_url = db.ensure_bi_reader(warehouse_url)
    marts_publish.stage(warehouse_url, DAY, "run-1", marts=PUBLISHED)
    marts_publish.publish(warehouse_url, DAY, "run-1", ["dq-1"], marts=PUBLISHED)
    shadow = marts_publish.shadow_schema(DAY, PUBLISHED)
    assert not schema_exists(published, shadow)

    marts_publish.stage(warehouse_url, DAY, "run-2", marts=PUBLISHED)
    published.execute(f"insert into {shadow}.fct_daily values ('m1', date '2025-03-20', 9)")
    done: dict[str, object] = {}
    with psycopg.connect(reader_url) as reader:  # read-only role, its own transaction
        assert reader.execute(f"select count(*) from {PUBLISHED}.fct_daily").fetchone() == (50,)

        def swap() -> None:
            started = time.monotonic()
            try:
                marts_publish.publish(warehouse_url, DAY, "run-2", ["dq-2"], marts=PUBLISHED)
            except Exception as err:  # noqa: BLE001 - reported by the assertion below
                done["error"] = err
            done["seconds"] = time.monotonic() - started

        thread = threading.Thread(target=swap)
        thread.start()
        # the swap commits while the reader's transaction still holds the old table: a new
        # connection sees the new rows at once, without waiting for the reader
        deadline = time.monotonic() + 20
        with psycopg.connect(reader_url, autocommit=True) as other:
            while other.execute(f"select count(*) from {PUBLISHED}.fct_daily").fetchone() != (51,):
                assert time.monotonic() < deadline, f"swap not visible: {done}"
                time.sleep(0.1)
            assert other.execute(f"select posts from {PUBLISHED}.v_totals order by 1").fetchall()
        # the reader's next statement, same transaction, reads the published tables unharmed
        assert reader.execute(f"select count(*) from {PUBLISHED}.fct_daily").fetchone() == (51,)
        reader.commit()
    thread.join(timeout=60)
    assert "error" not in done, done.get("error")
    assert not schema_exists(published, shadow)
    retired = published.execute(
        "select count(*) from pg_namespace where nspname like %s", (f"{PUBLISHED}\\_retired%",)
    ).fetchone()
    assert retired == (0,), "the old schema is dropped once its last reader is done"
    statuses = published.execute(
        "select dag_run_id, status, dq_run_ids from audit.mart_publications"
        " where dag_run_id in ('run-1', 'run-2') order by staged_at"
    ).fetchall()
    assert statuses == [("run-1", "published", ["dq-1"]), ("run-2", "published", ["dq-2"])]


def test_the_lock_serialises_runs_from_copy_to_swap(
    published: psycopg.Connection, warehouse_url: str
) -> None:
    other_day = DAY + timedelta(days=1)
    marts_publish.stage(warehouse_url, DAY, "run-a", marts=PUBLISHED)

    with pytest.raises(PublishError, match=r"run run-a \(day 2025-03-20.*held the publication"):
        marts_publish.stage(warehouse_url, other_day, "run-b", marts=PUBLISHED, wait_s=0)
    # a holder Airflow still runs keeps the lock; one whose run has finished loses it
    with pytest.raises(PublishError, match="run-a"):
        marts_publish.stage(
            warehouse_url,
            other_day,
            "run-b",
            holder_alive=lambda run: True,
            wait_s=0,
            marts=PUBLISHED,
        )
    marts_publish.stage(
        warehouse_url,
        other_day,
        "run-b",
        holder_alive=lambda run: False,
        wait_s=0,
        marts=PUBLISHED,
    )
    before = fingerprint(published, PUBLISHED)
    # run-a lost the lock: its publish must not undo what run-b will publish
    with pytest.raises(PublishError, match="no longer holds"):
        marts_publish.publish(warehouse_url, DAY, "run-a", [], marts=PUBLISHED)
    assert fingerprint(published, PUBLISHED) == before

    # a waiting run gets the lock as soon as the holder publishes
    got: dict[str, object] = {}

    def wait_for_lock() -> None:
        got["staged"] = marts_publish.stage(
            warehouse_url, DAY, "run-c", wait_s=30, poll_s=0.2, marts=PUBLISHED
        )

    thread = threading.Thread(target=wait_for_lock)
    thread.start()
    time.sleep(1)
    assert "staged" not in got
    marts_publish.publish(warehouse_url, other_day, "run-b", [], marts=PUBLISHED)
    thread.join(timeout=30)
    assert "staged" in got
    marts_publish.withhold(warehouse_url, DAY, "run-c", "test", marts=PUBLISHED)


def test_a_silent_holder_is_taken_over_after_the_stale_limit(
    published: psycopg.Connection, warehouse_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    marts_publish.stage(warehouse_url, DAY, "run-dead", marts=PUBLISHED)
    monkeypatch.setenv("MISSIONPULSE_MARTS_LOCK_STALE_S", "0")
    staged = marts_publish.stage(warehouse_url, DAY, "run-next", wait_s=0, marts=PUBLISHED)
    assert staged.schema == marts_publish.shadow_schema(DAY, PUBLISHED)
    # the dead run's publication is closed, not left "staged" for ever
    status, reason = published.execute(
        "select status, reason from audit.mart_publications where dag_run_id = 'run-dead'"
        " order by staged_at desc limit 1"
    ).fetchone()
    assert status == "withheld"
    assert reason.startswith("abandoned: not heard of for") and "run-next" in reason
    marts_publish.withhold(warehouse_url, DAY, "run-next", "test", marts=PUBLISHED)


# ------------------------------------------------------------------ end to end, through Airflow

E2E_DAY = datetime.now(UTC).date() - timedelta(days=3)


def backfill_day(state_dir: Path, url: str, day: date) -> subprocess.CompletedProcess[str]:
    """One day through the daily DAG, X only, as ``missionpulse backfill`` runs it (the gate
    is the same for every platform; one platform keeps this module's three runs lean)."""
    env = {
        **os.environ,
        "MISSIONPULSE_STATE_DIR": str(state_dir),
        "MISSIONPULSE_WAREHOUSE_URL": url,
    }
    iso = day.isoformat()
    return subprocess.run(
        [str(Path(sys.executable).with_name("missionpulse")), "backfill", "--from", iso]
        + ["--to", iso, "--platform", "x"],
        env=env,
        capture_output=True,
        text=True,
        timeout=2400,
    )


@pytest.fixture(scope="module")
def published_day(test_state_dir: Path, warehouse_url: str) -> date:
    done = backfill_day(test_state_dir, warehouse_url, E2E_DAY)
    assert done.returncode == 0, (done.stdout + done.stderr)[-3000:]
    return E2E_DAY


@pytest.mark.e2e
@pytest.mark.integration
def test_a_failing_mart_suite_withholds_the_day_and_the_next_good_run_publishes(
    published_day: date, test_state_dir: Path, warehouse_url: str
) -> None:
    day = published_day
    shadow = marts_publish.shadow_schema(day)
    with psycopg.connect(warehouse_url, autocommit=True) as conn:
        assert conn.execute(
            "select status from audit.mart_publications where batch_date = %s", (day,)
        ).fetchall() == [("published",)]
        # a mission without a YouTube handle: no build ever replaces this key, so dbt's
        # incremental delete+insert carries the row into the shadow, where the suite sees it
        (mission,) = conn.execute(
            "select mission_id from marts.dim_missions where not has_youtube order by 1 limit 1"
        ).fetchone()
        conn.execute(
            "insert into marts.fct_mission_daily_engagement (mission_id, platform, activity_date,"
            " handle, posts, likes, comments, shares, interactions, reposts, quotes,"
            " mission_replies, engagement_rate_per_follower)"
            " values (%s, 'youtube', %s, 'not_a_registry_handle', 1, 0, 0, 0, 9, 0, 0, 0, -7)",
            (mission, day),
        )
        before = fingerprint(conn, "marts")

    run_log = test_state_dir / "logs" / "runs" / f"{day}.log"
    run_log.unlink()
    failed = backfill_day(test_state_dir, warehouse_url, day)

    output = failed.stdout + failed.stderr
    assert failed.returncode != 0, output[-3000:]
    assert "validate_marts" in output and "publish_marts" in output, output[-3000:]
    log_text = run_log.read_text(errors="replace")
    for named in (
        f"Mart data quality failed for {day}: the day's marts are NOT published",
        f"stays in schema {shadow}",
        f"marts__fct_mission_daily_engagement on {shadow}/fct_mission_daily_engagement {day}",
        "[blocking] handle_known",
        "not_a_registry_handle",
        "[blocking] engagement_rate_per_follower_at_least_0",
        f"marts for {day} not published",
    ):
        assert named in log_text, f"{named!r} not in the run's log {run_log}"
    with psycopg.connect(warehouse_url, autocommit=True) as conn:
        assert fingerprint(conn, "marts") == before, "marts must keep its published state"
        assert schema_exists(conn, shadow), "the withheld build stays for inspection"
        assert conn.execute(
            "select dq.success, dq.validated_schema from audit.dq_runs dq"
            " where dq.suite_name = 'marts__fct_mission_daily_engagement' and batch_date = %s"
            " order by finished_at desc limit 1",
            (day,),
        ).fetchone() == (False, shadow)
        assert conn.execute(
            "select status from audit.mart_publications where batch_date = %s"
            " order by staged_at desc limit 1",
            (day,),
        ).fetchone() == ("withheld",)
        assert conn.execute("select count(*) from audit.marts_publish_lock").fetchone() == (0,)
        # the data team removes the bad row; the next run publishes
        conn.execute(
            "delete from marts.fct_mission_daily_engagement where handle = 'not_a_registry_handle'"
        )

    done = backfill_day(test_state_dir, warehouse_url, day)
    assert done.returncode == 0, (done.stdout + done.stderr)[-3000:]

    with psycopg.connect(warehouse_url, autocommit=True) as conn:
        after = fingerprint(conn, "marts")
        assert after["schema oid"] != before["schema oid"], "a new marts was swapped in"
        assert not schema_exists(conn, shadow)
        (status, dq_run_ids) = conn.execute(
            "select status, dq_run_ids from audit.mart_publications"
            " where batch_date = %s order by staged_at desc limit 1",
            (day,),
        ).fetchone()
        assert status == "published" and dq_run_ids
        # the suites that let it through read the shadow that became marts
        assert conn.execute(
            "select count(*), bool_and(success), min(validated_schema), max(validated_schema)"
            " from audit.dq_runs where dq_run_id = any(%s)",
            (dq_run_ids,),
        ).fetchone() == (len(dq_run_ids), True, shadow, shadow)
        rows = conn.execute(
            "select count(*) from marts.fct_mission_daily_engagement where activity_date = %s",
            (day,),
        ).fetchone()
    with psycopg.connect(db.ensure_bi_reader(warehouse_url)) as reader:
        assert (
            reader.execute(
                "select count(*) from marts.fct_mission_daily_engagement where activity_date = %s",
                (day,),
            ).fetchone()
            == rows
            != (0,)
        )
        assert reader.execute("select count(*) from marts.snp_handle_profiles").fetchone() != (0,)
