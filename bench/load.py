"""Raw load throughput: the raw loader against PostgreSQL's own COPY of the same rows.

    .venv/bin/python -m bench.load [--date 2026-11-26] [--state-dir DIR] [--repeat 3]
                                   [--json OUT]

Figures, not a pass/fail test. The day (default the day before yesterday) runs through the
pipeline once if the bench's warehouse (``--state-dir``, default ``$MISSIONPULSE_STATE_DIR``
or a new temporary folder) does not hold it yet. Then, best of ``--repeat``:

- **loader**: ``extractors.common.load.load_manifests`` once per platform and entity with
  all of the day's landing files of it (a day is extracted in batches), as the pipeline's
  load task calls it: one read of each file and its checksum, delete of the old partition,
  gunzip, JSON decode (msgspec), key columns, COPY text rows whose payload is the landing
  line itself, sent with ``COPY ... from stdin`` in chunks of about 1 MiB of landing text,
  the ``audit.raw_loads`` records. (Before 2026-11-29 the bench called ``load_manifest``
  once per landing file, so each batch's load deleted the rows the previous batch of the
  same entity had just copied: work the pipeline never does.)
- **COPY** (the physical reference): the same rows, exported beforehand from the loaded
  raw tables in COPY's text format, sent with ``COPY ... from stdin`` in 1 MiB chunks into
  equivalent tables (``create table ... (like raw.<t> including all)``: same columns,
  defaults and indexes) in the schema ``bench_load``.

Each repeat runs in a transaction that is rolled back, so the warehouse is left as it was
and neither side pays the commit's WAL flush; the tables it wrote to are vacuumed after it,
so that its dead rows do not slow the next repeat. The ratio loader / COPY is the figure
(issue 9's target: at least 0.5). To say where the loader's time goes, its Python-only
steps are also timed alone: reading the landing files (one read, checksum) and building
the COPY text (gunzip, JSON decode, key columns, escaping; no database).
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib
import io
import json
import sys
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

from bench.common import (
    day_start,
    ensure_day,
    log,
    machine_load,
    state_dir,
    warehouse_url,
)
from extractors.common.landing import Manifest
from extractors.common.load import EntitySpec, copy_rows, landing_bytes, load_manifests

CHUNK = 1 << 20
LOAD_COLUMNS = ["_interval_start", "_interval_end", "_load_id", "_row_number"]


@dataclasses.dataclass
class Batch:
    spec: EntitySpec
    manifest: Manifest
    columns: list[str]
    copy_text: bytes = b""


def day_batches(conn: psycopg.Connection[Any], day: date) -> list[Batch]:
    """The day's current landing files (one per platform and entity) with their specs."""
    rows = conn.execute(
        "select platform, entity, landing_file from audit.raw_loads"
        " where interval_start = %s and superseded_by is null order by platform, entity",
        (day_start(day),),
    ).fetchall()
    batches = []
    for platform, entity, landing_file in rows:
        spec = importlib.import_module(f"extractors.{platform}").ENTITIES[entity]
        manifest = Manifest.read(Path(landing_file.removesuffix(".jsonl.gz") + ".manifest.json"))
        columns = LOAD_COLUMNS + [k.name for k in spec.keys] + ["payload"]
        batches.append(Batch(spec, manifest, columns))
    return batches


def export_copy_text(conn: psycopg.Connection[Any], batch: Batch) -> None:
    """The loaded rows of the batch, in COPY's text format, as PostgreSQL writes them."""
    buffer = io.BytesIO()
    query = sql.SQL(
        "copy (select {cols} from {t} where _load_id = {load_id} order by _row_number) to stdout"
    ).format(
        cols=sql.SQL(", ").join(map(sql.Identifier, batch.columns)),
        t=sql.Identifier("raw", batch.spec.table),
        load_id=sql.Literal(batch.manifest.load_id),
    )
    with conn.cursor() as cur, cur.copy(query) as copy:
        for data in copy:
            buffer.write(data)
    batch.copy_text = buffer.getvalue()
    exported = batch.copy_text.count(b"\n")
    if exported != batch.manifest.rows:
        sys.exit(
            f"raw.{batch.spec.table} holds {exported} rows of load {batch.manifest.load_id},"
            f" its landing file {batch.manifest.rows}: rerun the day"
        )


def by_entity(batches: list[Batch]) -> list[tuple[EntitySpec, list[Manifest]]]:
    """The batches grouped per platform and entity, as the pipeline loads them."""
    groups: dict[tuple[str, str], tuple[EntitySpec, list[Manifest]]] = {}
    for batch in batches:
        key = (batch.spec.platform, batch.spec.entity)
        groups.setdefault(key, (batch.spec, []))[1].append(batch.manifest)
    return list(groups.values())


def time_loader(conn: psycopg.Connection[Any], batches: list[Batch], repeat: int) -> float:
    """Best wall seconds of loading every batch with the raw loader (rolled back)."""
    best = float("inf")
    for k in range(repeat):
        # inside an open transaction, load_manifests' own transaction() is a savepoint:
        # the rollback below undoes it
        conn.execute("select 1")
        started = time.perf_counter()
        for spec, manifests in by_entity(batches):
            # fresh load ids: the audit records' key must not collide with the real load
            load_manifests(
                conn,
                spec,
                [dataclasses.replace(m, load_id=f"{m.load_id}~bench{k}") for m in manifests],
            )
        best = min(best, time.perf_counter() - started)
        conn.rollback()
        vacuum(conn, [sql.Identifier("raw", b.spec.table) for b in batches])
    return best


