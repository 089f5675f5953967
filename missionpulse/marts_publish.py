"""Publish the marts only after their suites pass: build in a shadow schema, swap it in.

A daily run never writes into ``marts`` directly:

1. :func:`stage` takes the publication lock (one run at a time, from copy to swap) and
   copies every table and view of ``marts`` (incremental tables and the snapshot
   ``snp_handle_profiles`` included) into the run's shadow schema ``marts_shadow_<day>``.
   The marts are small, so the copy costs about as much as reading them once.
2. dbt builds into the shadow (its var ``marts_schema``, see
   ``dbt_project/macros/generate_schema_name.sql``): incremental models and the snapshot
   find the published state there and add the day to it, exactly as they would in ``marts``.
3. The mart suites validate the shadow (``audit.dq_runs.validated_schema`` names it).
4. :func:`publish` swaps it in, in one transaction: ``marts`` is renamed away, the shadow
   is renamed to ``marts``, bi_reader gets its grants on it, the lock is released, and the
   publication is recorded in ``audit.mart_publications``. Renaming a schema takes no lock
   on its tables, so a BI query running during the swap finishes on the tables it started
   on, and the next query sees the new ones. The old schema is dropped afterwards (waiting
   for such readers; if they outlast ``lock_timeout`` the next publication drops it).
5. When anything before the publication fails, :func:`withhold` releases the lock and
   leaves the shadow where it is, for inspection: ``marts`` keeps exactly what it held.

The lock is a row in ``audit.marts_publish_lock`` (the run, its day and shadow), not a
session advisory lock: the steps run as separate Airflow tasks, possibly in separate
processes. A run that finds it held waits; it takes the lock over when the holder is the
same DAG run (a retry), when Airflow says the holder's run has failed or is gone, when the
holder ran in one process on this host (``missionpulse run``/``backfill``: the row names
the process, see :data:`IN_PROCESS_ENV`) and that process has died, or when the holder has
not been heard of for ``MISSIONPULSE_MARTS_LOCK_STALE_S`` seconds (default 3 hours).
``missionpulse marts status|unlock|drop-shadows`` (the functions at the end) let the data
team see the lock and the shadows, release a dead run's lock at once, and drop shadows.
"""

from __future__ import annotations

import json
import logging
import os
import re
import socket
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any

import psutil
from psycopg import sql

from missionpulse import db

log = logging.getLogger(__name__)

MARTS = "marts"  # the published schema; tests pass another name to stay out of the way
_IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")

DDL = db.PUBLICATION_DDL  # applied by db.ensure_schemas too


class PublishError(RuntimeError):
    """The marts could not be staged or published; ``marts`` is unchanged."""


@dataclass(frozen=True)
class Staged:
    schema: str
    publication_id: str
    tables: dict[str, int]
    copy_s: float


def shadow_schema(day: date, marts: str = MARTS) -> str:
    """The shadow schema a day's run builds its marts in."""
    return f"{marts}_shadow_{day:%Y%m%d}"


def _ident(name: str) -> sql.Identifier:
    if not _IDENTIFIER.match(name):
        raise ValueError(f"not a plain schema name: {name!r}")
    return sql.Identifier(name)


def ensure_tables(url: str) -> None:
    """The lock and publication tables, and audit.dq_runs.validated_schema (idempotent)."""
    with db.connect(url) as conn:
        conn.execute("select pg_advisory_xact_lock(hashtext('missionpulse-ddl'))")
        conn.execute(DDL)


# Set by missionpulse.orchestration while it runs a day's DAGs in its own process: every
# task of the run is in this process, so the run dies with it. Scheduler-driven runs (one
# process per task) leave it unset and are judged by Airflow's run state and the heartbeat.
IN_PROCESS_ENV = "MISSIONPULSE_IN_PROCESS_RUN"


def _this_process() -> tuple[str, int, float] | None:
    """(host, pid, start time) of this process when it runs whole DAG runs, else None."""
    if os.environ.get(IN_PROCESS_ENV) != "1":
        return None
    return socket.gethostname(), os.getpid(), psutil.Process().create_time()


