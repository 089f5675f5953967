"""Raw X posts of one day: keys, timestamps in the window, known handles, sane metrics."""

from __future__ import annotations

import great_expectations.expectations as gxe
from great_expectations.expectations import Expectation

from expectations.base import BatchContext, SuiteSpec, meta

METRICS = ("like_count", "retweet_count", "reply_count", "quote_count")


def build(ctx: BatchContext) -> list[Expectation]:
    expectations: list[Expectation] = [
        gxe.ExpectColumnValuesToNotBeNull(
            column="post_id",
            meta=meta("post_id_not_null", "blocking", "every post must be identifiable"),
        ),
        gxe.ExpectColumnValuesToBeUnique(
            column="post_id",
            meta=meta("post_id_unique", "blocking", "a post counted twice inflates engagement"),
        ),
        gxe.ExpectColumnValuesToNotBeNull(
            column="created_at",
            meta=meta("created_at_parses", "blocking", "posts are counted by creation day"),
        ),
        gxe.ExpectColumnValuesToBeBetween(
            column="created_at",
            min_value=ctx.interval_start,
            max_value=ctx.interval_end,
            strict_max=True,
            meta=meta(
                "created_at_in_interval", "blocking", "a post outside the day belongs elsewhere"
            ),
        ),
        gxe.ExpectColumnValuesToBeInSet(
            column="handle",
            value_set=sorted(ctx.known_handles),
            meta=meta("handle_in_registry", "blocking", "only the registry's handles are ours"),
        ),
        gxe.ExpectColumnValuesToNotBeNull(
            column="text",
            mostly=0.99,
            meta=meta("text_present", "warning", "posts without text cannot be reviewed"),
        ),
    ]
    for metric in METRICS:
        expectations += [
            gxe.ExpectColumnValuesToNotBeNull(
                column=metric,
                meta=meta(f"{metric}_is_number", "blocking", "metrics must be whole numbers"),
            ),
            gxe.ExpectColumnValuesToBeBetween(
                column=metric,
                min_value=0,
                meta=meta(f"{metric}_non_negative", "blocking", "counts cannot be negative"),
            ),
        ]
    return expectations


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
