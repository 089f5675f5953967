"""What keeps one more day's dbt work independent of the history (issue 9), on small raw
data: a daily run's data tests read the partitions it rebuilds (macros/test_where.sql),
while a full build still tests everything; the latest profile observation per handle is
kept incrementally (int_handle_profile_observations_latest) and agrees with a rebuild from
all history. bench/dbt_incremental.py measures the cost itself."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import date, timedelta
from typing import Any

import psycopg
import pytest

from extractors.common.window import Window

pytestmark = pytest.mark.integration

DbtRunner = Callable[..., Any]  # the `dbt` fixture (tests/marts/conftest.py)
RawX = Any  # the `raw_x` fixture's writer

# days of their own, far from the other mart modules' (March 2025) and the pipeline's
OLD, NEW = date(2025, 5, 5), date(2025, 5, 7)  # two days apart: NEW's restated day is not OLD
PROBE = "H4ProbeHandle"  # in no registry: only int_handle_profile_observations_latest keeps it
LATEST = "marts.int_handle_profile_observations_latest"


def day_vars(day: date) -> dict[str, str]:
    return {
        "start_date": day.isoformat(),
        "end_date": (day + timedelta(days=1)).isoformat(),
        "extracted_platforms": "x",
    }


def profile(name: str) -> dict[str, Any]:
    return {
        "id": "4000000000000000001",
        "username": PROBE,
        "name": name,
        "description": "probe",
        "public_metrics": {"followers_count": 1, "following_count": 1, "tweet_count": 1},
        "avatar": None,
    }


@pytest.fixture()
def probe_days(raw_x: RawX, warehouse_url: str) -> Iterator[RawX]:
    """raw_x; the probe's days are removed from raw, audit and the kept latest afterwards."""
    yield raw_x
    with psycopg.connect(warehouse_url, autocommit=True) as conn:
        for day in (OLD, NEW):
            for table in ("x__profiles", "x__posts"):
                conn.execute(
                    f"delete from raw.{table} where _interval_start = %s",
                    (Window.for_day(day).start,),
                )
            conn.execute(
                "delete from audit.dq_runs where dq_run_id = %s", (f"test-x-{day:%Y%m%d}",)
            )
        if conn.execute(f"select to_regclass('{LATEST}')").fetchone()[0]:  # type: ignore[index]
            conn.execute(f"delete from {LATEST} where handle = %s", (PROBE.lower(),))


def test_a_daily_run_tests_its_own_partitions_and_a_full_build_everything(
    dbt: DbtRunner, probe_days: RawX, warehouse_url: str
) -> None:
    probe_days.day(OLD, [profile("old")], posts=[(PROBE, "4000000000000000001", 3)])
    probe_days.day(NEW, [profile("new")], posts=[(PROBE, "4000000000000000001", 4)])
    with psycopg.connect(warehouse_url, autocommit=True) as conn:
        # a second copy of OLD's post in OLD's partition: post_id is no longer unique there
        conn.execute(
            "insert into raw.x__posts (_interval_start, _interval_end, _load_id, _row_number,"
            " handle, post_id, author_id, created_at, payload)"
            " select _interval_start, _interval_end, _load_id, _row_number + 1, handle,"
            " post_id, author_id, created_at, payload from raw.x__posts"
            " where _interval_start = %s",
            (Window.for_day(OLD).start,),
        )
    dbt("run", "--select", "stg_audit__validated_batches stg_x__posts")
    test = ("test", "--select", "stg_x__posts,test_name:unique")

    new_day = dbt(*test, check=False, **day_vars(NEW))
    old_day = dbt(*test, check=False, **day_vars(OLD))
    full = dbt(*test, check=False)

    assert new_day.returncode == 0, new_day.stdout[-3000:]  # OLD's partition is not NEW's
    assert old_day.returncode == 1 and "unique_stg_x__posts_post_id" in old_day.stdout
    assert full.returncode == 1 and "unique_stg_x__posts_post_id" in full.stdout


def test_unknown_placeholder_in_a_where_config_is_a_clear_error(dbt: DbtRunner) -> None:
    # the macro that expands the placeholders must refuse what it does not know
    done = dbt(
        "run-operation",
        "expand_run_placeholders",
        "--args",
        "{where: '__run_month__(activity_date)'}",
        check=False,
        **day_vars(NEW),
    )
    assert done.returncode != 0
    assert "unknown placeholder" in done.stdout


def test_latest_profile_observation_is_kept_incrementally(
    dbt: DbtRunner, probe_days: RawX, warehouse_url: str
) -> None:
    def build(*flags: str, **run_vars: str) -> tuple[Any, ...]:
        dbt("run", "--select", "+int_handle_profile_observations_latest", *flags, **run_vars)
        with psycopg.connect(warehouse_url) as conn:
            rows = conn.execute(
                f"select observed_date, display_name from {LATEST} where handle = %s",
                (PROBE.lower(),),
            ).fetchall()
        assert len(rows) == 1, rows
        return rows[0]

    probe_days.day(NEW, [profile("new")])
    assert build(**day_vars(NEW)) == (NEW, "new")
    probe_days.day(OLD, [profile("old")])
    assert build(**day_vars(OLD)) == (NEW, "new")  # a backfill never replaces a newer day
    probe_days.day(NEW, [profile("new, reloaded")])
    assert build(**day_vars(NEW)) == (NEW, "new, reloaded")  # its own partition, read again
    assert build("--full-refresh") == (NEW, "new, reloaded")  # as a rebuild from all history
