"""``missionpulse airflow start|stop``: Airflow standalone with the project's DAGs.

Starts the real standalone (API server, scheduler, DAG processor, triggerer) on a free
port in a throwaway state dir, logs in through the API, waits for the seven DAGs to be
parsed without import errors (paused: starting the UI must not start extracting), stops
it, and checks that no process of its group survives and the port is free again.
"""

from __future__ import annotations

import os
import re
import time
from pathlib import Path

import pytest

from missionpulse import processes
from tests.airflow_api import api, cli, free_port

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
    state.mkdir()
    state.chmod(0o755)
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW")}
    env |= {"MISSIONPULSE_STATE_DIR": str(state), "MISSIONPULSE_WAREHOUSE_URL": warehouse_url}
    port = free_port()

    started = cli("airflow", "start", "--port", str(port), env=env)
    url = f"http://127.0.0.1:{port}"
    assert f"Airflow UI: {url}" in started.stdout
    login = re.search(r"login: (\S+) / (\S+)", started.stdout)
    assert login, started.stdout
    pgid = int((state / "airflow" / "standalone.pid").read_text())
    try:
        token = api(url, "/auth/token", body={"username": login[1], "password": login[2]})[
            "access_token"
        ]
        deadline = time.monotonic() + 300
        dags: dict = {}
        while time.monotonic() < deadline:
            errors = api(url, "/api/v2/importErrors", token)
            assert errors["total_entries"] == 0, errors
            dags = {d["dag_id"]: d for d in api(url, "/api/v2/dags", token)["dags"]}
            if set(dags) >= EXPECTED_DAGS:
                break
            time.sleep(5)
        missing = EXPECTED_DAGS - set(dags)
        assert not missing, f"the DAG processor did not parse {sorted(missing)}"
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
