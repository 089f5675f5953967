"""marts.fct_mission_responsiveness for the week of the day: one row per mission, platform
and week, non-negative counts, answered share within 0-1."""

from __future__ import annotations

from great_expectations.expectations import Expectation

from expectations import marts
from expectations.base import BatchContext


def build(ctx: BatchContext) -> list[Expectation]:
    return [
        *marts.keys(("mission_id", "platform", "week_start_date")),
        marts.in_set("platform", marts.PLATFORMS),
        *marts.non_negative(("audience_comments", "comments_answered")),
        marts.rate_between("answered_share", 0, 1),
    ]


SUITE = marts.mart_suite(
    "fct_mission_responsiveness",
    """
    select mission_id, platform, week_start_date, audience_comments, comments_answered,
           answered_share
    from {marts}.fct_mission_responsiveness
    where week_start_date = date_trunc('week', %(interval_start)s::date)::date
    """,
    build,
    numeric_columns=("audience_comments", "comments_answered", "answered_share"),
)
