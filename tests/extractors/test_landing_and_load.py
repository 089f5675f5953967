"""Landing files (checksums, atomic names) and the raw loader (replace, never duplicate)."""

from __future__ import annotations

import gzip
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import psycopg
import pytest

from extractors.common.landing import Manifest, read_records, write_batch
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


@pytest.fixture(scope="module", autouse=True)
def _forget_fixture_days(warehouse_url: str) -> Iterator[None]:
    """Leave no hand-made raw batch behind for the later end-to-end modules."""
    yield
    forget_days(
        warehouse_url,
        [date(2026, 11, 20), date(2026, 11, 21), date(2026, 11, 22), date(2026, 11, 23)],
    )
