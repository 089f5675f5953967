"""Connections to the warehouse and the schemas the pipeline owns outside dbt.

dbt owns ``marts`` (and its staging views); the pipeline owns ``raw`` (landing loads),
``ml`` (model scores) and ``audit`` (loads, data-quality runs). Their DDL lives here and is
applied idempotently at the start of every run.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

import psycopg
from psycopg import sql

from missionpulse import settings

log = logging.getLogger(__name__)

SCHEMAS = ("raw", "ml", "audit", "marts")

DDL = """
create schema if not exists raw;
create schema if not exists ml;
create schema if not exists audit;
create schema if not exists marts;

create table if not exists audit.raw_loads (
    load_id        text primary key,
    platform       text not null,
    entity         text not null,
    interval_start timestamptz not null,
    interval_end   timestamptz not null,
    landing_file   text not null,
    sha256         text not null,
    rows           integer not null,
    request_stats  jsonb not null default '{}'::jsonb,
    loaded_at      timestamptz not null default now(),
    superseded_by  text
);
comment on table audit.raw_loads is
  'One row per landing file loaded into raw; superseded_by names the load that replaced it.';
create index if not exists raw_loads_partition_idx
    on audit.raw_loads (platform, entity, interval_start);

create table if not exists audit.dq_runs (
    dq_run_id           text primary key,
    dag_run_id          text,
    suite_name          text not null,
    platform            text,
    entity              text,
    batch_date          date not null,
    load_ids            text[] not null default '{}',
    success             boolean not null,
    blocking_failures   integer not null,
    warning_failures    integer not null,
    expectations        integer not null,
    rows_checked        integer not null,
    started_at          timestamptz not null,
    finished_at         timestamptz not null,
    summary             text not null
);
comment on table audit.dq_runs is
  'One row per Great Expectations validation of a batch (platform, entity, day).';
create index if not exists dq_runs_batch_idx on audit.dq_runs (batch_date, platform, entity);

create table if not exists audit.dq_results (
    dq_run_id          text not null references audit.dq_runs (dq_run_id),
    expectation_type   text not null,
    expectation_name   text not null,
    column_name        text,
    severity           text not null check (severity in ('blocking', 'warning')),
    success            boolean not null,
    observed_value     jsonb,
    unexpected_count   integer,
    unexpected_examples jsonb,
    primary key (dq_run_id, expectation_name)
);
comment on table audit.dq_results is 'One row per expectation result of a validation.';

create table if not exists audit.extract_runs (
    extract_run_id  text not null,
    platform        text not null,
    handle          text not null,
    interval_start  timestamptz not null,
    interval_end    timestamptz not null,
    status          text not null check (status in ('ok', 'failed')),
    stage           text,
    error           text,
    requests        integer not null,
    retries         integer not null,
    rows            jsonb not null default '{}'::jsonb,
    load_ids        jsonb not null default '{}'::jsonb,
    recorded_at     timestamptz not null default now(),
    primary key (extract_run_id, handle)
);
comment on table audit.extract_runs is
  'One row per handle per extraction run: status, error, requests and retries spent, rows '
  'landed per entity and the landing loads they went to (audit.raw_loads.load_id).';
create index if not exists extract_runs_window_idx
    on audit.extract_runs (platform, interval_start);

-- every dbt invocation Cosmos makes (one per node), passes included, kept across runs
create table if not exists audit.dbt_runs (
    invocation_id   text primary key,
    dag_run_id      text,
    task_id         text,
    command         text not null,
    selected        text,
    dbt_version     text,
    success         boolean not null,
    started_at      timestamptz,
    finished_at     timestamptz,
    elapsed_s       real,
    run_vars        jsonb not null default '{}'::jsonb,
    recorded_at     timestamptz not null default now()
);
comment on table audit.dbt_runs is
  'One row per dbt invocation (run_results.json metadata), successful or not.';
create table if not exists audit.dbt_model_results (
    invocation_id   text not null references audit.dbt_runs (invocation_id),
    unique_id       text not null,
    resource_type   text not null,
    relation_name   text,
    status          text not null,
    rows_affected   integer,
    message         text,
    execution_s     real,
    primary key (invocation_id, unique_id)
);
comment on table audit.dbt_model_results is
  'One row per model, snapshot or seed a dbt invocation built, with its status.';
create table if not exists audit.dbt_test_results (
    invocation_id   text not null references audit.dbt_runs (invocation_id),
    unique_id       text not null,
    test_name       text not null,
    attached_node   text,
    column_name     text,
    severity        text,
    status          text not null,
    failures        integer,
    message         text,
    execution_s     real,
    primary key (invocation_id, unique_id)
);
comment on table audit.dbt_test_results is
  'One row per dbt test result (pass, warn, fail, error, skipped) of every invocation.';
create index if not exists dbt_test_results_node_idx on audit.dbt_test_results (attached_node);

