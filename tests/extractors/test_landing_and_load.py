"""Landing files (checksums, atomic names) and the raw loader (replace, never duplicate)."""

from __future__ import annotations

import gzip
import json
import uuid
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import psycopg
import pytest

from extractors.common.landing import Manifest, read_records, sha256_of, write_batch
from extractors.common.load import EntitySpec, KeyColumn, load_manifest, load_manifests
from extractors.common.window import Window
from tests.warehouse_support import forget_days

WINDOW = Window.for_day(date(2026, 11, 20))
SPEC = EntitySpec(
    "testplat",
    "posts",
    [
        KeyColumn("handle", "text", ("request", "handle")),
        KeyColumn("post_id", "text", ("data", "id")),
        KeyColumn("created_at", "timestamptz", ("data", "created_at")),
    ],
)


def records(handle: str, n: int, prefix: str = "p") -> list[dict]:
    return [
        {
            "request": {"handle": handle},
            "data": {"id": f"{prefix}{i}", "created_at": "2026-11-20T10:00:00Z", "text": "héllo"},
        }
        for i in range(n)
    ]


def test_landing_file_is_deterministic_and_checked(landing_root: Path) -> None:
    first = write_batch(landing_root, "testplat", "posts", WINDOW, records("a", 3))
    second = write_batch(landing_root, "testplat", "posts", WINDOW, records("a", 3))

    assert first.rows == 3 and first.sha256 == second.sha256  # gzip carries no timestamp
    assert first.load_id != second.load_id
    assert first.path.parent == landing_root / "testplat" / "posts" / "dt=2026-11-20"
    assert Manifest.read(first.path.with_name(f"{first.load_id}.manifest.json")) == first
    assert read_records(first)[0]["data"]["text"] == "héllo"
    assert not list(first.path.parent.glob(".*.tmp"))


def test_tampered_landing_file_is_refused(landing_root: Path) -> None:
    manifest = write_batch(landing_root, "testplat", "posts", WINDOW, records("a", 2))
    with gzip.open(manifest.path, "wt") as handle:
        handle.write('{"data": {"id": "forged"}}\n')

    with pytest.raises(ValueError, match="does not match its manifest"):
        read_records(manifest)


@pytest.mark.integration
def test_rerun_replaces_the_partition(conn: psycopg.Connection, landing_root: Path) -> None:
    for _ in range(3):
        manifest = write_batch(landing_root, "testplat", "posts", WINDOW, records("a", 5))
        assert load_manifest(conn, SPEC, manifest) == 5

    count, loads = conn.execute(
        "select count(*), count(distinct _load_id) from raw.testplat__posts "
        "where _interval_start = %s",
        (WINDOW.start,),
    ).fetchone()
    assert (count, loads) == (5, 1)
    superseded = conn.execute(
        "select count(*) filter (where superseded_by is not null), count(*) "
        "from audit.raw_loads where platform = 'testplat'"
    ).fetchone()
    assert superseded[1] - superseded[0] == 1  # exactly one live load for the partition


@pytest.mark.integration
def test_batches_replace_the_partition_together(
    conn: psycopg.Connection, landing_root: Path
) -> None:
    """A day extracted in batches (one landing file each) is one partition: a rerun with
    other batches replaces all of it, and the previous files are marked superseded."""
    day = Window.for_day(date(2026, 11, 23))

    def live() -> tuple[dict[str, int], int]:
        rows = dict(
            conn.execute(
                "select handle, count(*) from raw.testplat__posts where _interval_start = %s "
                "group by handle",
                (day.start,),
            ).fetchall()
        )
        (loads,) = conn.execute(
            "select count(*) from audit.raw_loads where platform = 'testplat' "
            "and interval_start = %s and superseded_by is null",
            (day.start,),
        ).fetchone()
        return rows, loads

    first = [write_batch(landing_root, "testplat", "posts", day, records(h, 2, h)) for h in "abc"]
    assert load_manifests(conn, SPEC, first) == 6
    assert live() == ({"a": 2, "b": 2, "c": 2}, 3)

    again = [write_batch(landing_root, "testplat", "posts", day, records("a", 1, "a"))]
    again.append(write_batch(landing_root, "testplat", "posts", day, records("b", 4, "b")))
    assert load_manifests(conn, SPEC, again) == 5
    assert live() == ({"a": 1, "b": 4}, 2)  # c is gone: the day is what the rerun landed


def test_batches_of_different_days_are_refused(landing_root: Path) -> None:
    other = Window.for_day(date(2026, 11, 24))
    manifests = [
        write_batch(landing_root, "testplat", "posts", WINDOW, records("a", 1)),
        write_batch(landing_root, "testplat", "posts", other, records("b", 1)),
    ]
    with pytest.raises(ValueError, match="cover 2 intervals"):
        load_manifests(None, SPEC, manifests)  # type: ignore[arg-type]


