"""Helpers shared by the tests that start Airflow's own servers (`missionpulse airflow start`)."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def api(
    url: str,
    path: str,
    token: str | None = None,
    body: dict | None = None,
    method: str | None = None,
) -> dict:
    """One call to Airflow's REST API (JSON in, JSON out), with a bearer token if given:
    GET, or POST with a body, unless ``method`` says otherwise."""
    request = urllib.request.Request(
        url + path,
        method=method,
        data=json.dumps(body).encode() if body is not None else None,
        headers={"Content-Type": "application/json"}
        | ({"Authorization": f"Bearer {token}"} if token else {}),
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return dict(json.loads(response.read()))


def cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    """The installed `missionpulse` command; fails the test with its output unless it exits 0."""
    done = subprocess.run(
        [str(Path(sys.executable).with_name("missionpulse")), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, f"{args}: {done.stdout[-2000:]}\n{done.stderr[-3000:]}"
    return done


def standalone_env(state: Path, warehouse_url: str, **settings: str) -> dict[str, str]:
    """The environment of a throwaway ``missionpulse airflow start``: this process's, less
    any Airflow, alert, deadline and schedule settings of the caller, plus ``settings``."""
    state.mkdir(exist_ok=True)
    state.chmod(0o755)
    dropped = ("AIRFLOW", "MISSIONPULSE_ALERT_", "MISSIONPULSE_DEADLINE", "MISSIONPULSE_EXTRACT_AT")
    env = {k: v for k, v in os.environ.items() if not k.startswith(dropped)}
    return env | {
        "MISSIONPULSE_STATE_DIR": str(state),
        "MISSIONPULSE_WAREHOUSE_URL": warehouse_url,
        **settings,
    }


@contextmanager
def standalone(env: dict[str, str]) -> Iterator[tuple[str, str]]:
    """``missionpulse airflow start`` on a free port: (its URL, an API token); stopped after."""
    port = free_port()
    started = cli("airflow", "start", "--port", str(port), env=env)
    url = f"http://127.0.0.1:{port}"
    try:
        yield url, login(url, started.stdout)
    finally:
        cli("airflow", "stop", env=env)


def login(url: str, started: str) -> str:
    """An API token for the login ``missionpulse airflow start`` printed in ``started``."""
    found = re.search(r"login: (\S+) / (\S+)", started)
    assert found, started
    token = api(url, "/auth/token", body={"username": found[1], "password": found[2]})
    return str(token["access_token"])


def wait_for_dag(url: str, token: str, dag_id: str, timeout_s: float = 300) -> None:
    """Until the DAG processor has parsed ``dag_id``; an import error fails at once."""
    wait_for_dags(url, token, {dag_id}, timeout_s)


def wait_for_dags(
    url: str, token: str, dag_ids: set[str], timeout_s: float = 300
) -> dict[str, dict]:
    """Until the DAG processor has parsed every one of ``dag_ids`` (an import error fails at
    once); the DAGs the API lists then, by id."""
    give_up = time.monotonic() + timeout_s
    while True:
        errors = api(url, "/api/v2/importErrors", token)
        assert errors["total_entries"] == 0, errors
        dags = {d["dag_id"]: d for d in api(url, "/api/v2/dags", token)["dags"]}
        missing = dag_ids - set(dags)
        if not missing:
            return dags
        assert time.monotonic() < give_up, (
            f"the DAG processor did not parse {sorted(missing)} within {timeout_s:.0f} s"
        )
        time.sleep(5)
