"""Default arguments and failure callbacks shared by every DAG."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

log = logging.getLogger("missionpulse.alerts")

OWNER = "missionpulse-data-team"


def notify_failure(context: dict[str, Any]) -> None:
    """Name the DAG, task, day and error of a failed task (the log is the default channel)."""
    ti = context.get("task_instance")
    interval = context.get("data_interval_start")
    log.error(
        "MissionPulse task failed: dag=%s task=%s day=%s try=%s error=%s",
        getattr(ti, "dag_id", "?"),
        getattr(ti, "task_id", "?"),
        interval.date().isoformat() if interval else "?",
        getattr(ti, "try_number", "?"),
        context.get("exception"),
    )


DEFAULT_ARGS: dict[str, Any] = {
    "owner": OWNER,
    "retries": 3,
    "retry_delay": timedelta(seconds=30),
    "retry_exponential_backoff": True,
    "max_retry_delay": timedelta(minutes=10),
    "on_failure_callback": notify_failure,
}
