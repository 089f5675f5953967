"""Raw Facebook Page insights of one day: one value per Page, metric and end time, for the
day, of a registry handle, a whole non-negative value."""

from __future__ import annotations

import great_expectations.expectations as gxe
from great_expectations.expectations import Expectation

from expectations import common
from expectations.base import BatchContext, SuiteSpec, meta


def build(ctx: BatchContext) -> list[Expectation]:
    return [
        gxe.ExpectCompoundColumnsToBeUnique(
            column_list=["page_id", "metric", "end_time"],
            meta=meta("insight_unique", "blocking", "one value per Page, metric and day"),
        ),
        gxe.ExpectColumnValuesToNotBeNull(
            column="metric", meta=meta("metric_not_null", "blocking", "a value of what?")
        ),
        gxe.ExpectColumnValuesToNotBeNull(
            column="end_time",
            meta=meta("end_time_parses", "blocking", "insights are counted by their day"),
        ),
        gxe.ExpectColumnValuesToBeBetween(
            column="end_time",
            min_value=ctx.interval_start,
            max_value=ctx.interval_end,
            meta=meta("end_time_in_interval", "blocking", "a value of another day"),
        ),
        common.handle_known(ctx),
        *common.counts(["value"]),
        *common.row_count_band(ctx),
    ]


SUITE = SuiteSpec(
    name="raw__facebook__insights",
    platform="facebook",
    entity="insights",
    query="""
        select handle, page_id, metric, end_time, payload -> 'data' ->> 'value' as value, _load_id
        from raw.facebook__insights
        where _interval_start = %(interval_start)s
    """,
    build=build,
    numeric_columns=("value",),
    timestamp_columns=("end_time",),
)
