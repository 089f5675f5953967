"""Raw Facebook Page posts of one day: keys, timestamps in the window, known handles, sane
totals.

Facebook leaves ``shares`` out of a post nobody shared (and ``message`` out of a photo
without text): the batch query reads an absent share count as 0, so every count that is
sent must be a whole, non-negative number while an absent one passes.
"""

from __future__ import annotations

from great_expectations.expectations import Expectation

from expectations.base import BatchContext, SuiteSpec
from expectations.posts import post_expectations

METRICS = ("reaction_count", "comment_count", "share_count")


def build(ctx: BatchContext) -> list[Expectation]:
    return post_expectations(ctx, METRICS)


SUITE = SuiteSpec(
    name="raw__facebook__posts",
    platform="facebook",
    entity="posts",
    query="""
        select
            post_id,
            handle,
            created_at,
            payload -> 'data' ->> 'message' as text,
            payload -> 'data' -> 'reactions' -> 'summary' ->> 'total_count' as reaction_count,
            payload -> 'data' -> 'comments' -> 'summary' ->> 'total_count' as comment_count,
            coalesce(payload -> 'data' -> 'shares' ->> 'count', '0') as share_count,
            _load_id
        from raw.facebook__posts
        where _interval_start = %(interval_start)s
    """,
    build=build,
    numeric_columns=METRICS,
    timestamp_columns=("created_at",),
)