def time_copy(conn: psycopg.Connection[Any], batches: list[Batch], repeat: int) -> float:
    """Best wall seconds of COPY of the same rows into the equivalent tables (rolled back)."""
    conn.execute("create schema if not exists bench_load")
    for batch in batches:
        conn.execute(
            sql.SQL("create table if not exists {} (like {} including all)").format(
                sql.Identifier("bench_load", batch.spec.table),
                sql.Identifier("raw", batch.spec.table),
            )
        )
    conn.commit()
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        for batch in batches:
            statement = sql.SQL("copy {} ({}) from stdin").format(
                sql.Identifier("bench_load", batch.spec.table),
                sql.SQL(", ").join(map(sql.Identifier, batch.columns)),
            )
            with conn.cursor() as cur, cur.copy(statement) as copy:
                view = memoryview(batch.copy_text)
                for offset in range(0, len(view), CHUNK):
                    copy.write(view[offset : offset + CHUNK])
        best = min(best, time.perf_counter() - started)
        conn.rollback()
        vacuum(conn, [sql.Identifier("bench_load", b.spec.table) for b in batches])
    return best


def vacuum(conn: psycopg.Connection[Any], tables: list[sql.Identifier]) -> None:
    """VACUUM the tables a repeat wrote to, once it is rolled back.

    Its rows stay behind as dead tuples. On the bench's warehouse, which holds few days, the
    loader's delete of the day is a sequential scan: without this, every repeat (and every
    earlier run of the bench) would make the next loader figure slower, and COPY's not.
    """
    conn.autocommit = True  # VACUUM cannot run inside a transaction
    try:
        for table in tables:
            conn.execute(sql.SQL("vacuum {}").format(table))
    finally:
        conn.autocommit = False


def time_python_steps(batches: list[Batch], repeat: int) -> tuple[float, float]:
    """Best seconds of the loader's Python-only steps: reading files, building COPY text."""
    best_read = best_shape = float("inf")
    for _ in range(repeat):
        read_s = shape_s = 0.0
        for batch in batches:
            started = time.perf_counter()
            compressed = landing_bytes(batch.manifest)
            read_s += time.perf_counter() - started
            started = time.perf_counter()
            chunks: list[bytes] = []
            copy_rows(batch.spec, batch.manifest, compressed, chunks.append)
            shape_s += time.perf_counter() - started
            del chunks
        best_read, best_shape = min(best_read, read_s), min(best_shape, shape_s)
    return best_read, best_shape


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--date",
        type=date.fromisoformat,
        default=datetime.now(UTC).date() - timedelta(days=2),
    )
    parser.add_argument("--state-dir", type=Path, default=None)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)
    state = state_dir(args.state_dir, "missionpulse-bench-load-")
    url = warehouse_url(state)
    ensure_day(state, url, args.date)
    with psycopg.connect(url, application_name="missionpulse-bench-load") as conn:
        batches = day_batches(conn, args.date)
        for batch in batches:
            export_copy_text(conn, batch)
        conn.commit()
        vacuum(conn, [sql.Identifier("raw", b.spec.table) for b in batches])
        rows = sum(b.manifest.rows for b in batches)
        copy_bytes = sum(len(b.copy_text) for b in batches)
        log(f"{args.date}: {len(batches)} landing files, {rows} rows, {copy_bytes >> 20} MiB")
        # alternate, so that both see the same state of the machine
        loader_s = time_loader(conn, batches, 1)
        copy_s = time_copy(conn, batches, 1)
        loader_s = min(loader_s, time_loader(conn, batches, args.repeat))
        copy_s = min(copy_s, time_copy(conn, batches, args.repeat))
    read_s, shape_s = time_python_steps(batches, args.repeat)
    ratio = copy_s / loader_s
    print()
    print(
        f"Raw load of {args.date}: {rows} rows in {len(batches)} landing files,"
        f" {copy_bytes / 2**20:.1f} MiB as COPY text (best of {args.repeat})"
    )
    print(f"machine: {machine_load()}")
    print(f"{'':<44} {'seconds':>8} {'rows/s':>9} {'MiB/s':>7}")
    for label, seconds in (
        ("raw loader (load_manifests)", loader_s),
        ("PostgreSQL COPY of the same rows", copy_s),
    ):
        print(
            f"{label:<44} {seconds:>8.2f} {rows / seconds:>9.0f}"
            f" {copy_bytes / 2**20 / seconds:>7.1f}"
        )
    print(f"ratio loader / COPY throughput: {ratio:.2f} (target >= 0.5)")
    print("where the loader's time goes:")
    rest = loader_s - read_s - shape_s
    for label, seconds in (
        ("  read landing files (one read, sha256)", read_s),
        ("  COPY text (gunzip, decode, key columns)", shape_s),
        ("  database (delete, COPY, audit)", rest),
    ):
        print(f"{label:<52} {seconds:>6.2f} s {seconds / loader_s:>6.1%}")
    result = {
        "day": args.date.isoformat(),
        "rows": rows,
        "files": len(batches),
        "copy_text_bytes": copy_bytes,
        "loader_s": loader_s,
        "copy_s": copy_s,
        "ratio": ratio,
        "read_s": read_s,
        "shape_s": shape_s,
        "database_s": rest,
        "machine": machine_load(),
    }
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))
    return result


if __name__ == "__main__":
    main()
