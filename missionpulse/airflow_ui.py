"""Airflow's own UI on this machine: ``airflow standalone`` with the project's DAGs.

``start`` launches ``airflow standalone`` (API server + UI, scheduler, DAG processor,
triggerer) in its own process group, bound to 127.0.0.1, with the same configuration the
in-process runs use (:func:`missionpulse.orchestration.configure`: SQLite metadata under
``.missionpulse/airflow``, the warehouse connection, the DAGs folder; the platforms' pools
through :func:`~missionpulse.orchestration.migrate`, since the scheduler never runs a task
whose pool is missing), waits until the API answers, and returns the address and the login.
The API's address is passed on as ``AIRFLOW__API__BASE_URL``, so failure and deadline
alerts link to the right log pages. ``stop`` interrupts the whole group with
SIGINT (SIGTERM leaves children bound to their ports), escalating only if it hangs, and
checks that the port is free again.

DAGs start paused, so starting the UI never starts extracting on its own: unpause the
``extract_<platform>`` DAGs and the ``transform_warehouse``, ``score_sentiment`` and
``publish`` DAGs they feed in the UI (or trigger a run) when you mean it. A paused
downstream DAG drops the day's asset events instead of queueing them.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from missionpulse import orchestration, processes, settings

DEFAULT_PORT = 8080
USERNAME = "admin"


class AirflowUiError(RuntimeError):
    pass


@dataclass(frozen=True)
class UiInfo:
    url: str
    username: str
    password: str
    pid: int
    log: Path


def _pid_file() -> Path:
    return orchestration.airflow_home() / "standalone.pid"


def _state_file() -> Path:
    return orchestration.airflow_home() / "standalone.json"


def _passwords_file() -> Path:
    return orchestration.airflow_home() / "simple_auth_manager_passwords.json.generated"


def running() -> UiInfo | None:
    """The running standalone's address and login, or None."""
    try:
        state = json.loads(_state_file().read_text())
    except (OSError, ValueError):
        return None
    if not processes.group_alive(int(state["pid"])):  # the leader is the group id
        return None
    return UiInfo(
        url=state["url"],
        username=USERNAME,
        password=_read_password(),
        pid=int(state["pid"]),
        log=Path(state["log"]),
    )


def _read_password() -> str:
    try:
        return str(json.loads(_passwords_file().read_text()).get(USERNAME, ""))
    except (OSError, ValueError):
        return ""


def start(warehouse_url: str, port: int = DEFAULT_PORT, timeout_s: float = 240.0) -> UiInfo:
    """Start ``airflow standalone`` on 127.0.0.1:``port`` unless it already runs."""
    current = running()
    if current is not None:
        return current
    if not processes.port_free(port):
        raise AirflowUiError(
            f"port {port} on 127.0.0.1 is taken by another program; choose one with --port"
        )
    orchestration.configure(warehouse_url)
    orchestration.migrate()
    env = os.environ.copy()
    env.update(
        {
            "AIRFLOW__API__HOST": "127.0.0.1",
            "AIRFLOW__API__PORT": str(port),
            "AIRFLOW__API__BASE_URL": f"http://127.0.0.1:{port}",
            "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "True",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": f"{USERNAME}:admin",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(_passwords_file()),
        }
    )
    log = settings.logs_dir() / "airflow-standalone.log"
    airflow = Path(sys.executable).with_name("airflow")
    with log.open("ab") as out:
        process = subprocess.Popen(
            [str(airflow), "standalone"],
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=env,
            start_new_session=True,  # its own process group: stop signals all children
        )
    url = f"http://127.0.0.1:{port}"
    _pid_file().write_text(str(process.pid))
    _state_file().write_text(json.dumps({"pid": process.pid, "url": url, "log": str(log)}))
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            _forget()
            raise AirflowUiError(
                f"airflow standalone exited with status {process.returncode} while starting; "
                f"see {log}"
            )
        if _healthy(url) and _read_password():
            return UiInfo(url, USERNAME, _read_password(), process.pid, log)
        time.sleep(1.0)
    stop()
    raise AirflowUiError(f"Airflow did not answer on {url} within {timeout_s:.0f}s; see {log}")


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/api/v2/monitor/health", timeout=2) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError, ValueError):
        return False


def stop(timeout_s: float = 60.0) -> bool:
    """Stop the standalone and all its children; False when none was running."""
    try:
        state = json.loads(_state_file().read_text())
    except (OSError, ValueError):
        return False
    pid = int(state["pid"])
    port = int(state["url"].rsplit(":", 1)[1])
    processes.stop_group(
        pid, [(signal.SIGINT, timeout_s), (signal.SIGTERM, 10.0), (signal.SIGKILL, 5.0)], port
    )
    _forget()
    if not processes.port_free(port):
        raise AirflowUiError(f"Airflow stopped but port {port} is still in use")
    return True


def _forget() -> None:
    for path in (_pid_file(), _state_file()):
        path.unlink(missing_ok=True)
