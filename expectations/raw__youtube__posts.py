"""Raw YouTube videos of one day: keys, timestamps in the window, known handles, sane metrics.

YouTube sends statistics as strings and leaves ``likeCount`` out when the owner hides likes
and ``commentCount`` out when comments are disabled: the batch query reads an absent count
as 0, so every count that is sent must be a whole, non-negative number while an absent one
passes. The video's title stands for the post's text.
"""

from __future__ import annotations

from great_expectations.expectations import Expectation

from expectations.base import BatchContext, SuiteSpec
from expectations.posts import post_expectations

METRICS = ("view_count", "like_count", "comment_count")


def build(ctx: BatchContext) -> list[Expectation]:
    return post_expectations(ctx, METRICS)


SUITE = SuiteSpec(
    name="raw__youtube__posts",
    platform="youtube",
    entity="posts",
    query="""
        select
            post_id,
            handle,
            created_at,
            payload -> 'data' -> 'snippet' ->> 'title' as text,
            payload -> 'data' -> 'statistics' ->> 'viewCount' as view_count,
            coalesce(payload -> 'data' -> 'statistics' ->> 'likeCount', '0') as like_count,
            coalesce(payload -> 'data' -> 'statistics' ->> 'commentCount', '0') as comment_count,
            _load_id
        from raw.youtube__posts
        where _interval_start = %(interval_start)s
    """,
    build=build,
    numeric_columns=METRICS,
    timestamp_columns=("created_at",),
)
