"""Load landing files into ``raw.<platform>__<entity>`` tables.

A day's partition is replaced inside one transaction (delete, then COPY and a load record
for each of the day's landing files: one, or one per batch of handles), under an advisory
lock on (table, interval): a rerun or a concurrent run of the same day never leaves
duplicates, and a run killed mid-load leaves the previous partition intact.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg
from psycopg import sql

from extractors.common.landing import Manifest, read_records
from extractors.common.window import parse_rfc3339


@dataclass(frozen=True)
class KeyColumn:
    """A typed column lifted out of the JSON payload so that SQL can find rows fast."""

    name: str
    sql_type: str  # "text" or "timestamptz"
    path: tuple[str, ...]

    def extract(self, record: dict[str, Any]) -> Any:
        value: Any = record
        for step in self.path:
            if not isinstance(value, dict):
                return None
            value = value.get(step)
        if value is None or isinstance(value, dict | list):
            return None
        if self.sql_type == "timestamptz":
            return _timestamp_or_none(value)
        return str(value)


@dataclass(frozen=True)
class EntitySpec:
    platform: str
    entity: str
    keys: Sequence[KeyColumn]
    description: str = ""

    @property
    def table(self) -> str:
        return f"{self.platform}__{self.entity}"


def _timestamp_or_none(value: Any) -> datetime | None:
    # Bad timestamps stay in the payload for the data-quality run to report; the typed
    # column is left empty rather than failing the load and losing the batch.
    try:
        return parse_rfc3339(str(value))
    except ValueError:
        return None


META_COLUMNS = (
    ("_interval_start", "timestamptz not null"),
    ("_interval_end", "timestamptz not null"),
    ("_load_id", "text not null"),
    ("_loaded_at", "timestamptz not null default now()"),
    ("_row_number", "integer not null"),
)


def ensure_table(conn: psycopg.Connection[Any], spec: EntitySpec) -> None:
    table = sql.Identifier("raw", spec.table)
    columns: list[sql.Composable] = [
        sql.SQL("{} {}").format(sql.Identifier(n), sql.SQL(t)) for n, t in META_COLUMNS
    ]
    columns += [
        sql.SQL("{} {}").format(sql.Identifier(k.name), sql.SQL(k.sql_type)) for k in spec.keys
    ]
    columns.append(sql.SQL("payload jsonb not null"))
    conn.execute(
        sql.SQL("create table if not exists {} ({})").format(table, sql.SQL(", ").join(columns))
    )
    conn.execute(
        sql.SQL("create index if not exists {} on {} (_interval_start)").format(
            sql.Identifier(f"{spec.table}__interval_idx"), table
        )
    )
    if spec.description:
        conn.execute(
            sql.SQL("comment on table {} is {}").format(table, sql.Literal(spec.description))
        )


def load_manifest(
    conn: psycopg.Connection[Any],
    spec: EntitySpec,
    manifest: Manifest,
    *,
    transform: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
    keep_handles: Sequence[str] = (),
) -> int:
    """Replace the manifest's (platform, entity, interval) partition with its records.

    Rows of ``keep_handles`` (handles whose extraction failed this time) are kept from the
    previous load instead of being dropped, so a failed handle never loses data it had.
    """
    return load_manifests(conn, spec, [manifest], transform=transform, keep_handles=keep_handles)


def load_manifests(
    conn: psycopg.Connection[Any],
    spec: EntitySpec,
    manifests: Sequence[Manifest],
    *,
    transform: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
    keep_handles: Sequence[str] = (),
) -> int:
    """Replace one (platform, entity, interval) partition with the records of all
    ``manifests`` (the landing files of a day extracted in batches), in one transaction.

    Every manifest must be for the same interval. ``keep_handles`` as for
    :func:`load_manifest`. Returns the number of rows loaded.
    """
    if not manifests:
        raise ValueError(f"no landing files to load into raw.{spec.table}")
    for manifest in manifests:
        if (manifest.platform, manifest.entity) != (spec.platform, spec.entity):
            raise ValueError(
                f"manifest {manifest.load_id} is {manifest.platform}/{manifest.entity}, "
                f"not {spec.platform}/{spec.entity}"
            )
    intervals = {(m.interval_start, m.interval_end) for m in manifests}
    if len(intervals) != 1:
        raise ValueError(
            f"landing files for raw.{spec.table} cover {len(intervals)} intervals "
            f"({', '.join(sorted(s for s, _ in intervals))}): load one day at a time"
        )
    ((first_start, first_end),) = intervals
    interval_start = datetime.fromisoformat(first_start)
    interval_end = datetime.fromisoformat(first_end)
    table = sql.Identifier("raw", spec.table)
    names = ["_interval_start", "_interval_end", "_load_id", "_row_number"]
    names += [k.name for k in spec.keys] + ["payload"]
    copy_stmt = sql.SQL("copy {} ({}) from stdin").format(
        table, sql.SQL(", ").join(map(sql.Identifier, names))
    )
    loaded = 0
    with conn.transaction():
        ensure_table(conn, spec)
        conn.execute(
            "select pg_advisory_xact_lock(hashtext(%s), hashtext(%s))",
            (spec.table, first_start),
        )
        conn.execute(
            sql.SQL(
                "delete from {} where _interval_start = %s and not (coalesce(handle, '') = any(%s))"
            ).format(table),
            (interval_start, [h for h in keep_handles]),
        )
        # the day's previous loads are superseded by this one (named by its first file)
        conn.execute(
            """
            update audit.raw_loads set superseded_by = %s
            where platform = %s and entity = %s and interval_start = %s
              and superseded_by is null
            """,
            (manifests[0].load_id, spec.platform, spec.entity, interval_start),
        )
        for manifest in manifests:
            records = read_records(manifest)
            with conn.cursor() as cur, cur.copy(copy_stmt) as copy:
                for number, record in enumerate(records, start=1):
                    row = transform(record) if transform else record
                    copy.write_row(
                        [interval_start, interval_end, manifest.load_id, number]
                        + [k.extract(row) for k in spec.keys]
                        + [json.dumps(row, ensure_ascii=False, separators=(",", ":"))]
                    )
            conn.execute(
                """
                insert into audit.raw_loads
                  (load_id, platform, entity, interval_start, interval_end, landing_file,
                   sha256, rows, request_stats)
                values (%s, %s, %s, %s, %s, %s, %s, %s, %s)
                """,
                (
                    manifest.load_id,
                    spec.platform,
                    spec.entity,
                    interval_start,
                    interval_end,
                    manifest.data_file,
                    manifest.sha256,
                    len(records),
                    json.dumps(dict(manifest.stats)),
                ),
            )
            loaded += len(records)
    return loaded
