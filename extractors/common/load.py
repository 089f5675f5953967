"""Load landing files into ``raw.<platform>__<entity>`` tables.

A day's partition is replaced inside one transaction (delete, then COPY and a load record
for each of the day's landing files: one, or one per batch of handles), under an advisory
lock on (table, interval): a rerun or a concurrent run of the same day never leaves
duplicates, and a run killed mid-load leaves the previous partition intact.
"""

from __future__ import annotations

import hashlib
import json
import zlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import msgspec
import psycopg
from psycopg import sql

from extractors.common.landing import Manifest
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

    The landing file is read once (checksum checked before anything is parsed) and its rows
    go to ``COPY`` as text built here in large chunks: issue 9 measured the row-by-row
    ``write_row`` path and the ``json.loads`` -> ``json.dumps`` round trip of every payload
    as most of the load's time. The stored rows are the same as that path's (see
    ``copy_rows``).
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
    # every file is read and checked against its manifest before anything is deleted
    compressed = [landing_bytes(manifest) for manifest in manifests]
    interval_start = datetime.fromisoformat(first_start)
    interval_end = datetime.fromisoformat(first_end)
    table = sql.Identifier("raw", spec.table)
    names = ["_interval_start", "_interval_end", "_load_id", "_row_number"]
    names += [k.name for k in spec.keys] + ["payload"]
    copy_stmt = sql.SQL("copy {} ({}) from stdin").format(
        table, sql.SQL(", ").join(map(sql.Identifier, names))
    )
    encoding = conn.info.encoding
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
        for manifest, data in zip(manifests, compressed, strict=True):
            with conn.cursor() as cur, cur.copy(copy_stmt) as copy:
                if encoding == "utf-8":
                    rows = copy_rows(spec, manifest, data, copy.write, transform)
                else:  # the landing file is UTF-8: convert for a connection in another encoding
                    rows = copy_rows(
                        spec,
                        manifest,
                        data,
                        lambda chunk: copy.write(chunk.decode("utf-8").encode(encoding)),
                        transform,
                    )
            if rows != manifest.rows:
                # raised inside the transaction: the partition is left as it was
                raise ValueError(
                    f"landing file {manifest.path} has {rows} rows, manifest says "
                    f"{manifest.rows}; re-extract the day"
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
                    rows,
                    json.dumps(dict(manifest.stats)),
                ),
            )
            loaded += rows
    return loaded


# decompressed bytes handled at a time: a load holds the gzip file and about one block of
# its text (not every record as Python objects), and the server parses one chunk while the
# next is built
_BLOCK = 1 << 20
_decode_json = msgspec.json.Decoder().decode


def landing_bytes(manifest: Manifest) -> bytes:
    """The gzip bytes of the landing file, read once, after checking them against the manifest.

    Checked before anything is parsed or loaded, as ``landing.read_records`` does, and with
    the same error: a changed file is never loaded.
    """
    compressed = manifest.path.read_bytes()
    actual = hashlib.sha256(compressed).hexdigest()
    if actual != manifest.sha256:
        raise ValueError(
            f"landing file {manifest.path} does not match its manifest "
            f"(sha256 {actual[:12]}… != {manifest.sha256[:12]}…): it was changed after "
            "extraction; re-extract the day"
        )
    return compressed


def _decompressed_blocks(manifest: Manifest, compressed: bytes) -> Iterator[bytes]:
    """The landing file's text, about ``_BLOCK`` at a time, cut at line ends.

    A block is whole lines joined by ``\\n``, without the last one's newline, so that
    ``block.split(b"\\n")`` gives its lines. Every gzip member is read, as ``gzip.open``
    does.
    """
    data = compressed
    partial = b""
    try:
        while data:
            inflater = zlib.decompressobj(wbits=31)  # one gzip member
            while not inflater.eof:
                text = partial + inflater.decompress(data, _BLOCK)
                data = inflater.unconsumed_tail
                if len(text) == len(partial) and not data and not inflater.eof:
                    raise zlib.error("the file ends inside a gzip member")
                cut = text.rfind(b"\n")
                if cut < 0:
                    partial = text
                else:
                    partial = text[cut + 1 :]
                    yield text[:cut]
            data = inflater.unused_data.lstrip(b"\0")  # gzip allows zero padding after a member
    except zlib.error as err:
        raise ValueError(
            f"landing file {manifest.path} ({manifest.platform}/{manifest.entity}, day "
            f"{manifest.interval_start[:10]}) is not valid gzip ({err}), though it matches its "
            "manifest: it was landed broken; re-extract the day"
        ) from err
    if partial:
        yield partial


def _copy_text(value: str) -> str:
    """``value`` as a field of COPY's text format."""
    return (
        value.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")
    )


