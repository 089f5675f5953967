"""The steps of one daily run, as plain functions.

The Airflow DAG calls these (one task each) and so can tests and the CLI. Every step is
keyed on the data interval and idempotent: rerunning a day replaces that day's partitions
and rebuilds that day's mart rows, never adds to them.
"""

from __future__ import annotations

import hashlib
import importlib
import inspect
import json
import logging
import os
import uuid
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from datetime import date
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from psycopg import sql

from extractors.common.load import load_manifests
from extractors.common.window import Window
from missionpulse import db, marts_publish, settings, warehouse
from missionpulse.policy_tables import load_policy_tables
from missionpulse.registry import Registry, load_registry

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ExtractSummary:
    platform: str
    day: str
    rows: dict[str, int]
    requests: int
    retries: int
    failures: list[dict[str, str]]


def window_for(day: date) -> Window:
    return Window.for_day(day)


@cache
def registry() -> Registry:
    return load_registry()


def prepare() -> str:
    """Start (or find) the warehouse, create the owned schemas and the read-only role
    bi_reader, load the registry."""
    url = warehouse.ensure_running()
    db.ensure_schemas(url)
    marts_publish.ensure_tables(url)
    db.ensure_bi_reader(url)
    ensure_raw_tables(url)
    load_registry_tables(url, registry())
    return url


def ensure_raw_tables(url: str) -> None:
    """Create every platform's raw tables, so dbt's staging views always have their sources
    (also for a platform that is disabled or failed on its first day)."""
    from extractors.common.load import ensure_table

    with db.connect(url) as conn:
        for platform in settings.PLATFORMS:
            for spec in extractor(platform).ENTITIES.values():
                ensure_table(conn, spec)


