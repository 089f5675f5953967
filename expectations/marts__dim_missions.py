"""marts.dim_missions as published after the day's run: one row per registry mission."""

from __future__ import annotations

from great_expectations.expectations import Expectation

from expectations import marts
from expectations.base import BatchContext


def build(ctx: BatchContext) -> list[Expectation]:
    return [
        *marts.keys(("mission_id",)),
        marts.in_set("is_registry_mission", [True]),
        *marts.non_negative(("handle_count",)),
    ]


SUITE = marts.mart_suite(
    "dim_missions",
    """
    select
        d.mission_id,
        exists (select 1 from raw.registry__missions m where m.mission_id = d.mission_id)
            as is_registry_mission,
        d.handle_count
    from {marts}.dim_missions d
    """,
    build,
    numeric_columns=("handle_count",),
)
