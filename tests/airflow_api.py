"""Helpers shared by the tests that start Airflow's own servers (`missionpulse airflow start`)."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import urllib.request
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
