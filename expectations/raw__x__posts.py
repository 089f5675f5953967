"""Raw X posts of one day: keys, timestamps in the window, known handles, sane metrics."""

from __future__ import annotations

from great_expectations.expectations import Expectation

from expectations.base import BatchContext, SuiteSpec
from expectations.posts import post_expectations

METRICS = ("like_count", "retweet_count", "reply_count", "quote_count")


def build(ctx: BatchContext) -> list[Expectation]:
    return post_expectations(ctx, METRICS)


SUITE = SuiteSpec(
    name="raw__x__posts",
    platform="x",
    entity="posts",
    query="""
        select
            post_id,
            handle,
            created_at,
            payload -> 'data' ->> 'text' as text,
            payload -> 'data' -> 'public_metrics' ->> 'like_count' as like_count,
            payload -> 'data' -> 'public_metrics' ->> 'retweet_count' as retweet_count,
            payload -> 'data' -> 'public_metrics' ->> 'reply_count' as reply_count,
            payload -> 'data' -> 'public_metrics' ->> 'quote_count' as quote_count,
            _load_id
        from raw.x__posts
        where _interval_start = %(interval_start)s
    """,
    build=build,
    numeric_columns=METRICS,
    timestamp_columns=("created_at",),
)
