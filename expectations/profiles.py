"""Expectations every platform's raw profiles share: one profile per handle and day, the
account's id, a whole follower count that moves plausibly from the last published one.

The batch query returns ``handle``, ``account_id`` and ``followers_count``; the suite's
``enrich`` adds ``followers_ratio``: today's count over the last count published in
``marts.fct_mission_daily_engagement`` in the week up to the day (empty without one).
"""

from __future__ import annotations

from typing import Any

import great_expectations.expectations as gxe
import pandas as pd
from great_expectations.expectations import Expectation

from expectations import common
from expectations.base import BatchContext, SuiteSpec, meta

# a day's change beyond these factors is a wrong account or a broken counter, not growth
MIN_RATIO, MAX_RATIO = 0.5, 3.0
PUBLISHED = "marts.fct_mission_daily_engagement"


def profile_expectations(ctx: BatchContext, *, followers_required: bool) -> list[Expectation]:
    expectations: list[Expectation] = [
        *common.key("handle", "profile"),
        common.handle_known(ctx),
        gxe.ExpectColumnValuesToNotBeNull(
            column="account_id",
            meta=meta("account_id_not_null", "blocking", "the account must be identifiable"),
        ),
        gxe.ExpectColumnValuesToBeBetween(
            column="followers_ratio",
            min_value=MIN_RATIO,
            max_value=MAX_RATIO,
            meta=meta(
                "followers_plausible_change",
                "blocking",
                f"followers changed by more than x{MAX_RATIO} (or /{1 / MIN_RATIO:g}) "
                "since the last published day",
            ),
        ),
        *common.row_count_band(ctx),
    ]
    if followers_required:
        expectations += common.counts(["followers_count"])
    else:  # e.g. YouTube hides some channels' subscriber counts
        expectations.append(
            gxe.ExpectColumnValuesToBeBetween(
                column="followers_count",
                min_value=0,
                meta=meta("followers_count_non_negative", "blocking", "counts cannot be negative"),
            )
        )
    return expectations


# How far back a published follower count still serves as the baseline: a count from
# months ago (a backfill of an old day, a handle that was not observed for a while) is not
# comparable with today's, so such a day is not checked for jumps.
BASELINE_DAYS = 7


def add_followers_ratio(conn: Any, frame: pd.DataFrame, ctx: BatchContext) -> pd.DataFrame:
    """``followers_ratio`` against the last count published in the ``BASELINE_DAYS`` up to
    the batch's day, for each handle (NaN, so not checked, without one)."""
    frame = frame.copy()
    frame["followers_ratio"] = float("nan")
    (exists,) = conn.execute("select to_regclass(%s) is not null", (PUBLISHED,)).fetchone()
    if not exists or frame.empty:
        return frame
    rows = conn.execute(
        f"""
        select distinct on (handle) handle, followers_count
        from {PUBLISHED}
        where platform = %s and followers_count > 0
          and activity_date between %s::date - %s::int and %s::date
        order by handle, activity_date desc
        """,
        (ctx.platform, ctx.interval_start.date(), BASELINE_DAYS, ctx.interval_start.date()),
    ).fetchall()
    baseline = {str(handle).lower(): float(count) for handle, count in rows}  # marts: lower
    counts = pd.to_numeric(frame["followers_count"], errors="coerce")
    frame["followers_ratio"] = [
        (count / baseline[str(h).lower()])
        if str(h).lower() in baseline and pd.notna(count)
        else float("nan")
        for h, count in zip(frame["handle"], counts, strict=True)
    ]
    return frame


def profiles_suite(
    platform: str, account_column: str, followers_path: str, *, followers_required: bool = True
) -> SuiteSpec:
    return SuiteSpec(
        name=f"raw__{platform}__profiles",
        platform=platform,
        entity="profiles",
        query=f"""
            select
                handle,
                {account_column} as account_id,
                {followers_path} as followers_count,
                _load_id
            from raw.{platform}__profiles
            where _interval_start = %(interval_start)s
        """,
        build=lambda ctx: profile_expectations(ctx, followers_required=followers_required),
        numeric_columns=("followers_count",),
        enrich=add_followers_ratio,
    )
