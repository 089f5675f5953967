"""Where things live and how the running deployment is configured.

Everything comes from environment variables with safe local defaults, so the same code
runs on the embedded default (one machine, state under ``.missionpulse/``) and on a real
deployment (warehouse URL, platform base URLs and tokens from the environment).
"""

from __future__ import annotations

import os
from pathlib import Path

PLATFORMS: tuple[str, ...] = ("x", "facebook", "instagram", "youtube")


def project_root() -> Path:
    """The repository root: ``MISSIONPULSE_HOME`` or the folder holding this package."""
    env = os.environ.get("MISSIONPULSE_HOME")
    if env:
        return Path(env).resolve()
    return Path(__file__).resolve().parent.parent


def state_dir() -> Path:
    """Local state (warehouse cluster, landing zone, Airflow metadata, logs)."""
    env = os.environ.get("MISSIONPULSE_STATE_DIR")
    path = Path(env).resolve() if env else project_root() / ".missionpulse"
    path.mkdir(parents=True, exist_ok=True)
    return path


def config_dir() -> Path:
    env = os.environ.get("MISSIONPULSE_CONFIG_DIR")
    return Path(env).resolve() if env else project_root() / "config"


def landing_dir() -> Path:
    env = os.environ.get("MISSIONPULSE_LANDING_DIR")
    return Path(env).resolve() if env else state_dir() / "landing"


def logs_dir() -> Path:
    path = state_dir() / "logs"
    path.mkdir(parents=True, exist_ok=True)
    return path


def dbt_project_dir() -> Path:
    return project_root() / "dbt_project"


def env_count(name: str, unit: str = "") -> int | None:
    """The whole number >= 1 in environment variable ``name``, None when unset or empty;
    anything else is refused naming the variable (``unit``, e.g. "of slots", in the text)."""
    raw = os.environ.get(name)
    if not raw:
        return None
    try:
        value = int(raw)
    except ValueError:
        value = 0
    if value < 1:
        what = f"a whole number {unit} >= 1" if unit else "a whole number >= 1"
        raise ValueError(f"{name} must be {what}, got {raw!r}")
    return value