create table if not exists ml.comment_sentiment (
    platform       text not null,
    comment_id     text not null,
    model_version  text not null,
    label          text not null check (label in ('negative', 'neutral', 'positive')),
    score          real not null check (score between 0 and 1),
    scored_at      timestamptz not null default now(),
    primary key (platform, comment_id, model_version)
);
comment on table ml.comment_sentiment is
  'Sentiment of each audience comment, one row per (comment, model version).';
-- the comment's detected language (ISO 639-1, or 'und' when undetermined), and whether the
-- model was trained on that language (scores of other languages are flagged, not dropped)
alter table ml.comment_sentiment add column if not exists language text;
alter table ml.comment_sentiment add column if not exists language_supported boolean;

-- the outcome of each platform's day (extract_<platform> DAG: load + raw suites), which
-- transform_warehouse reads to decide what it publishes; a rerun of the day overwrites it
create table if not exists audit.raw_days (
    platform        text not null,
    interval_start  timestamptz not null,
    status          text not null check (status in ('passed', 'failed')),
    reason          text,
    dag_run_id      text,
    recorded_at     timestamptz not null default now(),
    primary key (platform, interval_start)
);
comment on table audit.raw_days is
  'Whether a platform''s raw data for a day passed extraction and its raw suites (latest run).';
"""


# The marts publication gate (missionpulse/marts_publish.py): its lock, its record, and
# the schema each data-quality run read.
PUBLICATION_DDL = """
create table if not exists audit.marts_publish_lock (
    lock_name      text primary key,
    dag_run_id     text not null,
    batch_date     date not null,
    shadow_schema  text not null,
    acquired_at    timestamptz not null default now(),
    heartbeat_at   timestamptz not null default now()
);
comment on table audit.marts_publish_lock is
  'The run that is building the marts in its shadow schema (one at a time, copy to swap).';
-- a run driven in one process (missionpulse run/backfill: dag.test) names that process,
-- so a run that finds the lock held can tell that its holder died with it
alter table audit.marts_publish_lock add column if not exists holder_host text;
alter table audit.marts_publish_lock add column if not exists holder_pid integer;
alter table audit.marts_publish_lock add column if not exists holder_started double precision;
create table if not exists audit.mart_publications (
    publication_id  text primary key,
    dag_run_id      text,
    batch_date      date not null,
    shadow_schema   text not null,
    status          text not null check (status in ('staged', 'published', 'withheld')),
    reason          text,
    dq_run_ids      text[] not null default '{}',
    tables          jsonb not null default '{}'::jsonb,
    staged_at       timestamptz not null default now(),
    copy_s          real,
    finished_at     timestamptz
);
comment on table audit.mart_publications is
  'One row per run that staged the marts in a shadow schema: published (swapped into marts '
  'after its suites passed) or withheld (marts kept the previous state; the shadow stays).';
alter table audit.dq_runs add column if not exists validated_schema text;
comment on column audit.dq_runs.validated_schema is
  'The schema the suite read: raw, or the shadow schema a mart suite validated before publication.';
"""


def connect(url: str, *, autocommit: bool = False) -> psycopg.Connection[Any]:
    return psycopg.connect(url, autocommit=autocommit, application_name="missionpulse")


def ensure_schemas(url: str) -> None:
    """Create the pipeline-owned schemas and tables if they are missing (idempotent)."""
    with connect(url) as conn:
        conn.execute("select pg_advisory_xact_lock(hashtext('missionpulse-ddl'))")
        conn.execute(DDL)
        conn.execute(PUBLICATION_DDL)


# ----------------------------------------------------------------------------- bi_reader

BI_READER = "bi_reader"
BI_SCHEMAS = ("marts",)


def bi_reader_credentials_file() -> Path:
    """Where the bi_reader password is kept (mode 0600), beside the warehouse's credentials."""
    return settings.state_dir() / "warehouse" / "bi_reader.json"


def _bi_reader_password() -> str:
    """``MISSIONPULSE_BI_READER_PASSWORD`` (a deployment where several hosts share the role),
    else the stored password, generated (and written, 0600) on first use."""
    from_env = os.environ.get("MISSIONPULSE_BI_READER_PASSWORD")
    if from_env:
        return from_env
    path = bi_reader_credentials_file()
    if path.exists():
        stored = json.loads(path.read_text())
        if isinstance(stored, dict) and isinstance(stored.get("password"), str):
            return str(stored["password"])
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    password = secrets.token_urlsafe(24)
    tmp = path.with_suffix(".tmp")
    tmp.unlink(missing_ok=True)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump({"user": BI_READER, "password": password}, handle)
    tmp.replace(path)
    return password


# Any role may call these by default; a client of bi_reader can switch its session's
# read-only default off, and a large object is a write (a row in pg_largeobject).
LARGE_OBJECT_WRITERS = (
    "lo_creat(integer)",
    "lo_create(oid)",
    "lo_from_bytea(oid, bytea)",
    "lo_import(text)",
    "lo_import(text, oid)",
    "lo_put(oid, bigint, bytea)",
    "lowrite(integer, bytea)",
    "lo_truncate(integer, integer)",
    "lo_truncate64(integer, bigint)",
    "lo_unlink(oid)",
)


