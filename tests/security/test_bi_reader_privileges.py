"""bi_reader, the role the BI tool logs in as, beyond tests/bi/test_bi_reader.py.

That module checks reads and writes inside the role's default read-only sessions and the
table/schema privilege catalogue. bi_reader can turn its own read-only default off
(``SET default_transaction_read_only = off``, ``BEGIN READ WRITE``, even
``ALTER ROLE bi_reader SET ...``), so here every write is attempted in a read-write
transaction, where only privileges stand in the way; and the indirect ways to read or
write are checked: role memberships, views and security-definer functions that would
read other schemas with their owner's rights, large objects, sequences, functions and
schemas of its own, COPY to the server's files.

TEMP is allowed on purpose (PostgreSQL grants it to PUBLIC; BI tools and SQL clients
create temporary tables): a temporary table lives in the session's own pg_temp schema,
no other session sees it, and it is dropped when the session ends, so it can neither
change nor expose anything of the warehouse. The test below holds it to exactly that.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import psycopg
import pytest
from psycopg import errors, sql

from missionpulse import db

pytestmark = pytest.mark.integration

OWN_SCHEMAS = ("marts", "public", "raw", "ml", "audit", "staging")
HIDDEN_SCHEMAS = ("raw", "ml", "audit", "staging")
PROBE = "security_probe"


@pytest.fixture(scope="module")
def bi_url(warehouse_url: str) -> Iterator[str]:
    """bi_reader, with a table, a view and a sequence of the pipeline's owner in each schema."""
    with psycopg.connect(warehouse_url, autocommit=True) as conn:
        for schema in OWN_SCHEMAS:
            ident = sql.Identifier(schema)
            conn.execute(sql.SQL("create schema if not exists {}").format(ident))
            conn.execute(
                sql.SQL("create table if not exists {}.{} (id int, secret text)").format(
                    ident, sql.Identifier(PROBE)
                )
            )
            conn.execute(
                sql.SQL("insert into {}.{} values (1, 'hidden')").format(
                    ident, sql.Identifier(PROBE)
                )
            )
            conn.execute(
                sql.SQL("create sequence if not exists {}.{}").format(
                    ident, sql.Identifier(PROBE + "_seq")
                )
            )
    url = db.ensure_bi_reader(warehouse_url)
    yield url
    with psycopg.connect(warehouse_url, autocommit=True) as conn:
        for schema in OWN_SCHEMAS:
            ident = sql.Identifier(schema)
            conn.execute(sql.SQL("drop table if exists {}.{}").format(ident, sql.Identifier(PROBE)))
            conn.execute(
                sql.SQL("drop sequence if exists {}.{}").format(
                    ident, sql.Identifier(PROBE + "_seq")
                )
            )
        # whatever bi_reader managed to leave behind would show in the tests; undo its
        # own settings, as every run's ensure_bi_reader does
        db.ensure_bi_reader(warehouse_url)


@pytest.fixture
def writer(bi_url: str) -> Iterator[psycopg.Connection]:
    """bi_reader with its read-only default switched off, as any client of it can do."""
    with psycopg.connect(bi_url, autocommit=True) as conn:
        conn.execute("set default_transaction_read_only = off")
        assert conn.execute("show transaction_read_only").fetchone() == ("off",)
        yield conn


WRITES = [
    *(f"insert into {s}.{PROBE} values (2, 'x')" for s in OWN_SCHEMAS),
    *(f"update {s}.{PROBE} set secret = 'x'" for s in OWN_SCHEMAS),
    *(f"delete from {s}.{PROBE}" for s in OWN_SCHEMAS),
    *(f"truncate {s}.{PROBE}" for s in OWN_SCHEMAS),
    *(f"create table {s}.bi_reader_table (id int)" for s in OWN_SCHEMAS),
    *(f"create view {s}.bi_reader_view as select 1 as id" for s in OWN_SCHEMAS),
    *(
        f"create function {s}.bi_reader_fn() returns int language sql as 'select 1'"
        for s in OWN_SCHEMAS
    ),
    *(f"create sequence {s}.bi_reader_seq" for s in OWN_SCHEMAS),
    *(f"alter table {s}.{PROBE} add column x int" for s in OWN_SCHEMAS),
    *(f"drop table {s}.{PROBE}" for s in OWN_SCHEMAS),
    *(f"select nextval('{s}.{PROBE}_seq')" for s in OWN_SCHEMAS),
    *(f"select setval('{s}.{PROBE}_seq', 42)" for s in OWN_SCHEMAS),
    "create schema bi_reader_schema",
    "create schema authorization bi_reader",
    "create extension if not exists pg_trgm",
    f"copy marts.{PROBE} to '/tmp/bi_reader_copy.csv'",
    "copy (select 1) to program 'true'",
    "select pg_read_file('postgresql.conf')",
    "select lo_import('/etc/passwd')",
]


