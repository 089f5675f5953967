"""Helpers shared by the end-to-end tests."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest


def missionpulse(*args: str, state_dir: Path, warehouse_url: str) -> subprocess.CompletedProcess:
    env = {
        **os.environ,
        "MISSIONPULSE_STATE_DIR": str(state_dir),
        "MISSIONPULSE_WAREHOUSE_URL": warehouse_url,
    }
    done = subprocess.run(
        [str(Path(sys.executable).with_name("missionpulse")), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    if done.returncode != 0:
        logs = sorted((state_dir / "logs" / "runs").glob("*.log"))
        errors = [
            line
            for log in logs
            for line in log.read_text(errors="replace").splitlines()
            if any(mark in line for mark in ("[error", "Error", "Traceback", "FAILED", "failed"))
        ]
        pytest.fail(
            f"missionpulse {' '.join(args)} exited {done.returncode}\n"
            f"stdout: {done.stdout[-2000:]}\nstderr: {done.stderr[-2000:]}\n"
            "errors in the run logs:\n" + "\n".join(errors[-60:])
        )
    return done
