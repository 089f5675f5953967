"""The freshness deadline and the pools in a real Airflow (``missionpulse airflow start``).

Starts the standalone (scheduler, triggerer, DAG processor, API) in a throwaway state dir
with a webhook receiver configured and a deadline of a few seconds, triggers a run of the
paused extract_x DAG (so it stays queued and cannot finish), and waits for the triggerer to
run the deadline callback, which posts to the webhook naming the DAG and the day. Also
checks that the platforms' pools exist in that Airflow (created by ``airflow start``).
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.airflow_api import api, standalone, standalone_env, wait_for_dag
from tests.dags.receivers import WebhookReceiver

pytestmark = [pytest.mark.e2e, pytest.mark.integration]


def test_a_late_run_alerts_through_the_deadline_and_pools_exist(
    tmp_path: Path, warehouse_url: str
) -> None:
    env = standalone_env(
        tmp_path / "state",
        warehouse_url,
        MISSIONPULSE_DEADLINE_HOURS="0.001",  # 3.6 s after the run is queued
        MISSIONPULSE_YOUTUBE_POOL_SLOTS="3",
    )
    with WebhookReceiver() as hook:
        env["MISSIONPULSE_ALERT_WEBHOOK_URL"] = hook.url("/hooks/deadline")
        with standalone(env) as (url, token):
            pools = {p["name"]: p["slots"] for p in api(url, "/api/v2/pools", token)["pools"]}
            assert {k: v for k, v in pools.items() if k.startswith("missionpulse_")} == {
                "missionpulse_x": 1,
                "missionpulse_facebook": 1,
                "missionpulse_instagram": 1,
                "missionpulse_youtube": 3,
            }
            wait_for_dag(url, token, "extract_x")
            # paused: the run stays queued, so it cannot finish before its deadline
            run = api(
                url,
                "/api/v2/dags/extract_x/dagRuns",
                token,
                body={"logical_date": "2026-11-21T00:00:00Z", "conf": {}},
            )
            assert run["state"] == "queued", run
            give_up = time.monotonic() + 180
            while not hook.received and time.monotonic() < give_up:
                time.sleep(2)

    assert hook.received, "no deadline alert reached the webhook within 3 minutes"
    body = hook.received[0]["json"]
    assert body["event"] == "deadline_missed"
    assert body["dag_id"] == "extract_x"
    assert body["day"] == "2026-11-20"  # the data interval [11-20, 11-21)
    assert body["run_id"] == run["dag_run_id"]
    assert body["text"].startswith("MissionPulse run late: extract_x day 2026-11-20")
    assert "had not finished by its deadline" in body["text"] and "(state queued)" in body["text"]
    assert body["log_url"].startswith(f"{url}/dags/extract_x/runs/")
