"""The read-only role the BI tool connects as: reads marts, nothing else, writes nowhere."""

from __future__ import annotations

import stat
from collections.abc import Iterator

import psycopg
import pytest
from psycopg import errors, sql

from missionpulse import db

pytestmark = pytest.mark.integration

REFUSED = (errors.InsufficientPrivilege, errors.ReadOnlySqlTransaction)


@pytest.fixture(scope="module")
def bi_url(warehouse_url: str) -> str:
    with psycopg.connect(warehouse_url, autocommit=True) as conn:
        conn.execute("create table if not exists marts.bi_probe_before (id int, label text)")
        conn.execute("insert into marts.bi_probe_before values (1, 'before')")
        for schema in ("raw", "ml", "audit", "staging"):
            conn.execute(sql.SQL("create schema if not exists {}").format(sql.Identifier(schema)))
            conn.execute(
                sql.SQL("create table if not exists {}.bi_probe (id int)").format(
                    sql.Identifier(schema)
                )
            )
    url = db.ensure_bi_reader(warehouse_url)
    # a table dbt creates (or recreates) after the grants: default privileges cover it
    with psycopg.connect(warehouse_url, autocommit=True) as conn:
        conn.execute("drop table if exists marts.bi_probe_after")
        conn.execute("create table marts.bi_probe_after as select 2 as id, 'after'::text as label")
    return url


@pytest.fixture
def reader(bi_url: str) -> Iterator[psycopg.Connection]:
    with psycopg.connect(bi_url, autocommit=True) as conn:
        yield conn


def test_url_logs_in_as_bi_reader(reader: psycopg.Connection) -> None:
    assert reader.execute("select current_user").fetchone() == ("bi_reader",)


def test_password_kept_private_and_stable(warehouse_url: str, bi_url: str) -> None:
    path = db.bi_reader_credentials_file()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert db.ensure_bi_reader(warehouse_url) == bi_url  # idempotent: same role, same URL


def test_reads_marts_including_tables_created_later(reader: psycopg.Connection) -> None:
    assert reader.execute("select label from marts.bi_probe_before").fetchall() == [("before",)]
    assert reader.execute("select label from marts.bi_probe_after").fetchall() == [("after",)]


@pytest.mark.parametrize("schema", ["raw", "ml", "audit", "staging"])
def test_refused_outside_marts(reader: psycopg.Connection, schema: str) -> None:
    with pytest.raises(errors.InsufficientPrivilege):
        reader.execute(sql.SQL("select * from {}.bi_probe").format(sql.Identifier(schema)))


@pytest.mark.parametrize(
    "statement",
    [
        "insert into marts.bi_probe_before values (9, 'x')",
        "update marts.bi_probe_before set label = 'x'",
        "delete from marts.bi_probe_before",
        "create table marts.bi_probe_new (id int)",
        "create table public.bi_probe_new (id int)",
        "create view public.bi_probe_view as select 1 as id",
        "drop table marts.bi_probe_before",
    ],
)
def test_refused_writes(reader: psycopg.Connection, statement: str) -> None:
    with pytest.raises(REFUSED):
        reader.execute(statement)


def test_no_write_privileges_even_outside_read_only_sessions(warehouse_url: str) -> None:
    with psycopg.connect(warehouse_url) as conn:
        rows = conn.execute(
            """
            select n.nspname, c.relname,
                   has_table_privilege('bi_reader', c.oid, 'INSERT,UPDATE,DELETE,TRUNCATE')
            from pg_class c join pg_namespace n on n.oid = c.relnamespace
            where n.nspname in ('marts', 'public', 'raw', 'ml', 'audit', 'staging')
              and c.relkind in ('r', 'v', 'm', 'p')
            """
        ).fetchall()
        assert rows and not [row for row in rows if row[2]]
        for schema in ("marts", "public", "raw", "ml", "audit", "staging"):
            assert conn.execute(
                "select has_schema_privilege('bi_reader', %s, 'CREATE')", (schema,)
            ).fetchone() == (False,)