@pytest.mark.integration
def test_failed_handles_keep_their_previous_rows(
    conn: psycopg.Connection, landing_root: Path
) -> None:
    day = Window.for_day(date(2026, 11, 21))
    full = write_batch(
        landing_root, "testplat", "posts", day, records("a", 2) + records("b", 3, "q")
    )
    load_manifest(conn, SPEC, full)
    partial = write_batch(landing_root, "testplat", "posts", day, records("a", 4))

    load_manifest(conn, SPEC, partial, keep_handles=["b"])

    rows = dict(
        conn.execute(
            "select handle, count(*) from raw.testplat__posts where _interval_start = %s "
            "group by handle",
            (day.start,),
        ).fetchall()
    )
    assert rows == {"a": 4, "b": 3}


@pytest.mark.integration
def test_bad_timestamps_land_with_an_empty_typed_column(
    conn: psycopg.Connection, landing_root: Path
) -> None:
    day = Window.for_day(date(2026, 11, 22))
    bad = records("a", 1)
    bad[0]["data"]["created_at"] = "yesterday-ish"
    load_manifest(conn, SPEC, write_batch(landing_root, "testplat", "posts", day, bad))

    created, raw_value = conn.execute(
        "select created_at, payload -> 'data' ->> 'created_at' from raw.testplat__posts "
        "where _interval_start = %s",
        (day.start,),
    ).fetchone()
    assert created is None and raw_value == "yesterday-ish"


EDGE = EntitySpec(
    "testplat",
    "edge",
    [
        KeyColumn("handle", "text", ("request", "handle")),
        KeyColumn("post_id", "text", ("data", "id")),
        KeyColumn("created_at", "timestamptz", ("data", "created_at")),
    ],
)


def hand_made_file(root: Path, day: Window, members: list[bytes], rows: int) -> Manifest:
    """A landing file written byte for byte (gzip members concatenated), with its manifest."""
    folder = root / "testplat" / "edge" / f"dt={day.day.isoformat()}"
    folder.mkdir(parents=True, exist_ok=True)
    load_id = f"hand-made-{uuid.uuid4().hex[:8]}"
    path = folder / f"{load_id}.jsonl.gz"
    path.write_bytes(b"".join(gzip.compress(member, mtime=0) for member in members))
    return Manifest(
        platform="testplat",
        entity="edge",
        load_id=load_id,
        interval_start=day.start.isoformat(),
        interval_end=day.end.isoformat(),
        rows=rows,
        sha256=sha256_of(path),
        data_file=str(path),
        created_at=day.end.isoformat(),
        stats={},
    )


def stored(conn: psycopg.Connection, load_id: str) -> list[tuple]:
    return conn.execute(
        "select handle, post_id, created_at, payload::text from raw.testplat__edge "
        "where _load_id = %s order by _row_number",
        (load_id,),
    ).fetchall()


def as_before(conn: psycopg.Connection, record: object, line: str | None = None) -> tuple:
    """The row the row-by-row loader stored: ``KeyColumn.extract``, jsonb of ``json.dumps``.

    For a line not written by ``write_batch`` (``line``), the payload is the jsonb of the
    line as written: a number spelled ``1E5`` stays ``100000``, not ``json.dumps``'s
    ``100000.0``.
    """
    payload = line or json.dumps(record, ensure_ascii=False, separators=(",", ":"))
    (jsonb_text,) = conn.execute("select %s::jsonb::text", (payload,)).fetchone()
    keys = [k.extract(record) if isinstance(record, dict) else None for k in EDGE.keys]
    return (*keys, jsonb_text)


@pytest.mark.integration
def test_awkward_records_are_stored_as_the_row_by_row_loader_stored_them(
    conn: psycopg.Connection, landing_root: Path
) -> None:
    awkward: list[object] = [
        {
            "request": {"handle": "a\\b\tc\nd\re"},
            "data": {
                "id": 12345678901234567890123,
                "created_at": "2026-11-20T10:00:00.123456+05:30",
                "text": 'back\\slash "quote" tab\t nl\n cr\r é 😀 \u2028 \x01 \x7f \\N',
                "big": 1.5e300,
                "small": 5e-324,
                "neg": -0.0,
                "list": [1, [2, {"z": None}]],
            },
        },
        {"request": {"handle": "b"}, "data": {"id": True, "created_at": "not a time"}},
        {"request": {"handle": None}, "data": {"id": 1.0, "created_at": 1700000000}},
        {"request": {"handle": ["x"]}, "data": {"id": {"nested": 1}}},
        {"request": "flat", "data": None},
        {},
        [1, 2],
        "just a string",
    ]
    manifest = write_batch(landing_root, "testplat", "edge", WINDOW, awkward)

    assert load_manifest(conn, EDGE, manifest) == len(awkward)

    assert stored(conn, manifest.load_id) == [as_before(conn, r) for r in awkward]


