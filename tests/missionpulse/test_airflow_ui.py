"""``missionpulse airflow start|stop``: Airflow standalone with the project's DAGs.

Starts the real standalone (API server, scheduler, DAG processor, triggerer) on a free
port in a throwaway state dir, logs in through the API, waits for the seven DAGs to be
parsed without import errors (paused: starting the UI must not start extracting), stops
it, and checks that no process of its group survives and the port is free again.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from missionpulse import processes
from tests.airflow_api import cli, free_port, login, standalone_env, wait_for_dags

pytestmark = [pytest.mark.e2e, pytest.mark.integration]

EXPECTED_DAGS = {
    *(f"extract_{p}" for p in ("x", "facebook", "instagram", "youtube")),
    "transform_warehouse",
    "score_sentiment",
    "publish",
}


def test_start_serves_the_paused_dags_and_stop_frees_everything(
    tmp_path: Path, warehouse_url: str
) -> None:
    state = tmp_path / "state"
    env = standalone_env(state, warehouse_url)
    port = free_port()

    started = cli("airflow", "start", "--port", str(port), env=env)
    url = f"http://127.0.0.1:{port}"
    assert f"Airflow UI: {url}" in started.stdout
    pgid = int((state / "airflow" / "standalone.pid").read_text())
    try:
        dags = wait_for_dags(url, login(url, started.stdout), EXPECTED_DAGS)
        assert all(dags[d]["is_paused"] is True for d in EXPECTED_DAGS)
    finally:
        stopped = cli("airflow", "stop", env=env)
    assert "Airflow stopped" in stopped.stdout
    # no live process of its group is left (a zombie whose parent has not reaped it yet
    # still answers kill(0), so ask /proc)
    assert processes.group_members(pgid) == []
    # free again: nothing listens there (SO_REUSEADDR, so the API calls' TIME_WAIT
    # connections do not count, as for a server binding it)
    assert processes.port_free(port)
    assert "not running" in cli("airflow", "stop", env=env).stdout