def _holder_process_died(holder: dict[str, Any]) -> bool:
    """Whether the lock's holder ran in one process on this host that no longer runs
    (the same pid with another start time is another process)."""
    if holder.get("holder_pid") is None or holder.get("holder_host") != socket.gethostname():
        return False
    try:
        started = psutil.Process(int(holder["holder_pid"])).create_time()
    except psutil.NoSuchProcess:
        return True
    except psutil.Error:
        return False  # cannot tell: the other checks decide
    return abs(started - float(holder["holder_started"] or 0)) > 1.0


def _stale_after_s() -> float:
    return float(os.environ.get("MISSIONPULSE_MARTS_LOCK_STALE_S", 3 * 3600))


_LOCK_KEYS = (
    "dag_run_id",
    "day",
    "shadow",
    "acquired_at",
    "heartbeat_at",
    "silent_s",
    "holder_host",
    "holder_pid",
    "holder_started",
)


def _serialise(conn: Any) -> None:
    """Wait for the transaction-scoped advisory lock that orders every change to the
    publication lock's row: take, heartbeat, swap, release, drop of retired shadows."""
    conn.execute("select pg_advisory_xact_lock(hashtext('missionpulse-marts-publish'))")


def _lock_row(conn: Any, marts: str, *, for_update: bool = False) -> dict[str, Any] | None:
    """The publication lock's row as a dict (:data:`_LOCK_KEYS`), None when free."""
    row = conn.execute(
        "select dag_run_id, batch_date, shadow_schema, acquired_at, heartbeat_at,"
        " extract(epoch from now() - heartbeat_at)::float8 as silent_s,"
        " holder_host, holder_pid, holder_started"
        " from audit.marts_publish_lock where lock_name = %s"
        + (" for update" if for_update else ""),
        (marts,),
    ).fetchone()
    return None if row is None else dict(zip(_LOCK_KEYS, row, strict=True))


def _record_withheld(conn: Any, dag_run_id: str, schema: str, reason: str) -> int:
    """Mark the run's staged publication of ``schema`` withheld; returns the rows changed."""
    return int(
        conn.execute(
            "update audit.mart_publications set status = 'withheld', reason = %s,"
            " finished_at = now() where dag_run_id = %s and shadow_schema = %s"
            " and status = 'staged'",
            (reason, dag_run_id, schema),
        ).rowcount
    )


def _like_prefix(prefix: str) -> str:
    """A LIKE pattern matching names that start with ``prefix`` (its ``_`` taken literally)."""
    return prefix.replace("_", r"\_") + "%"


def _acquire(
    conn: Any,
    day: date,
    dag_run_id: str,
    schema: str,
    holder_alive: Callable[[str], bool | None] | None,
    marts: str,
) -> dict[str, Any] | None:
    """Take the lock (in the caller's transaction); None when taken, else the live holder."""
    _serialise(conn)
    holder = _lock_row(conn, marts, for_update=True)
    if holder is not None and holder["dag_run_id"] != dag_run_id:
        if _holder_process_died(holder):
            why = (
                f"the process that ran it ({holder['holder_host']} pid {holder['holder_pid']})"
                " has died"
            )
        else:
            alive = holder_alive(holder["dag_run_id"]) if holder_alive else None
            if alive is not False and float(holder["silent_s"]) < _stale_after_s():
                return holder
            why = (
                "its Airflow run has failed or is gone (a rerun of the day replaced it)"
                if alive is False
                else f"not heard of for {float(holder['silent_s']):.0f} s"
            )
        log.warning(
            "taking over the marts publication lock from run %s (day %s, shadow %s): %s",
            holder["dag_run_id"],
            holder["day"],
            holder["shadow"],
            why,
        )
        # The holder never finishes its publication: record it, so that an auditor reading
        # audit.mart_publications does not find it "staged" for ever.
        _record_withheld(
            conn,
            holder["dag_run_id"],
            holder["shadow"],
            f"abandoned: {why}; the lock was taken over by run {dag_run_id}",
        )
    host, pid, started = _this_process() or (None, None, None)
    conn.execute(
        """
        insert into audit.marts_publish_lock (lock_name, dag_run_id, batch_date, shadow_schema,
            holder_host, holder_pid, holder_started)
        values (%s, %s, %s, %s, %s, %s, %s)
        on conflict (lock_name) do update set
            dag_run_id = excluded.dag_run_id, batch_date = excluded.batch_date,
            shadow_schema = excluded.shadow_schema, acquired_at = now(), heartbeat_at = now(),
            holder_host = excluded.holder_host, holder_pid = excluded.holder_pid,
            holder_started = excluded.holder_started
        """,
        (marts, dag_run_id, day, schema, host, pid, started),
    )
    return None


