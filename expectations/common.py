"""Expectations every suite draws on, each with its stable name and severity.

The names are the contract: audit.dq_results, the quarantine message and the bad-data
catalogue (``missionpulse/simulator/bad_data.py``) refer to them.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import great_expectations.expectations as gxe
from great_expectations.expectations import Expectation

from expectations.base import BatchContext, meta

TRAILING_DAYS_NEEDED = 3


def key(column: str, what: str) -> list[Expectation]:
    """``<column>_not_null`` and ``<column>_unique`` (blocking)."""
    return [
        gxe.ExpectColumnValuesToNotBeNull(
            column=column,
            meta=meta(f"{column}_not_null", "blocking", f"every {what} must be identifiable"),
        ),
        gxe.ExpectColumnValuesToBeUnique(
            column=column,
            meta=meta(f"{column}_unique", "blocking", f"a {what} counted twice inflates totals"),
        ),
    ]


def created_in_window(ctx: BatchContext, column: str = "created_at") -> list[Expectation]:
    """Parses, inside the data interval, and not later than the check itself (blocking)."""
    expectations: list[Expectation] = [
        gxe.ExpectColumnValuesToNotBeNull(
            column=column,
            meta=meta(f"{column}_parses", "blocking", "rows are counted by their creation day"),
        ),
        gxe.ExpectColumnValuesToBeBetween(
            column=column,
            min_value=ctx.interval_start,
            max_value=ctx.interval_end,
            strict_max=True,
            meta=meta(
                f"{column}_in_interval", "blocking", "a row outside the day belongs elsewhere"
            ),
        ),
    ]
    if ctx.checked_at is not None:
        expectations.append(
            gxe.ExpectColumnValuesToBeBetween(
                column=column,
                max_value=ctx.checked_at,
                meta=meta(
                    f"{column}_not_in_future",
                    "blocking",
                    "nothing can have happened after it was observed",
                ),
            )
        )
    return expectations


def handle_known(ctx: BatchContext, column: str = "handle") -> Expectation:
    return gxe.ExpectColumnValuesToBeInSet(
        column=column,
        value_set=sorted(ctx.known_handles),
        meta=meta(f"{column}_in_registry", "blocking", "only the registry's handles are ours"),
    )


def counts(metrics: Sequence[str]) -> list[Expectation]:
    """``<metric>_is_number`` and ``<metric>_non_negative`` (blocking) for each count."""
    expectations: list[Expectation] = []
    for metric in metrics:
        expectations += [
            gxe.ExpectColumnValuesToNotBeNull(
                column=metric,
                meta=meta(f"{metric}_is_number", "blocking", "counts must be whole numbers"),
            ),
            gxe.ExpectColumnValuesToBeBetween(
                column=metric,
                min_value=0,
                meta=meta(f"{metric}_non_negative", "blocking", "counts cannot be negative"),
            ),
        ]
    return expectations


def text_not_empty(column: str = "text") -> Expectation:
    """For payloads whose text the platform always sends (the query coalesces null to '')."""
    return gxe.ExpectColumnValueLengthsToBeBetween(
        column=column,
        min_value=1,
        meta=meta("text_not_empty", "blocking", "the platform always sends this text"),
    )


def payload_complete(column: str = "is_complete") -> Expectation:
    """The query's ``is_complete`` says whether the object has every required field."""
    return gxe.ExpectColumnValuesToBeInSet(
        column=column,
        value_set=[True],
        meta=meta("payload_complete", "blocking", "an object cut short cannot be counted"),
    )


def row_count_band(ctx: BatchContext) -> list[Expectation]:
    """Row count within a band of the trailing days' (warning; needs 3 days of history)."""
    if len(ctx.trailing_rows) < TRAILING_DAYS_NEEDED:
        return []
    low = math.floor(min(ctx.trailing_rows) * 0.5)
    high = math.ceil(max(ctx.trailing_rows) * 1.5) + 10
    return [
        gxe.ExpectTableRowCountToBeBetween(
            min_value=low,
            max_value=high,
            meta=meta(
                "row_count_in_trailing_band",
                "warning",
                f"rows of the trailing {len(ctx.trailing_rows)} days ranged "
                f"{min(ctx.trailing_rows)}-{max(ctx.trailing_rows)}",
            ),
        )
    ]


def at_least(column: str, low: float, why: str) -> Expectation:
    """``column`` >= ``low`` (blocking): below it the figure is a bug."""
    return gxe.ExpectColumnValuesToBeBetween(
        column=column,
        min_value=low,
        meta=meta(f"{column}_at_least_{low:g}", "blocking", why),
    )


def usually_at_most(column: str, high: float, why: str) -> Expectation:
    """``column`` <= ``high`` (warning): above it the figure is unusual, not impossible."""
    return gxe.ExpectColumnValuesToBeBetween(
        column=column,
        max_value=high,
        meta=meta(f"{column}_usually_at_most_{high:g}", "warning", why),
    )


def rate_between(column: str, low: float, high: float) -> Expectation:
    return gxe.ExpectColumnValuesToBeBetween(
        column=column,
        min_value=low,
        max_value=high,
        meta=meta(f"{column}_in_bounds", "blocking", f"a rate outside [{low}, {high}] is a bug"),
    )
