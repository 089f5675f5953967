"""The raw X posts suite: clean batches pass, each kind of bad row blocks publication."""

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
from extractors.x.extract import ENTITIES
from missionpulse import pipeline
from tests.warehouse_support import forget_days

pytestmark = pytest.mark.integration


def post(post_id: str | None, handle: str = "PakinUSA", **overrides: object) -> dict:
    data = {
        "id": post_id,
        "text": "National Day reception",
        "created_at": "2026-10-05T12:00:00.000Z",
        "public_metrics": {"like_count": 3, "retweet_count": 1, "reply_count": 0, "quote_count": 0},
    }
    data.update(overrides)
    return {"request": {"handle": handle}, "observed_at": "2026-10-06T02:00:00+00:00", "data": data}


@pytest.fixture(scope="module", autouse=True)
def raw_tables(warehouse_url: str) -> None:
    pipeline.ensure_raw_tables(warehouse_url)  # every x suite reads its own table


def posts_result(results: list[dict]) -> dict:
    (result,) = [r for r in results if r["suite"] == "raw__x__posts"]
    return result


def load(conn: psycopg.Connection, day: date, records: list[dict], root: Path) -> None:
    manifest = write_batch(root, "x", "posts", Window.for_day(day), records)
    load_manifest(conn, ENTITIES["posts"], manifest)


def test_clean_batch_passes_and_is_recorded(conn: psycopg.Connection, landing_root: Path) -> None:
    day = date(2026, 10, 5)
    load(conn, day, [post("1"), post("2")], landing_root)

    result = posts_result(pipeline.validate_raw("x", day, dag_run_id="test-run"))

    assert result["rows"] == 2
    passed, failed = conn.execute(
        "select count(*) filter (where r.success), count(*) filter (where not r.success) "
        "from audit.dq_results r join audit.dq_runs d using (dq_run_id) where d.dq_run_id = %s",
        (result["dq_run_id"],),
    ).fetchone()
    assert passed > 10 and failed == 0  # passes are recorded too


@pytest.mark.parametrize(
    "bad,expectation",
    [
        (post(None), "post_id_not_null"),
        (post("1"), "post_id_unique"),
        (post("9", handle="NotOurHandle"), "handle_in_registry"),
        (post("9", created_at="2026-10-07T01:00:00Z"), "created_at_in_interval"),
        (post("9", created_at="last tuesday"), "created_at_parses"),
        (
            post(
                "9",
                public_metrics={
                    "like_count": -4,
                    "retweet_count": 0,
                    "reply_count": 0,
                    "quote_count": 0,
                },
            ),
            "like_count_non_negative",
        ),
        (
            post(
                "9",
                public_metrics={
                    "like_count": "lots",
                    "retweet_count": 0,
                    "reply_count": 0,
                    "quote_count": 0,
                },
            ),
            "like_count_is_number",
        ),
    ],
)
def test_bad_rows_quarantine_the_day_with_a_clear_message(
    conn: psycopg.Connection, landing_root: Path, bad: dict, expectation: str
) -> None:
    day = date(2026, 10, 6)
    good = post("1", created_at="2026-10-06T09:00:00Z")
    if bad["data"]["created_at"] == "2026-10-05T12:00:00.000Z":
        bad["data"]["created_at"] = "2026-10-06T10:00:00Z"
    load(conn, day, [good, bad], landing_root)

    with pytest.raises(QuarantineError) as info:
        pipeline.validate_raw("x", day)

    message = str(info.value)
    assert expectation in message
    assert "raw__x__posts on x/posts 2026-10-06" in message
    assert "quarantined" in message
    (recorded,) = conn.execute(
        "select count(*) from audit.dq_results r join audit.dq_runs d using (dq_run_id) "
        "where d.batch_date = %s and r.expectation_name = %s and not r.success",
        (day, expectation),
    ).fetchone()
    assert recorded >= 1


@pytest.fixture(scope="module", autouse=True)
def _forget_fixture_days(warehouse_url: str) -> Iterator[None]:
    """Leave no hand-made raw batch behind for the later end-to-end modules."""
    yield
    forget_days(warehouse_url, [date(2026, 10, 5), date(2026, 10, 6)])
