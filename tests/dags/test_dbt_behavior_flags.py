"""dbt's adapters must not grow the global list of behavior flags in a long-lived process
(missionpulse backfill runs every dbt invocation of every day in one process)."""

from __future__ import annotations

from dbt.adapters.base import impl

from missionpulse import orchestration


class _Adapter:
    """What BaseAdapter.behavior's setter reads: the adapter's own flags and its config."""

    _behavior_flags = [
        {"name": "missionpulse_probe_flag", "default": True, "description": "a probe"}
    ]
    config = None


def test_adapters_leave_the_global_flags_as_dbt_defines_them() -> None:
    orchestration._stop_dbt_behavior_flags_growing()
    orchestration._stop_dbt_behavior_flags_growing()  # idempotent
    before = list(impl.DEFAULT_BASE_BEHAVIOR_FLAGS)
    for _ in range(3):  # what three dbt invocations' adapters do in __init__
        adapter = _Adapter()
        impl.BaseAdapter.behavior.fset(adapter, impl.DEFAULT_BASE_BEHAVIOR_FLAGS)  # type: ignore[attr-defined]
        assert adapter._behavior.missionpulse_probe_flag.no_warn is True  # type: ignore[attr-defined]
    assert before == impl.DEFAULT_BASE_BEHAVIOR_FLAGS