def _copy_marts(conn: Any, schema: str, marts: str) -> dict[str, int]:
    """Copy every table (with indexes, defaults, comments) and view of marts into schema."""
    shadow = _ident(schema)
    conn.execute(sql.SQL("drop schema if exists {} cascade").format(shadow))
    conn.execute(sql.SQL("create schema {}").format(shadow))
    conn.execute(
        sql.SQL("comment on schema {} is {}").format(
            shadow,
            sql.Literal(
                "Shadow of marts being built and validated by one daily run; published "
                "(renamed to marts) only when the mart suites pass."
            ),
        )
    )
    relations = conn.execute(
        "select c.relname, c.relkind from pg_class c join pg_namespace n on n.oid = c.relnamespace"
        " where n.nspname = %s and c.relkind in ('r', 'p', 'v', 'm', 'S', 'f') order by c.oid",
        (marts,),
    ).fetchall()
    copied: dict[str, int] = {}
    views: list[str] = []
    for name, kind in relations:
        source = sql.Identifier(marts, name)
        target = sql.Identifier(schema, name)
        if kind in ("r", "p"):
            conn.execute(sql.SQL("create table {} (like {} including all)").format(target, source))
            cur = conn.execute(sql.SQL("insert into {} select * from {}").format(target, source))
            copied[name] = cur.rowcount
        elif kind == "v":
            views.append(name)
        else:
            raise PublishError(
                f"{marts}.{name} is a relation of kind {kind!r} (not a table or view), which the "
                "shadow copy does not handle; drop it or move it out of marts, then rerun the day"
            )
    for name in views:
        # read the definition with marts on the search path, so that its references to marts
        # come out unqualified, and create it with the shadow on the path: it reads the shadow
        conn.execute(sql.SQL("set local search_path = {}, pg_catalog").format(_ident(marts)))
        (definition,) = conn.execute(
            "select pg_get_viewdef(format('%%I.%%I', %s::text, %s::text)::regclass)",
            (marts, name),
        ).fetchone()
        conn.execute(sql.SQL("set local search_path = {}, pg_catalog").format(shadow))
        conn.execute(
            sql.SQL("create view {} as {}").format(
                sql.Identifier(schema, name), sql.SQL(definition.rstrip().rstrip(";"))
            )
        )
        copied[name] = -1
    conn.execute("set local search_path to default")
    # like ... including all copies column and index comments, not the relation's own
    for name in copied:
        (comment,) = conn.execute(
            "select obj_description(format('%%I.%%I', %s::text, %s::text)::regclass, 'pg_class')",
            (marts, name),
        ).fetchone()
        if comment is not None:
            kind = sql.SQL("view" if copied[name] < 0 else "table")
            conn.execute(
                sql.SQL("comment on {} {} is {}").format(
                    kind, sql.Identifier(schema, name), sql.Literal(comment)
                )
            )
    return copied


def _drop_retired(url: str, marts: str, lock_timeout: str = "30s") -> None:
    """Drop the schemas earlier publications renamed away (waits for their last readers)."""
    with db.connect(url, autocommit=True) as conn:
        names = [
            n
            for (n,) in conn.execute(
                "select nspname from pg_namespace where nspname like %s",
                (_like_prefix(f"{marts}_retired_"),),
            ).fetchall()
        ]
        for name in names:
            try:
                with conn.transaction():
                    conn.execute(
                        sql.SQL("set local lock_timeout = {}").format(sql.Literal(lock_timeout))
                    )
                    conn.execute(sql.SQL("drop schema {} cascade").format(_ident(name)))
            except Exception as err:  # noqa: BLE001 - a reader still on it: next time
                log.warning("could not drop %s yet (%s); the next publication will", name, err)


