"""Connections to the warehouse and the schemas the pipeline owns outside dbt.

dbt owns ``marts`` (and its staging views); the pipeline owns ``raw`` (landing loads),
``ml`` (model scores) and ``audit`` (loads, data-quality runs). Their DDL lives here and is
applied idempotently at the start of every run.
"""

from __future__ import annotations

from typing import Any

import psycopg

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
"""


def connect(url: str, *, autocommit: bool = False) -> psycopg.Connection[Any]:
    return psycopg.connect(url, autocommit=autocommit, application_name="missionpulse")


def ensure_schemas(url: str) -> None:
    """Create the pipeline-owned schemas and tables if they are missing (idempotent)."""
    with connect(url) as conn:
        conn.execute("select pg_advisory_xact_lock(hashtext('missionpulse-ddl'))")
        conn.execute(DDL)
