"""Shared fixtures: one throwaway embedded warehouse for the whole test session.

Tests never touch the user's ``.missionpulse/``: the session's cluster lives in a temporary
state dir, and ``MISSIONPULSE_WAREHOUSE_URL`` points every in-process call at it.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from missionpulse import db, warehouse


@pytest.fixture(scope="session")
def test_state_dir() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="missionpulse-test-"))
    path.chmod(0o755)  # as root the server runs as another OS user, which must traverse it
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="session")
def warehouse_url(test_state_dir: Path) -> Iterator[str]:
    """A running embedded warehouse with the pipeline's schemas, for the whole session."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MISSIONPULSE_STATE_DIR", str(test_state_dir))
        mp.delenv("MISSIONPULSE_WAREHOUSE_URL", raising=False)
        url = warehouse.start()
        db.ensure_schemas(url)
        mp.setenv("MISSIONPULSE_WAREHOUSE_URL", url)
        try:
            yield url
        finally:
            mp.delenv("MISSIONPULSE_WAREHOUSE_URL", raising=False)
            warehouse.stop()


@pytest.fixture
def conn(warehouse_url: str) -> Iterator[psycopg.Connection]:
    with psycopg.connect(warehouse_url) as connection:
        yield connection


@pytest.fixture
def landing_root(tmp_path: Path) -> Path:
    return tmp_path / "landing"


def pytest_configure(config: pytest.Config) -> None:
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")
