"""``missionpulse backfill``: a range of days through the DAGs, idempotent on rerun.

Two old days, X only (the cheapest platform), twice (the second time under another extract
schedule, ``MISSIONPULSE_EXTRACT_AT=03:30``): the marts must equal the simulator's truth
after the first pass and be identical, row for row, after the second, each day extracted
once per pass; the platforms left out keep no rows for those days.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import psycopg
import pytest

from extractors.common.window import Window
from missionpulse.simulator.truth import truth
from tests.pipeline.support import missionpulse

pytestmark = [pytest.mark.e2e, pytest.mark.integration]

FIRST = datetime.now(UTC).date() - timedelta(days=21)
LAST = FIRST + timedelta(days=1)


def mart_digest(conn: psycopg.Connection, first: date, last: date) -> list[tuple]:
    return conn.execute(
        """
        select platform, activity_date, count(*), sum(posts), sum(comments),
               sum(likes), md5(string_agg(mission_id || ':' || posts || ':' || likes
                                          || ':' || comments, ',' order by mission_id))
        from marts.fct_mission_daily_engagement
        where activity_date between %s and %s
        group by 1, 2 order by 1, 2
        """,
        (first, last),
    ).fetchall()


def test_backfill_two_days_of_one_platform_is_exact_and_idempotent(
    tmp_path: Path, warehouse_url: str, conn: psycopg.Connection, monkeypatch: pytest.MonkeyPatch
) -> None:
    state = tmp_path / "state"
    state.mkdir()
    state.chmod(0o755)
    args = ("backfill", "--from", str(FIRST), "--to", str(LAST), "--platform", "x")

    first = missionpulse(*args, state_dir=state, warehouse_url=warehouse_url)
    assert "2/2 days ok" in first.stdout, first.stdout
    once = mart_digest(conn, FIRST, LAST)
    assert [(row[0], row[1]) for row in once] == [("x", FIRST), ("x", LAST)]
    for row in once:
        expected = truth(row[1])["platforms"]["x"]
        assert row[3] == expected["posts"], (row, expected)

    # the rerun under another extract schedule: a day is the day asked for, whatever the
    # schedule's data intervals (03:30 would make dag.test's inferred interval start the day
    # before)
    monkeypatch.setenv("MISSIONPULSE_EXTRACT_AT", "03:30")
    missionpulse(*args, state_dir=state, warehouse_url=warehouse_url)
    assert mart_digest(conn, FIRST, LAST) == once
    extractions = conn.execute(
        "select interval_start, count(distinct extract_run_id) from audit.extract_runs"
        " where platform = 'x' and interval_start between %s and %s group by 1 order by 1",
        (
            Window.for_day(FIRST - timedelta(days=1)).start,
            Window.for_day(LAST + timedelta(days=1)).start,
        ),
    ).fetchall()
    assert [(start.date(), runs) for start, runs in extractions] == [(FIRST, 2), (LAST, 2)]
    (raw_posts,) = conn.execute(
        "select count(*) from raw.x__posts where _interval_start >= %s and _interval_start < %s",
        (
            Window.for_day(FIRST).start,
            Window.for_day(LAST + timedelta(days=1)).start,
        ),
    ).fetchone()
    assert raw_posts == sum(truth(d)["platforms"]["x"]["posts"] for d in (FIRST, LAST))
