"""Airflow's side of the alerts: the on-failure notifier and the freshness deadline.

The sending itself (webhook, e-mail, the log; redaction) is :mod:`missionpulse.alerts`;
this module turns Airflow's task context into an :class:`~missionpulse.alerts.Alert`, and
declares the deadline every daily DAG carries.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

from airflow.sdk import AsyncCallback, BaseNotifier, DeadlineAlert, DeadlineReference

from common.platforms import ALL_PLATFORMS
from missionpulse import alerts

# extract_x, validate_facebook, transform.stg_youtube__videos_run, ...
_PLATFORM_IN_TASK = re.compile(
    r"(?:^|[._])(?:[a-z]+_)?(" + "|".join(ALL_PLATFORMS) + r")(?:$|__|[._])"
)


def platform_of(task_id: str | None) -> str | None:
    """The platform a task works on, when its id names one (``extract_x``, ``stg_x__posts``)."""
    match = _PLATFORM_IN_TASK.search(task_id or "")
    return match.group(1) if match else None


def failure_alert(context: Any) -> alerts.Alert:
    """The alert for a failed task, from its Airflow context."""
    ti = context.get("task_instance") or context.get("ti")
    dag_run = context.get("dag_run")
    start = context.get("data_interval_start") or getattr(dag_run, "data_interval_start", None)
    # the DAGs scheduled on assets have no data interval: the day is the run's partition
    # key, or the conf's day of a run started by hand (common.days)
    day = getattr(dag_run, "partition_key", None) or (getattr(dag_run, "conf", None) or {}).get(
        "day"
    )
    task_id = getattr(ti, "task_id", None)
    dag_id = str(getattr(ti, "dag_id", None) or getattr(context.get("dag"), "dag_id", "?"))
    error = context.get("exception")
    try:
        log_url = getattr(ti, "log_url", None)
    except Exception:  # the URL needs the API's configuration; an alert goes out without it
        log_url = None
    return alerts.Alert(
        event="task_failed",
        dag_id=dag_id,
        task_id=task_id,
        # extract_x.extract_batch names its platform in the DAG id
        platform=platform_of(task_id) or platform_of(dag_id),
        day=str(day) if day else (start.date().isoformat() if start else None),
        try_number=getattr(ti, "try_number", None),
        error=f"{type(error).__name__}: {error}" if error is not None else None,
        log_url=log_url,
        run_id=getattr(ti, "run_id", None),
    )


class MissionPulseNotifier(BaseNotifier):
    """On-failure notifier of every MissionPulse task: webhook, e-mail or the log.

    It never raises: a channel that is down is logged and the task's own failure stands.
    """

    def notify(self, context: Any) -> None:
        try:
            alerts.send(failure_alert(context))
        except Exception:  # an alert must never hide the failure it reports
            self.log.exception("could not build or send the failure alert")


notify_failure = MissionPulseNotifier()


def freshness_deadline(hours: float | None = None) -> DeadlineAlert:
    """Alert when a day's run has not finished ``hours`` after its data interval ends.

    The reference is the moment the run was queued: the scheduler queues a daily run as
    soon as its data interval ends, so for scheduled runs this is the interval's end +
    ``hours`` (default ``MISSIONPULSE_DEADLINE_HOURS``, 6). The logical date would not do:
    a backfilled or manual run of an old day would be past its deadline on creation and
    alert at once, one message per day backfilled.
    """
    hours = alerts.deadline_hours() if hours is None else hours
    return DeadlineAlert(
        reference=DeadlineReference.DAGRUN_QUEUED_AT,
        interval=timedelta(hours=hours),
        callback=AsyncCallback(alerts.notify_deadline_missed),
        name="missionpulse_freshness",
    )
