"""The day's rows of marts.fct_mission_daily_sentiment: one per mission, platform and day,
non-negative counts, shares within 0-1 and net sentiment within -1..1."""

from __future__ import annotations

from great_expectations.expectations import Expectation

from expectations import marts
from expectations.base import BatchContext

SHARES = ("positive_share", "neutral_share", "negative_share")


def build(ctx: BatchContext) -> list[Expectation]:
    return [
        *marts.keys(("mission_id", "platform", "activity_date")),
        marts.in_set("platform", marts.PLATFORMS),
        *marts.non_negative(("audience_comments", "comments_scored")),
        *(marts.rate_between(s, 0, 1) for s in SHARES),
        marts.rate_between("net_sentiment", -1, 1),
    ]


SUITE = marts.mart_suite(
    "fct_mission_daily_sentiment",
    """
    select mission_id, platform, activity_date, audience_comments, comments_scored,
           positive_share, neutral_share, negative_share, net_sentiment
    from {marts}.fct_mission_daily_sentiment
    where activity_date = %(interval_start)s::date
    """,
    build,
    numeric_columns=("audience_comments", "comments_scored", *SHARES, "net_sentiment"),
)
