"""Raw Instagram media of one day: keys, timestamps in the window, known handles, sane
counters.

Instagram's ``like_count`` and ``comments_count`` are checked as observed at extraction;
they keep growing for 48 h (the ``post_metrics`` observations follow them), which no
expectation here may mistake for an error.
"""

from __future__ import annotations

from great_expectations.expectations import Expectation

from expectations.base import BatchContext, SuiteSpec
from expectations.posts import post_expectations

METRICS = ("like_count", "comments_count")


def build(ctx: BatchContext) -> list[Expectation]:
    return post_expectations(ctx, METRICS)


SUITE = SuiteSpec(
    name="raw__instagram__posts",
    platform="instagram",
    entity="posts",
    query="""
        select
            media_id as post_id,
            handle,
            created_at,
            payload -> 'data' ->> 'caption' as text,
            payload -> 'data' ->> 'like_count' as like_count,
            payload -> 'data' ->> 'comments_count' as comments_count,
            _load_id
        from raw.instagram__posts
        where _interval_start = %(interval_start)s
    """,
    build=build,
    numeric_columns=METRICS,
    timestamp_columns=("created_at",),
)