@pytest.mark.parametrize("statement", WRITES)
def test_refused_even_in_a_read_write_transaction(
    writer: psycopg.Connection, statement: str
) -> None:
    with pytest.raises(
        (errors.InsufficientPrivilege, errors.UndefinedObject, errors.InvalidParameterValue)
    ):
        writer.execute(statement)


def test_cannot_take_the_owners_role(writer: psycopg.Connection, warehouse_url: str) -> None:
    with psycopg.connect(warehouse_url) as conn:
        (owner,) = conn.execute("select current_user").fetchone()  # type: ignore[misc]
    with pytest.raises(errors.InsufficientPrivilege):
        writer.execute(sql.SQL("set role {}").format(sql.Identifier(owner)))
    with pytest.raises(errors.InsufficientPrivilege):
        writer.execute(sql.SQL("set session authorization {}").format(sql.Identifier(owner)))


@pytest.mark.parametrize("schema", OWN_SCHEMAS)
def test_grants_by_bi_reader_change_nothing(
    writer: psycopg.Connection, warehouse_url: str, schema: str
) -> None:
    """PostgreSQL answers a grant without grant option with a warning, not an error: what
    counts is that no privilege appears."""
    table = sql.Identifier(schema, PROBE)
    with psycopg.connect(warehouse_url) as conn:
        before = conn.execute(
            "select relacl from pg_class where oid = %s::regclass", (f"{schema}.{PROBE}",)
        ).fetchone()
    with contextlib.suppress(errors.InsufficientPrivilege):  # refused outright: fine too
        writer.execute(sql.SQL("grant all on {} to public").format(table))
    with psycopg.connect(warehouse_url) as conn:
        after = conn.execute(
            "select relacl from pg_class where oid = %s::regclass", (f"{schema}.{PROBE}",)
        ).fetchone()
    assert after == before


def test_large_objects_cannot_be_created(writer: psycopg.Connection) -> None:
    """A large object is a row in pg_largeobject, i.e. a write to the database."""
    with pytest.raises(errors.InsufficientPrivilege):
        writer.execute("select lo_from_bytea(0, 'written by bi_reader')")


@pytest.mark.parametrize("schema", HIDDEN_SCHEMAS)
def test_reads_refused_in_a_read_write_session_too(writer: psycopg.Connection, schema: str) -> None:
    for statement in (
        f"select * from {schema}.{PROBE}",
        f"select id from {schema}.{PROBE}",
        f"select last_value from {schema}.{PROBE}_seq",
        f"copy {schema}.{PROBE} to stdout",
    ):
        with pytest.raises(errors.InsufficientPrivilege):
            writer.execute(statement)


def test_no_privilege_on_any_object_outside_marts(warehouse_url: str, bi_url: str) -> None:
    """Every relation, sequence and column of raw, ml, audit and staging, whatever the
    pipeline has created so far in this session's warehouse."""
    with psycopg.connect(warehouse_url) as conn:
        rows = conn.execute(
            """
            select n.nspname, c.relname, c.relkind,
                   has_table_privilege('bi_reader', c.oid, 'SELECT'),
                   has_any_column_privilege('bi_reader', c.oid, 'SELECT'),
                   c.relkind = 'S' and has_sequence_privilege('bi_reader', c.oid, 'USAGE')
            from pg_class c join pg_namespace n on n.oid = c.relnamespace
            where n.nspname = any(%s) and c.relkind in ('r', 'p', 'v', 'm', 'f', 'S')
            """,
            (list(HIDDEN_SCHEMAS),),
        ).fetchall()
        schemas = conn.execute(
            "select nspname, has_schema_privilege('bi_reader', nspname, 'USAGE') "
            "from pg_namespace where nspname = any(%s)",
            (list(HIDDEN_SCHEMAS),),
        ).fetchall()
    assert len({r[0] for r in rows}) == len(HIDDEN_SCHEMAS)  # probes at least
    assert not [r[:3] for r in rows if any(r[3:])]
    assert sorted(schemas) == [(s, False) for s in sorted(HIDDEN_SCHEMAS)]