def _copy_bytes(value: bytes) -> bytes:
    """UTF-8 ``value`` as a field of COPY's text format."""
    return (
        value.replace(b"\\", b"\\\\")
        .replace(b"\t", b"\\t")
        .replace(b"\n", b"\\n")
        .replace(b"\r", b"\\r")
    )


_CONTAINERS = (dict, list)  # a tuple: ``dict | list`` would build a union at every call


def _key_field(key: KeyColumn) -> Callable[[Any], str]:
    """``key.extract(record)`` as a COPY text field, as ``write_row`` sent it.

    The steps of ``KeyColumn.extract`` and of the field's formatting in one call per key and
    row: key columns are the largest part of the loader's Python time (about five a row).
    ``test_landing_and_load`` checks that both give the same value.
    """
    path, timestamp = key.path, key.sql_type == "timestamptz"

    def field(record: Any) -> str:
        value = record
        for step in path:
            if not isinstance(value, dict):
                return "\\N"
            value = value.get(step)
        if value is None or isinstance(value, _CONTAINERS):
            return "\\N"
        if timestamp:
            parsed = _timestamp_or_none(value)
            return "\\N" if parsed is None else parsed.isoformat()
        text = str(value)
        if "\\" in text or "\t" in text or "\n" in text or "\r" in text:
            return _copy_text(text)
        return text

    return field


def _dumps(record: Any) -> bytes:
    return json.dumps(record, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def copy_rows(
    spec: EntitySpec,
    manifest: Manifest,
    compressed: bytes,
    write: Callable[[bytes], None],
    transform: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
) -> int:
    """Send the records of ``compressed`` (``landing_bytes``) to ``write`` as COPY text rows
    of ``load_manifest``'s columns, in chunks of about ``_BLOCK``; return their number.

    Each row: the interval, the load id, the row number, the key columns, the payload. The
    payload is the landing line itself: ``landing.write_batch`` wrote it with ``json.dumps``,
    so it is the text that ``json.dumps(json.loads(line))`` gives back and the stored jsonb
    is the same, without that round trip (a hand-made line keeps its numbers as written:
    ``1E5`` is stored as ``100000``, where the round trip made it ``100000.0``). A line the
    strict decoder refuses (``NaN``, a number out of a double's range, a lone surrogate, a
    ``\\r`` line break, a blank line) goes through ``json.loads`` / ``json.dumps`` as
    before, so it is stored, or refused by PostgreSQL, as before.
    """
    head = "\t".join(
        _copy_text(value)
        for value in (
            datetime.fromisoformat(manifest.interval_start).isoformat(),
            datetime.fromisoformat(manifest.interval_end).isoformat(),
            manifest.load_id,
        )
    )
    fields = [_key_field(k) for k in spec.keys]
    number = 0
    line_number = 0
    for block in _decompressed_blocks(manifest, compressed):
        out: list[bytes] = []
        # lines hold no newline: escaping the block escapes each line, in three C calls
        escaped = block.replace(b"\\", b"\\\\").replace(b"\t", b"\\t").replace(b"\r", b"\\r")
        for line, payload in zip(block.split(b"\n"), escaped.split(b"\n"), strict=True):
            line_number += 1
            pairs: Sequence[tuple[Any, bytes | None]]
            try:
                pairs = ((_decode_json(line), payload),)
            except (msgspec.DecodeError, ValueError):
                pairs = _fallback_records(manifest, line, line_number)
            for record, text in pairs:
                number += 1
                if transform is not None:
                    record = transform(record)
                    text = None
                if text is None:
                    text = _copy_bytes(_dumps(record))
                keys = "\t".join([field(record) for field in fields])
                out.append(f"{head}\t{number}\t{keys}\t".encode())
                out.append(text)
                out.append(b"\n")
        if out:
            write(b"".join(out))
    return number


def _fallback_records(
    manifest: Manifest, line: bytes, line_number: int
) -> list[tuple[Any, bytes | None]]:
    """The records of a line the strict decoder refused, read as ``json.loads`` reads them.

    Blank lines are skipped and ``\\r`` splits lines, as in ``gzip.open(..., "rt")``;
    the payload is then ``json.dumps`` of the record (``None`` here), as before.
    """
    records: list[tuple[Any, bytes | None]] = []
    try:
        text = line.decode("utf-8")
        for piece in text.replace("\r\n", "\n").replace("\r", "\n").split("\n"):
            if piece.strip():
                records.append((json.loads(piece), None))
    except ValueError as err:
        raise ValueError(
            f"landing file {manifest.path} line {line_number} ({manifest.platform}/"
            f"{manifest.entity}, day {manifest.interval_start[:10]}) is not a JSON record "
            f"({err}); the file matches its manifest, so it was landed malformed: re-extract "
            "the day"
        ) from err
    return records
