"""Raw X posts of one day: keys, timestamps in the window, known handles and authors,
complete objects, sane metrics."""

from __future__ import annotations

from great_expectations.expectations import Expectation

from expectations.base import BatchContext, SuiteSpec
from expectations.posts import post_expectations

METRICS = ("like_count", "retweet_count", "reply_count", "quote_count")


def build(ctx: BatchContext) -> list[Expectation]:
    # X always sends a tweet's text; the author must be the handle's own account
    return post_expectations(ctx, METRICS, text_required=True, complete=True, author=True)


SUITE = SuiteSpec(
    name="raw__x__posts",
    platform="x",
    entity="posts",
    query="""
        select
            post_id,
            handle,
            created_at,
            coalesce(payload -> 'data' ->> 'text', '') as text,
            payload -> 'data' -> 'public_metrics' ->> 'like_count' as like_count,
            payload -> 'data' -> 'public_metrics' ->> 'retweet_count' as retweet_count,
            payload -> 'data' -> 'public_metrics' ->> 'reply_count' as reply_count,
            payload -> 'data' -> 'public_metrics' ->> 'quote_count' as quote_count,
            (payload -> 'data') ?& array['id', 'text', 'created_at', 'public_metrics']
                as is_complete,
            coalesce(
                (select p.handle from raw.x__profiles p
                 where p._interval_start = posts._interval_start and p.user_id = posts.author_id
                 limit 1),
                'unknown account ' || posts.author_id
            ) as author_handle,
            _load_id
        from raw.x__posts as posts
        where _interval_start = %(interval_start)s
    """,
    build=build,
    numeric_columns=METRICS,
    timestamp_columns=("created_at",),
)