def _revoke_large_objects(conn: psycopg.Connection[Any]) -> None:
    """Revoke EXECUTE on the large-object writers from PUBLIC (the pipeline uses none).

    Only the functions' owner (a superuser) may; on a managed PostgreSQL whose admin is not
    one, say what the provider's admin must run instead of failing the run."""
    try:
        with conn.transaction():
            conn.execute(
                "revoke execute on function " + ", ".join(LARGE_OBJECT_WRITERS) + " from public"
            )
    except psycopg.errors.InsufficientPrivilege:
        log.warning(
            "bi_reader: could not revoke EXECUTE on the large-object functions from PUBLIC "
            "(not a superuser); ask the database's superuser to run: REVOKE EXECUTE ON "
            "FUNCTION %s FROM PUBLIC",
            ", ".join(LARGE_OBJECT_WRITERS),
        )


def grant_bi_reader(conn: psycopg.Connection[Any], schema: str, owner: str) -> None:
    """Let bi_reader read every table and view of ``schema``, also those ``owner`` (the
    role dbt builds as) creates later, except the intermediate ones (``int_*``): dbt keeps
    the incremental state it needs in ``marts`` (it is published with the marts), but it
    is not a mart, and BI users would build on it. Called again at every publication."""
    ident, role = sql.Identifier(schema), sql.Identifier(BI_READER)
    conn.execute(sql.SQL("grant usage on schema {} to {}").format(ident, role))
    conn.execute(sql.SQL("grant select on all tables in schema {} to {}").format(ident, role))
    conn.execute(
        sql.SQL(
            "alter default privileges for role {} in schema {} grant select on tables to {}"
        ).format(sql.Identifier(owner), ident, role)
    )
    internal = conn.execute(
        "select c.relname from pg_class c join pg_namespace n on n.oid = c.relnamespace"
        " where n.nspname = %s and c.relname like 'int\\_%%' and c.relkind in ('r', 'p', 'v', 'm')",
        (schema,),
    ).fetchall()
    for (name,) in internal:
        conn.execute(
            sql.SQL("revoke select on {}.{} from {}").format(ident, sql.Identifier(name), role)
        )


def ensure_bi_reader(admin_url: str) -> str:
    """Create or update the read-only login role ``bi_reader``; return its URL.

    bi_reader may connect and read every table and view in ``marts`` (also those dbt creates
    later: default privileges of the owner, the role of ``admin_url``), and nothing else: no
    usage on raw, ml, audit or staging, no write anywhere, and its sessions default to
    read-only transactions. The password is generated once and kept in
    :func:`bi_reader_credentials_file`; every call re-applies it, so the role always matches.
    """
    password = _bi_reader_password()
    role = sql.Identifier(BI_READER)
    with connect(admin_url) as conn:
        conn.execute("select pg_advisory_xact_lock(hashtext('missionpulse-bi-reader'))")
        owner, dbname = conn.execute("select current_user, current_database()").fetchone()  # type: ignore[misc]
        found = conn.execute(
            "select rolsuper or rolcreaterole or rolcreatedb or rolreplication or rolbypassrls"
            " from pg_roles where rolname = %s",
            (BI_READER,),
        ).fetchone()
        if found is None:
            conn.execute(
                sql.SQL(
                    "create role {} with login nosuperuser nocreatedb nocreaterole noreplication"
                    " nobypassrls password {}"
                ).format(role, sql.Literal(password))
            )
        elif found[0]:
            # only a superuser may change these attributes; a managed Postgres owner is not one
            raise RuntimeError(
                f"role {BI_READER} holds privileges a read-only role must not have (superuser,"
                " createrole, createdb, replication or bypassrls): a superuser must remove them"
                f" (ALTER ROLE {BI_READER} NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION"
                " NOBYPASSRLS), then rerun"
            )
        else:
            conn.execute(
                sql.SQL("alter role {} with login password {}").format(role, sql.Literal(password))
            )
        conn.execute(sql.SQL("alter role {} set default_transaction_read_only = on").format(role))
        # a BI session left open must not hold locks that block the pipeline's publication
        for setting, value in (
            ("idle_in_transaction_session_timeout", "5min"),
            ("statement_timeout", "5min"),
        ):
            conn.execute(
                sql.SQL("alter role {} set {} = {}").format(
                    role, sql.Identifier(setting), sql.Literal(value)
                )
            )
        _revoke_large_objects(conn)
        conn.execute(
            sql.SQL("grant connect on database {} to {}").format(sql.Identifier(dbname), role)
        )
        for schema in BI_SCHEMAS:
            conn.execute(sql.SQL("create schema if not exists {}").format(sql.Identifier(schema)))
            grant_bi_reader(conn, schema, owner)
    parts = urlsplit(admin_url)
    netloc = f"{BI_READER}:{quote(password, safe='')}@{parts.hostname}"
    if parts.port:
        netloc += f":{parts.port}"
    return urlunsplit(parts._replace(netloc=netloc))
