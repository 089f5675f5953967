"""The style and type checks of ``make lint`` that run in seconds, so CI enforces them:
ruff (lint and format) on all the Python, mypy on the packages (sqlfluff, which compiles
the dbt project against a warehouse, stays in ``make lint``)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


@pytest.mark.parametrize(
    "command",
    [
        ["ruff", "check", "."],
        ["ruff", "format", "--check", "."],
        ["mypy", "missionpulse", "extractors", "expectations", "models"],
    ],
    ids=["ruff-check", "ruff-format", "mypy"],
)
def test_lint(command: list[str]) -> None:
    done = subprocess.run(
        [str(BIN / command[0]), *command[1:]], cwd=ROOT, capture_output=True, text=True
    )
    output = done.stdout[-4000:] + done.stderr[-2000:]
    assert done.returncode == 0, f"`{' '.join(command)}` failed (see `make lint`):\n{output}"