def stage(
    url: str,
    day: date,
    dag_run_id: str,
    *,
    holder_alive: Callable[[str], bool | None] | None = None,
    wait_s: float | None = None,
    poll_s: float = 5.0,
    marts: str = MARTS,
) -> Staged:
    """Take the publication lock (waiting while another run holds it) and copy marts into
    the day's shadow schema; returns the shadow's name and what was copied."""
    ensure_tables(url)
    schema = shadow_schema(day, marts)
    wait = (
        float(os.environ.get("MISSIONPULSE_MARTS_LOCK_WAIT_S", 3600)) if wait_s is None else wait_s
    )
    deadline = time.monotonic() + wait
    publication_id = f"pub-{day:%Y%m%d}-{uuid.uuid4().hex[:10]}"
    while True:
        with db.connect(url) as conn:
            with conn.transaction():
                holder = _acquire(conn, day, dag_run_id, schema, holder_alive, marts)
                if holder is None:
                    # this run's earlier attempt at these marts (never another schema's)
                    conn.execute(
                        "update audit.mart_publications set status = 'withheld',"
                        " reason = 'staged again by a retry', finished_at = now()"
                        " where dag_run_id = %s and status = 'staged'"
                        " and shadow_schema like %s",
                        (dag_run_id, _like_prefix(f"{marts}_shadow_")),
                    )
                    started = time.monotonic()
                    tables = _copy_marts(conn, schema, marts)
                    copy_s = time.monotonic() - started
                    conn.execute(
                        "insert into audit.mart_publications (publication_id, dag_run_id,"
                        " batch_date, shadow_schema, status, tables, copy_s)"
                        " values (%s, %s, %s, %s, 'staged', %s, %s)",
                        (publication_id, dag_run_id, day, schema, json.dumps(tables), copy_s),
                    )
            if holder is None:
                break
        if time.monotonic() >= deadline:
            raise PublishError(
                f"the marts for {day} cannot be built: run {holder['dag_run_id']} (day "
                f"{holder['day']}, shadow {holder['shadow']}) has held the publication lock "
                f"since {holder['acquired_at']:%Y-%m-%d %H:%M:%S %Z}. Wait for it to finish, or "
                f"if it is dead: missionpulse marts unlock --run '{holder['dag_run_id']}'; "
                "then rerun the day"
            )
        log.info(
            "marts publication lock held by run %s (day %s): waiting",
            holder["dag_run_id"],
            holder["day"],
        )
        time.sleep(poll_s)
    _drop_retired(url, marts, lock_timeout="1s")
    rows = sum(n for n in tables.values() if n > 0)
    log.info(
        "marts for %s staged in %s: %d tables, %d rows copied in %.2f s",
        day,
        schema,
        sum(n >= 0 for n in tables.values()),
        rows,
        copy_s,
    )
    return Staged(schema, publication_id, tables, copy_s)


def heartbeat(url: str, dag_run_id: str, marts: str = MARTS) -> None:
    """Tell waiting runs that the lock's holder is still at work."""
    with db.connect(url) as conn:
        conn.execute(
            "update audit.marts_publish_lock set heartbeat_at = now()"
            " where lock_name = %s and dag_run_id = %s",
            (marts, dag_run_id),
        )


def _holding(conn: Any, dag_run_id: str, schema: str, marts: str) -> None:
    _serialise(conn)
    row = conn.execute(
        "select dag_run_id, shadow_schema from audit.marts_publish_lock where lock_name = %s"
        " for update",
        (marts,),
    ).fetchone()
    if row is None or tuple(row) != (dag_run_id, schema):
        holder = f"run {row[0]} ({row[1]})" if row else "nobody"
        raise PublishError(
            f"run {dag_run_id} no longer holds the marts publication lock (held by {holder}): "
            f"{schema} is not published and marts is unchanged; rerun the day"
        )


def _schema_exists(conn: Any, name: str) -> bool:
    row = conn.execute("select 1 from pg_namespace where nspname = %s", (name,)).fetchone()
    return row is not None