def test_role_has_no_powers_and_no_memberships(warehouse_url: str, bi_url: str) -> None:
    with psycopg.connect(warehouse_url) as conn:
        role = conn.execute(
            "select rolsuper, rolinherit, rolcreaterole, rolcreatedb, rolreplication, "
            "rolbypassrls from pg_roles where rolname = 'bi_reader'"
        ).fetchone()
        memberships = conn.execute(
            "select r.rolname from pg_auth_members m join pg_roles r on r.oid = m.roleid "
            "join pg_roles u on u.oid = m.member where u.rolname = 'bi_reader'"
        ).fetchall()
        databases = conn.execute(
            "select has_database_privilege('bi_reader', current_database(), 'CREATE')"
        ).fetchone()
    assert role is not None and not any(role[i] for i in (0, 2, 3, 4, 5)), role
    assert memberships == []  # not pg_read_all_data, pg_read_server_files, ...
    assert databases == (False,)  # no schemas of its own


def test_marts_expose_nothing_of_other_schemas_through_owners_rights(
    warehouse_url: str, bi_url: str
) -> None:
    """A view runs with its owner's rights, and so does a SECURITY DEFINER function: a
    marts view over raw, or such a function bi_reader may call, would read raw for it."""
    with psycopg.connect(warehouse_url) as conn:
        views_over_hidden = conn.execute(
            """
            select distinct v.relname, dep_ns.nspname || '.' || dep.relname
            from pg_class v
            join pg_namespace vn on vn.oid = v.relnamespace
            join pg_rewrite r on r.ev_class = v.oid
            join pg_depend d on d.objid = r.oid and d.classid = 'pg_rewrite'::regclass
            join pg_class dep on dep.oid = d.refobjid
            join pg_namespace dep_ns on dep_ns.oid = dep.relnamespace
            where vn.nspname = 'marts' and v.relkind in ('v', 'm')
              and dep_ns.nspname <> all(%s)
            """,
            (["marts", "pg_catalog", "information_schema"],),
        ).fetchall()
        definer_functions = conn.execute(
            """
            select n.nspname || '.' || p.proname from pg_proc p
            join pg_namespace n on n.oid = p.pronamespace
            where p.prosecdef and n.nspname not in ('pg_catalog', 'information_schema')
              and has_function_privilege('bi_reader', p.oid, 'EXECUTE')
            """
        ).fetchall()
    assert views_over_hidden == []
    assert definer_functions == []


def test_temporary_tables_stay_private_to_the_session(bi_url: str, warehouse_url: str) -> None:
    with psycopg.connect(bi_url, autocommit=True) as conn:
        conn.execute("set default_transaction_read_only = off")
        conn.execute("create temp table bi_scratch as select 1 as id")
        (schema,) = conn.execute(
            "select n.nspname from pg_class c join pg_namespace n on n.oid = c.relnamespace "
            "where c.relname = 'bi_scratch'"
        ).fetchone()  # type: ignore[misc]
        assert schema.startswith("pg_temp_")
        with psycopg.connect(warehouse_url) as owner:  # another session: nothing visible
            assert owner.execute("select to_regclass('bi_scratch')").fetchone() == (None,)
    with psycopg.connect(bi_url) as conn:
        assert conn.execute("select to_regclass('bi_scratch')").fetchone() == (None,)


def test_intermediate_tables_in_marts_stay_hidden(warehouse_url: str, bi_url: str) -> None:
    """dbt keeps incremental state (``int_*``) in marts, published with it; BI sees only
    the marts, also after the next publication grants the schema again."""
    with psycopg.connect(warehouse_url, autocommit=True) as conn:
        conn.execute("create table if not exists marts.int_security_probe (id int)")
        owner = conn.execute("select current_user").fetchone()[0]  # type: ignore[index]
        db.grant_bi_reader(conn, "marts", owner)  # what a publication does
    try:
        with psycopg.connect(bi_url) as bi:
            assert bi.execute(f"select count(*) from marts.{PROBE}").fetchone() == (1,)
            with pytest.raises(errors.InsufficientPrivilege):
                bi.execute("select * from marts.int_security_probe")
    finally:
        with psycopg.connect(warehouse_url, autocommit=True) as conn:
            conn.execute("drop table marts.int_security_probe")
