"""Default arguments shared by every DAG (owner, retries with backoff, the failure alert),
and the settings the three DAGs after the extracts share."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pendulum

from common.alerts import notify_failure
from missionpulse.orchestration import dag_start_date

OWNER = "missionpulse-data-team"

DEFAULT_ARGS: dict[str, Any] = {
    "owner": OWNER,
    "retries": 3,
    "retry_delay": timedelta(seconds=30),
    "retry_exponential_backoff": True,
    "max_retry_delay": timedelta(minutes=10),
    # webhook / e-mail when configured, the missionpulse.alerts log always (common.alerts)
    "on_failure_callback": notify_failure,
}

# transform_warehouse, score_sentiment and publish: one run per day, started by the day's
# asset events (partitioned by day), several days in flight (the marts publication lock
# orders them); a run triggered by hand names its day and platforms in these params.
DOWNSTREAM_DAG_ARGS: dict[str, Any] = {
    "start_date": pendulum.instance(dag_start_date()),
    "catchup": False,
    "max_active_runs": 4,
    "default_args": DEFAULT_ARGS,
    "params": {"day": None, "platforms": "all"},
}
