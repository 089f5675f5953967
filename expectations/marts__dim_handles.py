"""marts.dim_handles as published after the day's run: one row per handle of the registry."""

from __future__ import annotations

from great_expectations.expectations import Expectation

from expectations import marts
from expectations.base import BatchContext


def build(ctx: BatchContext) -> list[Expectation]:
    return [
        *marts.keys(("handle_key",)),
        marts.in_set("platform", marts.PLATFORMS),
        marts.in_set("is_registry_mission", [True]),
        *marts.non_negative(("followers_count",)),
    ]


SUITE = marts.mart_suite(
    "dim_handles",
    """
    select
        h.handle_key, h.platform, h.followers_count,
        exists (select 1 from raw.registry__missions m where m.mission_id = h.mission_id)
            as is_registry_mission
    from {marts}.dim_handles h
    """,
    build,
    numeric_columns=("followers_count",),
)
