"""The UTC day a DAG run is about, and the events that hand it downstream.

The extract DAGs run on a daily data interval: their day is ``data_interval_start``'s date.
The DAGs scheduled on assets have no data interval: their day is the run's partition key
(the day of the events that triggered it). A run started by hand or in-process with
``dag.test()`` (which cannot set a partition key, and whose inferred data interval follows
the schedule: with ``MISSIONPULSE_EXTRACT_AT=03:30`` a test run at D+1 00:00 would get the
interval starting D-1 03:30) names its day in its conf, ``{"day": "YYYY-MM-DD"}``, which
wins over the data interval.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from airflow.sdk import Asset


def day_of(context: dict[str, Any]) -> date:
    """The day of the running task's DAG run (see the module docstring)."""
    dag_run = context.get("dag_run")
    key = getattr(dag_run, "partition_key", None)
    if key:
        return date.fromisoformat(str(key))
    conf = getattr(dag_run, "conf", None) or {}
    params = context.get("params") or {}
    given = conf.get("day") or params.get("day")
    if given:
        return date.fromisoformat(str(given))
    start = context.get("data_interval_start")
    if start is not None:
        return start.date()
    raise ValueError(
        f"run {getattr(dag_run, 'run_id', '?')} has no day: it has no partition key, no "
        'data interval and no conf day; trigger it with conf {"day": "YYYY-MM-DD"}'
    )


def day_window(day: date) -> dict[str, str]:
    """The day and the end of its interval, as dbt's vars want them."""
    return {"day": day.isoformat(), "end": (day + timedelta(days=1)).isoformat()}


def emit_day(outlet_events: Any, asset: Asset, day: date, **extra: Any) -> None:
    """Put ``day`` on ``asset``'s event as its partition key (the downstream DAG's run for
    that day waits on it), with ``extra``. A run that has the day as its own partition key
    would carry it anyway; an extract run (data interval) or a ``dag.test()`` run would not."""
    event = outlet_events[asset]
    event.add_partitions(day.isoformat())
    event.extra = {"day": day.isoformat(), **extra}
