"""Raw Instagram media metrics re-observed on the day (insights settle over 48 hours): one
observation per media, of a registry handle, media created before it was observed, whole
non-negative counts."""

from __future__ import annotations

import great_expectations.expectations as gxe
from great_expectations.expectations import Expectation

from expectations import common
from expectations.base import BatchContext, SuiteSpec, meta

METRICS = ("like_count", "comments_count")


def build(ctx: BatchContext) -> list[Expectation]:
    return [
        *common.key("media_id", "media observation"),
        gxe.ExpectColumnValuesToNotBeNull(
            column="media_created_at",
            meta=meta("media_created_at_parses", "blocking", "metrics belong to a media's day"),
        ),
        gxe.ExpectColumnValuesToBeBetween(
            column="media_created_at",
            max_value=ctx.checked_at or ctx.interval_end,
            meta=meta("media_created_at_not_in_future", "blocking", "a media from the future"),
        ),
        common.handle_known(ctx),
        *common.counts(METRICS),
        *common.row_count_band(ctx),
    ]


SUITE = SuiteSpec(
    name="raw__instagram__post_metrics",
    platform="instagram",
    entity="post_metrics",
    query="""
        select
            media_id,
            handle,
            media_created_at,
            payload -> 'data' ->> 'like_count' as like_count,
            payload -> 'data' ->> 'comments_count' as comments_count,
            _load_id
        from raw.instagram__post_metrics
        where _interval_start = %(interval_start)s
    """,
    build=build,
    numeric_columns=METRICS,
    timestamp_columns=("media_created_at",),
)