def _config_digest() -> str:
    digest = hashlib.sha256()
    for path in sorted(settings.config_dir().rglob("*")):
        if path.is_file():
            digest.update(path.relative_to(settings.config_dir()).as_posix().encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()


def load_registry_tables(url: str, reg: Registry) -> None:
    """Replace raw.registry__missions / raw.registry__handles and the policy tables
    (raw.registry__policy, __policy_platforms, __compliance_weights) with the validated config."""
    digest = _config_digest()
    with db.connect(url) as conn, conn.transaction():
        conn.execute("select pg_advisory_xact_lock(hashtext('missionpulse-registry'))")
        conn.execute(
            """
            create table if not exists raw.registry__missions (
                mission_id text primary key, name text not null, mission_type text not null,
                city text not null, country text not null, country_code text not null,
                region text not null, active_from date not null, active_to date,
                config_sha256 text not null, loaded_at timestamptz not null default now())
            """
        )
        conn.execute(
            """
            create table if not exists raw.registry__handles (
                mission_id text not null, platform text not null, handle text not null,
                platform_account_id text, active_from date not null, active_to date,
                config_sha256 text not null, loaded_at timestamptz not null default now(),
                primary key (mission_id, platform))
            """
        )
        conn.execute("delete from raw.registry__missions")
        conn.execute("delete from raw.registry__handles")
        with conn.cursor() as cur:
            cur.executemany(
                "insert into raw.registry__missions values (%s,%s,%s,%s,%s,%s,%s,%s,%s,%s)",
                [
                    (
                        m.mission_id,
                        m.name,
                        m.mission_type,
                        m.city,
                        m.country,
                        m.country_code,
                        m.region,
                        m.active_from,
                        m.active_to,
                        digest,
                    )
                    for m in reg.missions
                ],
            )
            cur.executemany(
                "insert into raw.registry__handles values (%s,%s,%s,%s,%s,%s,%s)",
                [
                    (
                        h.mission_id,
                        h.platform,
                        h.handle,
                        h.platform_account_id,
                        h.active_from,
                        h.active_to,
                        digest,
                    )
                    for h in reg.handles
                ],
            )
        # the policy too, in the same transaction: the compliance marts read it from SQL
        load_policy_tables(conn, reg, digest)


def extractor(platform: str) -> Any:
    """The platform's extractor package (see ``extractors.common.result`` for its contract)."""
    if platform not in settings.PLATFORMS:
        raise ValueError(f"unknown platform {platform!r}; use one of {settings.PLATFORMS}")
    try:
        return importlib.import_module(f"extractors.{platform}")
    except ModuleNotFoundError:
        raise ValueError(f"platform {platform!r} has no extractor yet") from None


EXTRACT_BATCH_SIZE_ENV = "MISSIONPULSE_EXTRACT_BATCH_SIZE"
DEFAULT_EXTRACT_BATCH_SIZE = 50


def extract_batch_size() -> int:
    """Handles per extraction batch (one mapped Airflow task each):
    ``MISSIONPULSE_EXTRACT_BATCH_SIZE``, default 50."""
    size = settings.env_count(EXTRACT_BATCH_SIZE_ENV)
    return DEFAULT_EXTRACT_BATCH_SIZE if size is None else size


class ExtractIncompleteError(RuntimeError):
    """A batch of the platform's day failed: nothing of the day was loaded into raw."""


def plan_extract(platform: str, day: date, batch_size: int | None = None) -> list[dict[str, Any]]:
    """Cut the platform's handles active on ``day`` into batches (JSON, for Airflow's XCom).

    Every batch carries the day's ``extract_run_id``, which names the run in
    audit.extract_runs and the folder of its batches' receipts. There is always at least
    one batch: a day without handles still lands (empty) files and replaces the partition.
    """
    extractor(platform)  # an unknown platform is named here, before any task is mapped
    size = batch_size or extract_batch_size()
    handles = [
        {"mission_id": h.mission_id, "handle": h.handle, "account_id": h.platform_account_id}
        for h in registry().handles_for(platform, on=day)
    ]
    chunks = [handles[i : i + size] for i in range(0, len(handles), size)] or [[]]
    run_id = f"{platform}-{day:%Y%m%d}-{uuid.uuid4().hex[:10]}"
    return [
        {
            "platform": platform,
            "day": day.isoformat(),
            "extract_run_id": run_id,
            "number": number,
            "of": len(chunks),
            "handles": chunk,
        }
        for number, chunk in enumerate(chunks, start=1)
    ]


def receipt_path(platform: str, day: date, extract_run_id: str, number: int) -> Path:
    """Where a batch writes what it landed (or why it failed), beside the landing files:
    the load reads it from there, also when the batch's task failed and has no XCom."""
    return (
        settings.landing_dir()
        / platform
        / "_receipts"
        / f"dt={day.isoformat()}"
        / extract_run_id
        / f"batch-{number:05d}.json"
    )


def _write_receipt(path: Path, receipt: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(receipt, indent=1, sort_keys=True), encoding="utf-8")
    os.replace(tmp, path)


def extract_batch(batch: dict[str, Any], faults: str = "none") -> dict[str, Any]:
    """Extract one batch of handles into the landing zone (no warehouse writes) and write
    its receipt; returns the receipt. An authentication or permission failure (every
    handle would fail the same way) is written to the receipt, then raised."""
    from extractors.common.errors import AuthError, PermissionDeniedError
    from extractors.common.result import ExtractResult, HandleRef
    from missionpulse.platforms import connection, pseudonymiser

    platform, day = batch["platform"], date.fromisoformat(batch["day"])
    package = extractor(platform)
    window = window_for(day)
    conn_info = connection(platform, window, faults)
    handles = [HandleRef(h["mission_id"], h["handle"], h["account_id"]) for h in batch["handles"]]
    path = receipt_path(platform, day, batch["extract_run_id"], batch["number"])
    receipt: dict[str, Any] = {
        key: batch[key] for key in ("platform", "day", "extract_run_id", "number", "of")
    }
    receipt["handles"] = [h.handle for h in handles]
    client = package.make_client(conn_info.base_url, conn_info.token)
    client.media_base = conn_info.media_base  # the simulator's stand-in CDN, if simulated
    try:
        result = package.run(
            window,
            handles,
            client,
            settings.landing_dir(),
            pseudonymiser(),
            **_missions_of_the_day(package, platform, day),
        )
    except (AuthError, PermissionDeniedError) as err:
        # the whole platform is down for the day: say so for every handle, land nothing
        failed = ExtractResult(platform, window)
        for ref in handles:
            failed.fail(ref.handle, "auth", client.redact(str(err)))
        _write_receipt(path, receipt | _receipt_body(failed, client.stats, fatal=True))
        raise
    finally:
        client.close()
    receipt |= _receipt_body(result, client.stats, fatal=False)
    _write_receipt(path, receipt)
    for failure in result.failures:
        log.warning(
            "%s handle %s on %s failed at %s: %s",
            failure.platform,
            failure.handle,
            failure.window,
            failure.stage,
            failure.error,
        )
    return receipt


def _missions_of_the_day(package: Any, platform: str, day: date) -> dict[str, Any]:
    """``missions=``: every handle of the platform active on ``day``, for an extractor that
    must know the missions beyond its batch (X: their replies are not pseudonymised).

    Read from the registry by each batch rather than carried in every batch's XCom (with
    10,000 handles that would be 10,000 x 200 entries); the plan read the same registry.
    """
    if "missions" not in inspect.signature(package.run).parameters:
        return {}
    from extractors.common.result import HandleRef

    return {
        "missions": [
            HandleRef(h.mission_id, h.handle, h.platform_account_id)
            for h in registry().handles_for(platform, on=day)
        ]
    }


def _receipt_body(result: Any, stats: Any, *, fatal: bool) -> dict[str, Any]:
    return {
        "status": "failed" if fatal else "ok",
        "manifests": {
            entity: str(m.path.with_name(f"{m.load_id}.manifest.json"))
            for entity, m in result.manifests.items()
        },
        "load_ids": {entity: m.load_id for entity, m in result.manifests.items()},
        "failures": [asdict(f) for f in result.failures],
        "rows_by_handle": result.rows_by_handle,
        "requests_by_handle": dict(stats.requests_by_handle),
        "retries_by_handle": dict(stats.retries_by_handle),
        "requests": stats.requests,
        "retries": stats.retries,
    }


def load_extract(platform: str, day: date, batches: Sequence[dict[str, Any]]) -> ExtractSummary:
    """Replace the platform's raw partitions for ``day`` with what all ``batches`` landed
    (one transaction for every entity) and record audit.extract_runs, from the receipts.

    When a batch failed or left no receipt, nothing is loaded (raw keeps the previous state
    of the day), every handle is recorded as failed, and :class:`ExtractIncompleteError`
    says which batches and why.
    """
    from extractors.common.landing import Manifest

    if not batches:
        raise ValueError(f"no extraction batches for {platform} on {day}: plan_extract first")
    package = extractor(platform)
    run_id = batches[0]["extract_run_id"]
    receipts: list[dict[str, Any]] = []
    problems: list[str] = []
    for batch in batches:
        path = receipt_path(platform, day, run_id, batch["number"])
        if not path.exists():
            problems.append(
                f"batch {batch['number']}/{batch['of']} did not finish (its log says why)"
            )
            receipts.append(
                {
                    **batch,
                    "handles": [h["handle"] for h in batch["handles"]],
                    "status": "missing",
                    "manifests": {},
                    "failures": [],
                }
            )
            continue
        receipt = json.loads(path.read_text(encoding="utf-8"))
        if receipt["status"] != "ok":
            first = receipt["failures"][0]["error"] if receipt["failures"] else "unknown error"
            problems.append(f"batch {batch['number']}/{batch['of']} failed: {first}")
        receipts.append(receipt)
    url = warehouse.ensure_running()
    window = window_for(day)
    if problems:
        reason = "; ".join(dict.fromkeys(problems))
        with db.connect(url) as conn:
            record_extract_run(conn, platform, window, run_id, receipts, not_loaded=reason)
        raise ExtractIncompleteError(
            f"{platform} on {day} was not loaded: {reason}. raw keeps the day's previous data "
            "and the platform is left out of the day's publication; fix the cause, then rerun "
            "the day"
        )
    failed_handles = sorted({f["handle"] for r in receipts for f in r["failures"]})
    rows: dict[str, int] = {}
    # every entity's partition of the day, or none
    with db.connect(url) as conn, conn.transaction():
        for entity, spec in package.ENTITIES.items():
            manifests = [
                Manifest.read(Path(r["manifests"][entity]))
                for r in receipts
                if entity in r["manifests"]
            ]
            if manifests:
                rows[entity] = load_manifests(conn, spec, manifests, keep_handles=failed_handles)
        record_extract_run(conn, platform, window, run_id, receipts)
    return ExtractSummary(
        platform=platform,
        day=day.isoformat(),
        rows=rows,
        requests=sum(r["requests"] for r in receipts),
        retries=sum(r["retries"] for r in receipts),
        failures=[f for r in receipts for f in r["failures"]],
    )


def extract(platform: str, day: date, faults: str = "none") -> ExtractSummary:
    """Extract one platform's day into the landing zone and replace its raw partitions:
    every batch in turn, then the load (what the extract DAG does across tasks)."""
    batches = plan_extract(platform, day)
    for batch in batches:
        try:
            extract_batch(batch, faults)
        except Exception:
            # its receipt (or its absence) tells load_extract; record it there, then raise
            load_extract(platform, day, batches)
            raise
    return load_extract(platform, day, batches)


def record_extract_run(
    conn: Any,
    platform: str,
    window: Window,
    extract_run_id: str,
    receipts: Sequence[dict[str, Any]],
    not_loaded: str | None = None,
) -> None:
    """One audit.extract_runs row per handle of every batch: status, error, requests, rows,
    load ids (its batch's landing files). With ``not_loaded`` (a batch failed, nothing was
    loaded) every handle is failed: its own failure, or ``not_loaded`` at stage 'load'."""
    values = []
    for receipt in receipts:
        failures = {f["handle"]: f for f in receipt["failures"]}
        load_ids = receipt.get("load_ids", {}) if not_loaded is None else {}
        for handle in receipt["handles"]:
            failure = failures.get(handle)
            if failure is None and not_loaded is not None:
                failure = {"stage": "load", "error": f"not loaded: {not_loaded}"}
            values.append(
                (
                    extract_run_id,
                    platform,
                    handle,
                    window.start,
                    window.end,
                    "failed" if failure else "ok",
                    failure["stage"] if failure else None,
                    failure["error"] if failure else None,
                    receipt.get("requests_by_handle", {}).get(handle, 0),
                    receipt.get("retries_by_handle", {}).get(handle, 0),
                    json.dumps(receipt.get("rows_by_handle", {}).get(handle, {})),
                    json.dumps(load_ids),
                )
            )
    with conn.transaction(), conn.cursor() as cur:
        cur.executemany(
            """
            insert into audit.extract_runs
              (extract_run_id, platform, handle, interval_start, interval_end, status, stage,
               error, requests, retries, rows, load_ids)
            values (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
            """,
            values,
        )


def record_raw_day(
    platform: str, day: date, status: str, reason: str | None, dag_run_id: str | None
) -> None:
    """Record whether the platform's day passed extraction and its raw suites
    (audit.raw_days, read by :func:`publishable_platforms`); a rerun overwrites it."""
    url = warehouse.ensure_running()
    with db.connect(url) as conn:
        conn.execute(
            """
            insert into audit.raw_days (platform, interval_start, status, reason, dag_run_id)
            values (%s, %s, %s, %s, %s)
            on conflict (platform, interval_start) do update set status = excluded.status,
              reason = excluded.reason, dag_run_id = excluded.dag_run_id, recorded_at = now()
            """,
            (platform, window_for(day).start, status, reason, dag_run_id),
        )


def publishable_platforms(day: date, wanted: Sequence[str] = settings.PLATFORMS) -> list[str]:
    """The platforms (of ``wanted``) whose raw data for ``day`` passed its latest
    extraction and validation, in the order of ``settings.PLATFORMS``."""
    url = warehouse.ensure_running()
    with db.connect(url) as conn:
        passed = {
            platform
            for (platform,) in conn.execute(
                "select platform from audit.raw_days where interval_start = %s"
                " and status = 'passed'",
                (window_for(day).start,),
            ).fetchall()
        }
    return [p for p in settings.PLATFORMS if p in passed and p in wanted]


def validate_raw(platform: str, day: date, dag_run_id: str | None = None) -> list[dict[str, Any]]:
    """Run the platform's raw suites on the day; raise QuarantineError on blocking failures."""
    from expectations import docs
    from expectations.base import BatchContext
    from expectations.registry import raw_suites
    from expectations.runner import QuarantineError, validate_batch

    url = warehouse.ensure_running()
    window = window_for(day)
    known = frozenset(h.handle for h in registry().handles_for(platform))
    outcomes = []
    marts_publish.ensure_tables(url)  # audit.dq_runs.validated_schema
    with db.connect(url, autocommit=True) as conn:
        for suite in raw_suites(platform):
            ctx = BatchContext(platform, suite.entity, window.start, window.end, known)
            outcomes.append(
                validate_batch(conn, suite, ctx, dag_run_id=dag_run_id, validated_schema="raw")
            )
    docs.build_data_docs()
    if any(not o.success for o in outcomes):
        raise QuarantineError(outcomes)
    return [
        {"suite": o.suite, "rows": o.rows, "warnings": len(o.warnings), "dq_run_id": o.dq_run_id}
        for o in outcomes
    ]


def stage_marts(
    day: date, dag_run_id: str, holder_alive: Callable[[str], bool | None] | None = None
) -> dict[str, Any]:
    """Take the marts publication lock and copy the published marts into the day's shadow
    schema, which dbt then builds into (see ``missionpulse.marts_publish``)."""
    staged = marts_publish.stage(
        warehouse.ensure_running(), day, dag_run_id, holder_alive=holder_alive
    )
    return {
        "schema": staged.schema,
        "tables": staged.tables,
        "copy_s": round(staged.copy_s, 3),
    }


class MartsWithheldError(RuntimeError):
    """A mart suite failed on the shadow: ``marts`` keeps its previous published state."""

    def __init__(self, day: date, schema: str, outcomes: list[Any]) -> None:
        self.outcomes = outcomes
        failed = "\n".join(o.describe() for o in outcomes if not o.success)
        super().__init__(
            f"Mart data quality failed for {day}: the day's marts are NOT published; marts "
            f"keeps its previous published state, and the day's build stays in schema {schema} "
            "for inspection (fix the model or the data, then rerun the day):\n" + failed
        )


def validate_marts(
    day: date, dag_run_id: str | None = None, schema: str | None = None
) -> list[dict[str, Any]]:
    """Run the mart suites on the day's rows in the run's shadow schema (after dbt built it);
    raise :class:`MartsWithheldError` on a blocking failure, which withholds the publication.
    ``schema`` defaults to the day's shadow; each audit.dq_runs row names it."""
    from expectations import docs
    from expectations.base import BatchContext
    from expectations.marts import on_schema
    from expectations.registry import mart_suites
    from expectations.runner import validate_batch

    url = warehouse.ensure_running()
    marts_publish.ensure_tables(url)
    schema = schema or marts_publish.shadow_schema(day)
    if dag_run_id:
        marts_publish.heartbeat(url, dag_run_id)
    window = window_for(day)
    known = frozenset(h.handle for h in registry().handles)
    outcomes = []
    with db.connect(url, autocommit=True) as conn:
        for suite in mart_suites():
            (exists,) = conn.execute(  # type: ignore[misc]
                "select to_regclass(format('%%I.%%I', %s::text, %s::text)) is not null",
                (schema, suite.entity),
            ).fetchone()
            if not exists:
                log.warning(
                    "mart %s.%s does not exist: %s skipped", schema, suite.entity, suite.name
                )
                continue
            ctx = BatchContext(None, suite.entity, window.start, window.end, known)
            outcomes.append(
                validate_batch(
                    conn,
                    on_schema(suite, schema),
                    ctx,
                    dag_run_id=dag_run_id,
                    validated_schema=schema,
                )
            )
    docs.build_data_docs()
    if any(not o.success for o in outcomes):
        raise MartsWithheldError(day, schema, outcomes)
    return [
        {
            "suite": o.suite,
            "schema": schema,
            "rows": o.rows,
            "warnings": len(o.warnings),
            "dq_run_id": o.dq_run_id,
        }
        for o in outcomes
    ]


def publish_marts(day: date, dag_run_id: str, validated: list[dict[str, Any]]) -> dict[str, Any]:
    """Swap the day's validated shadow in as ``marts`` (one transaction)."""
    return marts_publish.publish(
        warehouse.ensure_running(), day, dag_run_id, [str(v["dq_run_id"]) for v in validated]
    )


def withhold_marts(day: date, dag_run_id: str, reason: str) -> bool:
    """Release the publication lock without publishing (marts unchanged, shadow kept)."""
    return marts_publish.withhold(warehouse.ensure_running(), day, dag_run_id, reason)


def dbt_env(url: str | None = None) -> dict[str, str]:
    """Environment variables dbt's profile reads, derived from the warehouse URL."""
    parts = urlsplit(url or warehouse.ensure_running())
    return {
        "MISSIONPULSE_DB_HOST": parts.hostname or "127.0.0.1",
        "MISSIONPULSE_DB_PORT": str(parts.port or 5432),
        "MISSIONPULSE_DB_USER": unquote(parts.username or ""),
        "MISSIONPULSE_DB_PASSWORD": unquote(parts.password or ""),
        "MISSIONPULSE_DB_NAME": parts.path.lstrip("/") or "postgres",
    }


def export_dbt_env() -> None:
    os.environ.update(dbt_env())


def dbt_vars(day: date) -> dict[str, str]:
    window = window_for(day)
    return {
        "start_date": window.start.date().isoformat(),
        "end_date": window.end.date().isoformat(),
    }


def score_comments(
    day: date, platforms: Sequence[str] = settings.PLATFORMS, batch_size: int = 2048
) -> dict[str, Any]:
    """Score the day's audience comments that have no score for the current model version.

    Reads dbt's staging views (one shape for every platform), skips the missions' own
    replies, and inserts with ``on conflict do nothing``: a rerun scores nothing twice.
    """
    from missionpulse.sentiment_backfill import insert_scores
    from models.sentiment.source import load_scorer

    url = warehouse.ensure_running()
    scorer = load_scorer()  # the shipped artifact, or MISSIONPULSE_SENTIMENT_MODEL
    window = window_for(day)
    scored: dict[str, int] = {}
    with db.connect(url) as conn:
        for platform in platforms:
            comments = sql.Identifier("staging", f"stg_{platform}__comments")
            profiles = sql.Identifier("staging", f"stg_{platform}__profiles")
            rows = conn.execute(
                sql.SQL(
                    """
                    select c.comment_id, coalesce(c.comment_text, '')
                    from {comments} c
                    where c.interval_start = %(start)s
                      and c.comment_id is not null
                      and not exists (
                        select 1 from ml.comment_sentiment s
                        where s.platform = %(platform)s and s.comment_id = c.comment_id
                          and s.model_version = %(version)s)
                      -- the audience's comments only: not the missions' own replies
                      and not exists (
                        select 1 from {profiles} p
                        where p.platform_user_id = c.author_key
                          and p.interval_start = c.interval_start)
                    """
                ).format(comments=comments, profiles=profiles),
                {"start": window.start, "platform": platform, "version": scorer.model_version},
            ).fetchall()
            for start in range(0, len(rows), batch_size):
                chunk = rows[start : start + batch_size]
                insert_scores(conn, platform, scorer.model_version, chunk, scorer)
            scored[platform] = len(rows)
    return {"day": day.isoformat(), "model_version": scorer.model_version, "scored": scored}


def staged_for(day: date) -> dict[str, str]:
    """The run holding the marts publication lock for ``day`` and its shadow schema: what
    transform_warehouse staged, which score_sentiment and publish go on building, under
    the same holder (``dag_run_id`` in the lock and the audit records)."""
    url = warehouse.ensure_running()
    marts_publish.ensure_tables(url)
    with db.connect(url) as conn:
        row = conn.execute(
            "select dag_run_id, shadow_schema from audit.marts_publish_lock"
            " where lock_name = %s and batch_date = %s",
            (marts_publish.MARTS, day),
        ).fetchone()
    if row is None:
        raise marts_publish.PublishError(
            f"the marts for {day} are not staged (no publication lock for the day: "
            "transform_warehouse did not stage it, it was withheld, or another day's run took "
            "the lock over); marts is unchanged: rerun the day"
        )
    return {"holder": str(row[0]), "schema": str(row[1])}