def publish(
    url: str, day: date, dag_run_id: str, dq_run_ids: list[str], marts: str = MARTS
) -> dict[str, Any]:
    """Swap the day's validated shadow in as ``marts`` (one transaction) and release the lock."""
    from missionpulse.db import BI_READER

    schema = shadow_schema(day, marts)
    retired = f"{marts}_retired_{day:%Y%m%d}_{uuid.uuid4().hex[:8]}"
    with db.connect(url) as conn, conn.transaction():
        _holding(conn, dag_run_id, schema, marts)
        if not _schema_exists(conn, schema):
            raise PublishError(f"shadow schema {schema} for {day} is missing: rerun the day")
        owner = conn.execute("select current_user").fetchone()[0]  # type: ignore[index]
        has_reader = conn.execute(
            "select 1 from pg_roles where rolname = %s", (BI_READER,)
        ).fetchone()
        if has_reader:
            # granted now, not at staging: bi_reader never sees an unvalidated shadow
            _ident(schema)  # a plain schema name, checked before it reaches SQL
            db.grant_bi_reader(conn, schema, owner)
        if _schema_exists(conn, marts):
            conn.execute(
                sql.SQL("alter schema {} rename to {}").format(_ident(marts), _ident(retired))
            )
        conn.execute(sql.SQL("alter schema {} rename to {}").format(_ident(schema), _ident(marts)))
        conn.execute(
            sql.SQL("comment on schema {} is {}").format(
                _ident(marts),
                sql.Literal(f"Published marts (last: day {day}, run {dag_run_id})."),
            )
        )
        conn.execute("delete from audit.marts_publish_lock where lock_name = %s", (marts,))
        conn.execute(
            "update audit.mart_publications set status = 'published', dq_run_ids = %s,"
            " finished_at = now() where dag_run_id = %s and shadow_schema = %s"
            " and status = 'staged'",
            (dq_run_ids, dag_run_id, schema),
        )
    _drop_retired(url, marts)
    log.info("marts for %s published from %s (run %s)", day, schema, dag_run_id)
    return {"day": day.isoformat(), "published_from": schema, "dq_run_ids": dq_run_ids}


def withhold(url: str, day: date, dag_run_id: str, reason: str, marts: str = MARTS) -> bool:
    """Release the lock without publishing: ``marts`` keeps its state, the shadow stays.

    Returns whether this run had staged anything (False: nothing to release)."""
    ensure_tables(url)
    schema = shadow_schema(day, marts)
    with db.connect(url) as conn, conn.transaction():
        _serialise(conn)
        released = conn.execute(
            "delete from audit.marts_publish_lock where lock_name = %s and dag_run_id = %s",
            (marts, dag_run_id),
        ).rowcount
        staged = _record_withheld(conn, dag_run_id, schema, reason)
    return bool(released or staged)


# ------------------------------------------------------------------ operator commands
# ``missionpulse marts status|unlock|drop-shadows``: what the data team needs when a run
# died holding the lock, or withheld days left their shadows behind for inspection.


@dataclass(frozen=True)
class ShadowInfo:
    schema: str
    day: date
    size_bytes: int
    locked: bool  # the lock's holder is building in it: never dropped
    status: str | None  # its latest publication record: staged / published / withheld
    reason: str | None


def lock_holder(url: str, marts: str = MARTS) -> dict[str, Any] | None:
    """Who holds the publication lock (run, day, shadow, since when, silent seconds; the
    process of an in-process run and whether it died)."""
    ensure_tables(url)
    with db.connect(url) as conn:
        holder = _lock_row(conn, marts)
    if holder is not None:
        holder["holder_dead"] = _holder_process_died(holder)
    return holder


