"""Bad data end to end through Airflow: after a clean run of a day, the same day with the
``bad-data`` simulator profile is quarantined on every platform, each injected kind is named
in the output and in audit.dq_results, and the day's marts stay exactly as they were.

The clean run also shows the audit trail is complete: DQ runs and results, dbt invocations
with their passing tests, extraction runs, Data Docs, and a trace whose checksums verify.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import psycopg
import pytest

from missionpulse.simulator.bad_data import CATALOGUE

pytestmark = [pytest.mark.e2e, pytest.mark.integration]

DAY = datetime.now(UTC).date() - timedelta(days=6)


def cli(state_dir: Path, url: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(Path(sys.executable).with_name("missionpulse")), *args],
        env={
            **os.environ,
            "MISSIONPULSE_STATE_DIR": str(state_dir),
            "MISSIONPULSE_WAREHOUSE_URL": url,
        },
        capture_output=True,
        text=True,
        timeout=1500,
    )


def marts_fingerprint(url: str) -> dict[str, str]:
    """A digest of every row of every table in ``marts``."""
    with psycopg.connect(url) as conn:
        tables = [
            name
            for (name,) in conn.execute(
                "select tablename from pg_tables where schemaname = 'marts' order by 1"
            ).fetchall()
        ]
        return {
            table: hashlib.sha256(
                "\n".join(
                    sorted(
                        str(row)
                        for row in conn.execute(f'select t::text from marts."{table}" t').fetchall()
                    )
                ).encode()
            ).hexdigest()
            for table in tables
        }


def audit_counts(url: str, day: date) -> dict[str, int]:
    queries = {
        "dq_runs": "select count(*) from audit.dq_runs where batch_date = %(d)s",
        "dq_results": "select count(*) from audit.dq_results r join audit.dq_runs d "
        "using (dq_run_id) where d.batch_date = %(d)s",
        "dbt_tests_passed": "select count(*) from audit.dbt_test_results t "
        "join audit.dbt_runs r using (invocation_id) "
        "where r.run_vars ->> 'start_date' = %(d)s::text and t.status = 'pass'",
        "extract_runs": "select count(*) from audit.extract_runs "
        "where interval_start = %(d)s::date",
    }
    with psycopg.connect(url) as conn:
        return {k: conn.execute(q, {"d": day}).fetchone()[0] for k, q in queries.items()}


def test_bad_data_is_quarantined_and_the_marts_stay(
    test_state_dir: Path, warehouse_url: str
) -> None:
    clean = cli(test_state_dir, warehouse_url, "run", "--date", DAY.isoformat())
    assert clean.returncode == 0, clean.stdout + clean.stderr
    counts = audit_counts(warehouse_url, DAY)
    assert all(counts.values()), counts
    assert (test_state_dir / "data_docs" / "index.html").is_file()
    with psycopg.connect(warehouse_url) as conn:
        (mission,) = conn.execute(
            "select mission_id from marts.fct_mission_daily_engagement "
            "where activity_date = %s and platform = 'x' and posts > 0 order by 1 limit 1",
            (DAY,),
        ).fetchone()
    before = marts_fingerprint(warehouse_url)

    bad = cli(
        test_state_dir, warehouse_url, "run", "--date", DAY.isoformat(), "--faults", "bad-data"
    )

    output = bad.stdout + bad.stderr
    assert bad.returncode == 1, output
    assert "quarantined" in output
    with psycopg.connect(warehouse_url) as conn:
        failed = {
            (suite, name)
            for suite, name in conn.execute(
                "select d.suite_name, r.expectation_name from audit.dq_results r "
                "join audit.dq_runs d using (dq_run_id) where d.batch_date = %s and not r.success",
                (DAY,),
            ).fetchall()
        }
    for anomaly in CATALOGUE:
        assert (anomaly.suite, anomaly.expectation) in failed, anomaly
        assert anomaly.kind in output, anomaly  # the run's output names each kind
    assert marts_fingerprint(warehouse_url) == before

    trace = cli(
        test_state_dir,
        warehouse_url,
        "audit",
        "trace",
        "--mission",
        mission,
        "--platform",
        "x",
        "--date",
        DAY.isoformat(),
    )
    assert trace.returncode == 0, trace.stdout + trace.stderr
    assert "sha256 verified" in trace.stdout and "MISMATCH" not in trace.stdout
    assert "dbt" in trace.stdout and "raw__x__posts" in trace.stdout

    report = test_state_dir / "audit.html"
    done = cli(
        test_state_dir,
        warehouse_url,
        "audit",
        "report",
        "--from",
        DAY.isoformat(),
        "--to",
        DAY.isoformat(),
        "--out",
        str(report),
    )
    assert done.returncode == 0, done.stdout + done.stderr
    html = report.read_text()
    assert "raw__x__posts" in html and "quarantine" in html.lower()
