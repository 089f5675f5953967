"""marts.fct_mission_compliance for the week of the day: one row per mission and week, a
registry mission, a compliance score from 0 to 100."""

from __future__ import annotations

from great_expectations.expectations import Expectation

from expectations import marts
from expectations.base import BatchContext


def build(ctx: BatchContext) -> list[Expectation]:
    return [
        *marts.keys(("mission_id", "week_start_date")),
        marts.in_set("is_registry_mission", [True]),
        marts.rate_between("compliance_score", 0, 100),
    ]


SUITE = marts.mart_suite(
    "fct_mission_compliance",
    """
    select
        c.mission_id, c.week_start_date, c.compliance_score,
        exists (select 1 from raw.registry__missions m where m.mission_id = c.mission_id)
            as is_registry_mission
    from {marts}.fct_mission_compliance c
    where c.week_start_date = date_trunc('week', %(interval_start)s::date)::date
    """,
    build,
    numeric_columns=("compliance_score",),
)
