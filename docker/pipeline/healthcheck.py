#!/usr/bin/env python
"""Health check of one Airflow component in the pipeline image (compose's ``healthcheck``).

    missionpulse-entrypoint missionpulse-healthcheck api-server|scheduler|dag-processor|
                                                     triggerer|worker
    missionpulse-healthcheck http URL        (any image: the URL answers 200; Superset)

Run the Airflow checks through the entrypoint so that they see the same database and broker
settings as the component. Exit 0 when healthy, 1 (with the reason on stderr) otherwise.
Standard library only: the Superset image runs it too.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import urllib.request

TIMEOUT_S = 20


def http_ok(url: str) -> None:
    with urllib.request.urlopen(url, timeout=TIMEOUT_S) as reply:
        if reply.status != 200:
            raise RuntimeError(f"{url} answered {reply.status}")


def command_ok(argv: list[str]) -> None:
    done = subprocess.run(argv, capture_output=True, text=True, timeout=TIMEOUT_S, check=False)
    if done.returncode != 0:
        detail = (done.stderr or done.stdout).strip().splitlines()
        raise RuntimeError(f"{' '.join(argv[:3])} ... exited {done.returncode}: {detail[-1:]}")


CHECKS = {
    # the API server answers (version needs no login)
    "api-server": lambda: http_ok("http://localhost:8080/api/v2/version"),
    # AIRFLOW__SCHEDULER__ENABLE_HEALTH_CHECK: 200 while the scheduler heartbeats
    "scheduler": lambda: http_ok("http://localhost:8974/health"),
    # a recent heartbeat of this host's job in the metadata DB
    "dag-processor": lambda: command_ok(
        ["airflow", "jobs", "check", "--job-type", "DagProcessorJob", "--local"]
    ),
    "triggerer": lambda: command_ok(
        ["airflow", "jobs", "check", "--job-type", "TriggererJob", "--local"]
    ),
    # this worker answers a ping through the broker
    "worker": lambda: command_ok(
        [
            "celery",
            "--app",
            "airflow.providers.celery.executors.celery_executor.app",
            "inspect",
            "ping",
            "--destination",
            f"celery@{socket.gethostname()}",
        ]
    ),
}


def main(argv: list[str]) -> int:
    if len(argv) == 3 and argv[1] == "http":
        check = lambda: http_ok(argv[2])  # noqa: E731
    elif len(argv) == 2 and argv[1] in CHECKS:
        check = CHECKS[argv[1]]
    else:
        print(f"usage: missionpulse-healthcheck {'|'.join(CHECKS)} | http URL", file=sys.stderr)
        return 2
    try:
        check()
    except Exception as err:  # any failure is "unhealthy", with its reason
        print(f"{argv[1]} unhealthy: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
