"""Default arguments shared by every DAG: owner, retries with backoff, the failure alert."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from common.alerts import notify_failure

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
