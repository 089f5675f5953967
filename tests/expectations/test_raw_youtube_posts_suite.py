"""The raw YouTube videos suite: hidden counts pass, counts that are not numbers block."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path

import psycopg
import pytest

from expectations.runner import QuarantineError
from extractors.common.landing import write_batch
from extractors.common.load import load_manifest
from extractors.common.window import Window
from extractors.youtube.extract import ENTITIES
from missionpulse import pipeline
from tests.warehouse_support import forget_days

pytestmark = pytest.mark.integration


def video(video_id: str, **statistics: str) -> dict:
    data = {
        "kind": "youtube#video",
        "id": video_id,
        "snippet": {
            "publishedAt": "2026-09-05T12:00:00Z",
            "channelId": "UCKdxjvj_ELWr_D6zXVcHdSI",
            "title": "National Day reception",
        },
        "statistics": {"viewCount": "1200", "favoriteCount": "0", **statistics},
    }
    return {
        "request": {"handle": "PakistanInUK"},
        "observed_at": "2026-09-06T02:00:00+00:00",
        "data": data,
    }


@pytest.fixture(scope="module", autouse=True)
def raw_tables(warehouse_url: str) -> None:
    pipeline.ensure_raw_tables(warehouse_url)  # every youtube suite reads its own table


def posts_result(results: list[dict]) -> dict:
    (result,) = [r for r in results if r["suite"] == "raw__youtube__posts"]
    return result


def load(conn: psycopg.Connection, day: date, records: list[dict], root: Path) -> None:
    manifest = write_batch(root, "youtube", "posts", Window.for_day(day), records)
    load_manifest(conn, ENTITIES["posts"], manifest)


def test_hidden_likes_and_disabled_comments_pass(
    conn: psycopg.Connection, landing_root: Path
) -> None:
    day = date(2026, 9, 5)
    load(conn, day, [video("a", likeCount="30", commentCount="4"), video("b")], landing_root)

    result = posts_result(pipeline.validate_raw("youtube", day))

    assert result["rows"] == 2


def test_a_count_that_is_not_a_number_quarantines_the_day(
    conn: psycopg.Connection, landing_root: Path
) -> None:
    day = date(2026, 9, 5)
    load(conn, day, [video("a", likeCount="lots")], landing_root)

    with pytest.raises(QuarantineError, match="like_count_is_number"):
        pipeline.validate_raw("youtube", day)


@pytest.fixture(scope="module", autouse=True)
def _forget_fixture_days(warehouse_url: str) -> Iterator[None]:
    """Leave no hand-made raw batch behind for the later end-to-end modules."""
    yield
    forget_days(warehouse_url, [date(2026, 9, 5)])