@pytest.mark.integration
def test_hand_made_lines_are_read_as_gzip_open_reads_them(
    conn: psycopg.Connection, landing_root: Path
) -> None:
    # blank lines skipped, \r and \r\n end lines, escapes and spacing as written, two gzip
    # members, and a last line without a newline
    members = [
        b'{"request": {"handle": "a"}, "data": {"id": "1"}}\r{"data":{"id":"2"}}\n\n  \n',
        b'{"data":{"text":"\\u00e9\\/\\t"}, "data2": 1E5}\r\n{"data":{"id":"4","id":"5"}}',
    ]
    manifest = hand_made_file(landing_root, WINDOW, members, rows=4)

    assert load_manifest(conn, EDGE, manifest) == 4

    lines = [
        line
        for member in members
        for line in member.decode().replace("\r\n", "\n").replace("\r", "\n").split("\n")
        if line.strip()
    ]
    assert stored(conn, manifest.load_id) == [as_before(conn, json.loads(x), x) for x in lines]


@pytest.mark.integration
def test_a_transform_gives_the_keys_and_the_payload(
    conn: psycopg.Connection, landing_root: Path
) -> None:
    def renamed(record: dict) -> dict:
        return {**record, "request": {"handle": record["request"]["handle"].upper()}}

    manifest = write_batch(landing_root, "testplat", "edge", WINDOW, records("a", 2))

    assert load_manifest(conn, EDGE, manifest, transform=renamed) == 2

    expected = [as_before(conn, renamed(r)) for r in records("a", 2)]
    assert stored(conn, manifest.load_id) == expected
    assert expected[0][0] == "A"


@pytest.mark.integration
def test_a_malformed_line_is_refused_naming_it_and_the_partition_stays(
    conn: psycopg.Connection, landing_root: Path
) -> None:
    day = Window.for_day(date(2026, 11, 21))
    good = write_batch(landing_root, "testplat", "edge", day, records("a", 2))
    load_manifest(conn, EDGE, good)
    conn.commit()
    broken = hand_made_file(
        landing_root, day, [b'{"data": {"id": "1"}}\n{"data": {"id": "2"\n'], rows=2
    )
    short = hand_made_file(landing_root, day, [b'{"data": {"id": "1"}}\n'], rows=2)

    with pytest.raises(ValueError) as refused:
        load_manifest(conn, EDGE, broken)
    conn.rollback()
    with pytest.raises(ValueError, match="has 1 rows, manifest says 2; re-extract the day"):
        load_manifest(conn, EDGE, short)
    conn.rollback()

    message = str(refused.value)
    assert str(broken.path) in message and "line 2 " in message
    assert "testplat/edge" in message and "2026-11-21" in message
    assert "re-extract the day" in message
    assert [r[1] for r in stored(conn, good.load_id)] == ["p0", "p1"]
    assert conn.execute(
        "select load_id from audit.raw_loads where platform = 'testplat' and entity = 'edge' "
        "and interval_start = %s and superseded_by is null",
        (day.start,),
    ).fetchall() == [(good.load_id,)]


@pytest.mark.integration
def test_a_short_batch_leaves_the_whole_day_as_it_was(
    conn: psycopg.Connection, landing_root: Path
) -> None:
    """The batched load goes through the same checked COPY path: one bad batch file and
    the good batches before it are rolled back together."""
    day = Window.for_day(date(2026, 11, 22))
    good = write_batch(landing_root, "testplat", "edge", day, records("a", 2))
    load_manifest(conn, EDGE, good)
    conn.commit()
    rerun = write_batch(landing_root, "testplat", "edge", day, records("b", 3))
    short = hand_made_file(landing_root, day, [b'{"data": {"id": "1"}}\n'], rows=2)

    with pytest.raises(ValueError, match="has 1 rows, manifest says 2; re-extract the day"):
        load_manifests(conn, EDGE, [rerun, short])
    conn.rollback()

    assert [r[1] for r in stored(conn, good.load_id)] == ["p0", "p1"]
    assert stored(conn, rerun.load_id) == []
    assert conn.execute(
        "select load_id from audit.raw_loads where platform = 'testplat' and entity = 'edge' "
        "and interval_start = %s and superseded_by is null",
        (day.start,),
    ).fetchall() == [(good.load_id,)]


@pytest.fixture(scope="module", autouse=True)
def _forget_fixture_days(warehouse_url: str) -> Iterator[None]:
    """Leave no hand-made raw batch behind for the later end-to-end modules."""
    yield
    forget_days(
        warehouse_url,
        [date(2026, 11, 20), date(2026, 11, 21), date(2026, 11, 22), date(2026, 11, 23)],
    )
