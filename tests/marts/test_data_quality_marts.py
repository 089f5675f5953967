"""The auditors' marts: the data-quality trail and dbt test results, readable by bi_reader.

Inserts a small audit trail (in August 2024, far from the other tests' days) and builds
the two marts: a batch revalidated after a failure counts both runs and is published; a
batch whose latest run failed is quarantined; freshness is measured from the end of the
interval to the raw load.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime

import psycopg
import pytest

from tests.warehouse_support import forget_days

pytestmark = pytest.mark.integration

DAY = date(2024, 8, 5)
END = datetime(2024, 8, 6, tzinfo=UTC)


def dq_run(conn: psycopg.Connection, run_id: str, platform: str | None, suite: str,
           success: bool, finished: datetime) -> None:  # fmt: skip
    conn.execute(
        """
        insert into audit.dq_runs (dq_run_id, suite_name, platform, entity, batch_date,
            success, blocking_failures, warning_failures, expectations, rows_checked,
            started_at, finished_at, summary)
        values (%s, %s, %s, %s, %s, %s, %s, 0, 10, 100, %s, %s, %s)
        """,
        (run_id, suite, platform, "posts" if platform else None, DAY, success,
         0 if success else 2, finished, finished, f"{suite} on {DAY}"),
    )  # fmt: skip


def test_data_quality_marts_count_runs_quarantines_and_freshness(
    dbt, conn: psycopg.Connection
) -> None:
    with conn.transaction():
        conn.execute("delete from audit.dq_runs where batch_date = %s", (DAY,))
        conn.execute("delete from audit.raw_loads where load_id like 'dqmart-%%'")
        # x: failed, then passed on rerun; facebook: passed, then failed (quarantined)
        dq_run(conn, "dqmart-1", "x", "raw__x__posts", False, END.replace(hour=1))
        dq_run(conn, "dqmart-2", "x", "raw__x__posts", True, END.replace(hour=3))
        dq_run(conn, "dqmart-3", "facebook", "raw__facebook__posts", True, END.replace(hour=1))
        dq_run(conn, "dqmart-4", "facebook", "raw__facebook__posts", False, END.replace(hour=4))
        dq_run(conn, "dqmart-5", None, "marts__dim_missions", True, END.replace(hour=5))
        conn.execute(
            """
            insert into audit.raw_loads (load_id, platform, entity, interval_start,
                interval_end, landing_file, sha256, rows, loaded_at)
            values ('dqmart-load', 'x', 'posts', %s, %s, 'f.jsonl.gz', 'ab', 5, %s)
            """,
            (datetime(2024, 8, 5, tzinfo=UTC), END, END.replace(hour=2, minute=30)),
        )
    dbt("build", "--select", "mart_data_quality_daily", "mart_dbt_tests_daily")

    rows = {
        row[0]: row[1:]
        for row in conn.execute(
            """
            select platform, runs, passed_runs, pass_rate, is_latest_run_passed,
                   is_quarantined, freshness_hours
            from marts.mart_data_quality_daily where batch_date = %s
            """,
            (DAY,),
        )
    }
    assert rows["x"][:5] == (2, 1, 0.5, True, False)
    assert float(rows["x"][5]) == 2.5
    assert rows["facebook"][:5] == (2, 1, 0.5, False, True)
    assert rows["facebook"][5] is None
    assert rows["marts"][:5] == (1, 1, 1, True, False)


@pytest.fixture(scope="module", autouse=True)
def _forget_fixture_days(warehouse_url: str) -> Iterator[None]:
    yield
    forget_days(warehouse_url, [DAY])
