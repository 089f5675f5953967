"""The day's rows of marts.fct_mission_daily_engagement: one per mission, platform and
day, of a registry mission and handle, whole non-negative counts, rates within bounds
(the rate per follower has no upper bound that is a bug: above 1 it is a warning)."""

from __future__ import annotations

from great_expectations.expectations import Expectation

from expectations import marts
from expectations.base import BatchContext

COUNTS = ("posts", "likes", "comments", "shares", "views", "interactions", "followers_count")


def build(ctx: BatchContext) -> list[Expectation]:
    return [
        *marts.keys(("mission_id", "platform", "activity_date")),
        marts.in_set("platform", marts.PLATFORMS),
        marts.in_set("is_registry_mission", [True]),
        marts.in_set("handle", sorted(h.lower() for h in ctx.known_handles)),
        *marts.non_negative(COUNTS),
        # More interactions than followers is no bug: a small account's post that travels
        # (a YouTube video found through recommendations: 355 interactions, 344
        # subscribers, 2,041 views, seen in the 365-day backfill) must not withhold the
        # day's publication for every mission.
        marts.at_least("engagement_rate_per_follower", 0, "a negative rate is a bug"),
        marts.usually_at_most(
            "engagement_rate_per_follower",
            1,
            "more interactions than followers: a post that reached far beyond the audience, "
            "or a follower count that is wrong (check the handle's profile)",
        ),
        marts.rate_between("engagement_rate_per_view", 0, 5),
        *marts.row_count_band(ctx),
    ]


SUITE = marts.mart_suite(
    "fct_mission_daily_engagement",
    """
    select
        f.mission_id, f.platform, f.activity_date, f.handle,
        exists (select 1 from raw.registry__missions m where m.mission_id = f.mission_id)
            as is_registry_mission,
        f.posts, f.likes, f.comments, f.shares, f.views, f.interactions, f.followers_count,
        f.engagement_rate_per_follower, f.engagement_rate_per_view
    from {marts}.fct_mission_daily_engagement f
    where f.activity_date = %(interval_start)s::date
    """,
    build,
    numeric_columns=(*COUNTS, "engagement_rate_per_follower", "engagement_rate_per_view"),
)