def shadows(url: str, marts: str = MARTS) -> list[ShadowInfo]:
    """The shadow schemas present, oldest day first, with their latest publication record."""
    holder = lock_holder(url, marts)
    pattern = re.compile(rf"^{re.escape(marts)}_shadow_(\d{{8}})$")
    found = []
    with db.connect(url) as conn:
        rows = conn.execute(
            "select n.nspname, coalesce(sum(pg_total_relation_size(c.oid)), 0)::bigint"
            " from pg_namespace n left join pg_class c"
            "   on c.relnamespace = n.oid and c.relkind in ('r', 'm', 'p')"
            " where n.nspname like %s group by n.nspname order by n.nspname",
            (_like_prefix(f"{marts}_shadow_"),),
        ).fetchall()
        for name, size in rows:
            match = pattern.match(name)
            if not match:
                continue
            day = date(int(match[1][:4]), int(match[1][4:6]), int(match[1][6:]))
            record = conn.execute(
                "select status, reason from audit.mart_publications where shadow_schema = %s"
                " order by staged_at desc limit 1",
                (name,),
            ).fetchone()
            found.append(
                ShadowInfo(
                    schema=name,
                    day=day,
                    size_bytes=int(size),
                    locked=bool(holder and holder["shadow"] == name),
                    status=record[0] if record else None,
                    reason=record[1] if record else None,
                )
            )
    return found


def recent_publications(url: str, limit: int = 10, marts: str = MARTS) -> list[dict[str, Any]]:
    """The latest publication records (newest first) of ``marts``' shadows."""
    ensure_tables(url)
    with db.connect(url) as conn:
        rows = conn.execute(
            "select batch_date, dag_run_id, status, reason, staged_at, finished_at"
            " from audit.mart_publications where shadow_schema like %s"
            " order by staged_at desc limit %s",
            (_like_prefix(f"{marts}_shadow_"), limit),
        ).fetchall()
    keys = ("day", "dag_run_id", "status", "reason", "staged_at", "finished_at")
    return [dict(zip(keys, row, strict=True)) for row in rows]


def release(url: str, dag_run_id: str, operator: str, marts: str = MARTS) -> dict[str, Any]:
    """Release the lock held by ``dag_run_id`` (a run that died holding it), without
    publishing: its staged publication is recorded as withheld, ``marts`` is unchanged and
    its shadow stays. Refuses when another run (or nobody) holds the lock, so a stale
    command line never frees a live run's lock."""
    ensure_tables(url)
    with db.connect(url) as conn, conn.transaction():
        _serialise(conn)
        holder = _lock_row(conn, marts, for_update=True)
        if holder is None:
            raise PublishError(f"nobody holds the {marts} publication lock: nothing to release")
        if holder["dag_run_id"] != dag_run_id:
            raise PublishError(
                f"the {marts} publication lock is held by run {holder['dag_run_id']} (day "
                f"{holder['day']}), not {dag_run_id}: nothing released. Check `missionpulse "
                "marts status` and pass the holder's run id if that run is dead"
            )
        conn.execute("delete from audit.marts_publish_lock where lock_name = %s", (marts,))
        _record_withheld(
            conn,
            dag_run_id,
            holder["shadow"],
            f"lock released by {operator} (missionpulse marts unlock)",
        )
    log.warning(
        "marts publication lock of run %s (day %s) released by %s; %s keeps its published"
        " state, %s stays for inspection",
        dag_run_id,
        holder["day"],
        operator,
        marts,
        holder["shadow"],
    )
    return {"dag_run_id": dag_run_id, "day": holder["day"], "shadow": holder["shadow"]}


def drop_shadows(url: str, days: list[date] | None = None, marts: str = MARTS) -> list[str]:
    """Drop the shadow schemas of ``days`` (all of them when None), once inspected. The
    shadow the lock's holder is building in is never dropped."""
    dropped = []
    for shadow in shadows(url, marts):
        if days is not None and shadow.day not in days:
            continue
        if shadow.locked:
            log.warning("%s is being built by the lock's holder: not dropped", shadow.schema)
            continue
        with db.connect(url) as conn, conn.transaction():
            _serialise(conn)
            held = conn.execute(
                "select 1 from audit.marts_publish_lock where lock_name = %s"
                " and shadow_schema = %s",
                (marts, shadow.schema),
            ).fetchone()
            if held:  # taken since we looked
                continue
            conn.execute(sql.SQL("drop schema {} cascade").format(_ident(shadow.schema)))
        dropped.append(shadow.schema)
    return dropped
