"""Keeping the session warehouse clean between test modules.

Every module shares one warehouse (tests/conftest.py). A module that writes hand-made raw
batches for its own days must remove them when it is done: dbt's staging tests (unique ids
across all validated partitions) run in the end-to-end modules later in the session, and a
fixture id such as "1" on two days would fail them.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

import psycopg
from psycopg import sql


def forget_days(url: str, days: Iterable[date]) -> None:
    """Delete every raw partition, load record and data-quality run of ``days``."""
    wanted = sorted(set(days))
    with psycopg.connect(url) as conn, conn.transaction():
        tables = conn.execute(
            """
            select c.relname from pg_class c join pg_namespace n on n.oid = c.relnamespace
            join pg_attribute a on a.attrelid = c.oid and a.attname = '_interval_start'
            where n.nspname = 'raw' and c.relkind in ('r', 'p')
            """
        ).fetchall()
        for (table,) in tables:
            conn.execute(
                sql.SQL(
                    "delete from {} where (_interval_start at time zone 'utc')::date = any(%s)"
                ).format(sql.Identifier("raw", table)),
                (wanted,),
            )
        conn.execute(
            "delete from audit.raw_loads where (interval_start at time zone 'utc')::date = any(%s)",
            (wanted,),
        )
        conn.execute(
            "delete from audit.dq_results where dq_run_id in "
            "(select dq_run_id from audit.dq_runs where batch_date = any(%s))",
            (wanted,),
        )
        conn.execute("delete from audit.dq_runs where batch_date = any(%s)", (wanted,))
