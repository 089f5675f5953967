"""marts.mart_leaderboard for the week of the day: one row per week and mission."""

from __future__ import annotations

from great_expectations.expectations import Expectation

from expectations import marts
from expectations.base import BatchContext


def build(ctx: BatchContext) -> list[Expectation]:
    return [
        *marts.keys(("week_start_date", "mission_id")),
        marts.in_set("is_registry_mission", [True]),
    ]


SUITE = marts.mart_suite(
    "mart_leaderboard",
    """
    select
        l.week_start_date, l.mission_id,
        exists (select 1 from raw.registry__missions m where m.mission_id = l.mission_id)
            as is_registry_mission
    from {marts}.mart_leaderboard l
    where l.week_start_date = date_trunc('week', %(interval_start)s::date)::date
    """,
    build,
)
