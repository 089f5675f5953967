"""The project-local PostgreSQL warehouse: start, connect, stop, restart, env override.

The server tests share one cluster in a throwaway state dir (``MISSIONPULSE_STATE_DIR``), so
they never touch ``.missionpulse/``. They run in file order: start, idempotent start, stop and
restart with data kept, recovery from a stale pid file.
"""

from __future__ import annotations

import logging
import os
import shutil
import stat
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import psycopg
import pytest

from missionpulse import warehouse

CLOSED_PORT_URL = "postgresql://someone:s3cret@127.0.0.1:9/elsewhere"


# ----------------------------------------------------------------------------- no server needed


def test_external_url_overrides_everything(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("MISSIONPULSE_STATE_DIR", str(tmp_path))
    monkeypatch.setenv("MISSIONPULSE_WAREHOUSE_URL", CLOSED_PORT_URL)

    assert warehouse.url() == CLOSED_PORT_URL
    assert warehouse.start() == CLOSED_PORT_URL
    assert warehouse.ensure_running() == CLOSED_PORT_URL
    warehouse.stop()
    status = warehouse.status()

    assert status.external
    assert not status.running  # nothing listens on port 9
    assert status.url == CLOSED_PORT_URL
    assert status.port == 9
    assert status.data_dir is None and status.pid is None
    assert "s3cret" not in repr(status)
    assert not (tmp_path / "warehouse").exists()  # no local cluster was made


def test_url_before_start_says_what_to_do(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("MISSIONPULSE_STATE_DIR", str(tmp_path))
    monkeypatch.delenv("MISSIONPULSE_WAREHOUSE_URL", raising=False)

    with pytest.raises(warehouse.WarehouseError, match="start"):
        warehouse.url()
    assert not warehouse.status().running


def test_bindir_env_must_hold_the_binaries(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("MISSIONPULSE_PG_BINDIR", str(tmp_path))

    with pytest.raises(warehouse.WarehouseError, match="MISSIONPULSE_PG_BINDIR"):
        warehouse.find_bindir()


# ----------------------------------------------------------------------------- a real server


@pytest.fixture(scope="module")
def state_dir() -> Iterator[Path]:
    """A throwaway state dir; the cluster in it is stopped and removed afterwards."""
    try:
        warehouse.find_bindir()
    except warehouse.WarehouseError as exc:
        pytest.fail(f"PostgreSQL server binaries are needed (make setup installs them): {exc}")
    path = Path(tempfile.mkdtemp(prefix="missionpulse-warehouse-test-"))
    path.chmod(0o755)  # as root the server runs as another OS user, which must traverse it
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MISSIONPULSE_STATE_DIR", str(path))
        mp.delenv("MISSIONPULSE_WAREHOUSE_URL", raising=False)
        try:
            yield path
        finally:
            warehouse.stop()
            shutil.rmtree(path, ignore_errors=True)


def _select_one(url: str) -> int:
    with psycopg.connect(url, connect_timeout=5) as conn:
        row = conn.execute("select 1").fetchone()
    assert row is not None
    return int(row[0])


@pytest.mark.integration
def test_start_serves_tcp_only(state_dir: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="missionpulse.warehouse")
    url = warehouse.start()

    parts = urlsplit(url)
    assert (parts.username, parts.hostname, parts.path) == (
        "missionpulse",
        "127.0.0.1",
        "/missionpulse",
    )
    assert parts.password and parts.password not in caplog.text
    assert _select_one(url) == 1
    psql = warehouse.find_bindir() / "psql"
    done = subprocess.run(
        [str(psql) if psql.exists() else "psql", url, "-Atc", "select 1"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert (done.returncode, done.stdout.strip()) == (0, "1"), done.stderr
    with psycopg.connect(url) as conn:
        listen = conn.execute("show listen_addresses").fetchone()
        sockets = conn.execute("show unix_socket_directories").fetchone()
    assert listen == ("127.0.0.1",) and sockets == ("",)

    status = warehouse.status()
    assert status.running and status.url == url and status.port == parts.port
    assert status.pid and status.data_dir == state_dir / "warehouse" / "data"
    assert status.log_file and status.log_file.exists()
    assert parts.password not in repr(status)
    credentials = state_dir / "warehouse" / "credentials.json"
    assert stat.S_IMODE(credentials.stat().st_mode) == 0o600


@pytest.mark.integration
def test_start_again_is_idempotent(state_dir: Path) -> None:
    url = warehouse.ensure_running()
    pid = warehouse.status().pid

    assert warehouse.start() == url
    assert warehouse.url() == url
    assert warehouse.status().pid == pid


@pytest.mark.integration
def test_stop_then_restart_keeps_data(state_dir: Path) -> None:
    url = warehouse.start()
    with psycopg.connect(url) as conn:
        conn.execute("create table kept (id int primary key, note text)")
        conn.execute("insert into kept values (1, 'survives a restart')")

    warehouse.stop()
    status = warehouse.status()
    assert not status.running and status.url is None and status.pid is None
    with pytest.raises(psycopg.OperationalError):
        _select_one(url)
    warehouse.stop()  # idempotent

    assert warehouse.start() == url  # the previous port was still free
    with psycopg.connect(url) as conn:
        assert conn.execute("select note from kept").fetchall() == [("survives a restart",)]


@pytest.mark.integration
def test_start_recovers_from_a_stale_pid_file(state_dir: Path) -> None:
    url = warehouse.start()
    warehouse.stop()
    pidfile = state_dir / "warehouse" / "data" / "postmaster.pid"
    port = urlsplit(url).port
    # A crash leaves postmaster.pid behind, and its pid may since belong to another process.
    pidfile.write_text(f"{os.getpid()}\n{pidfile.parent}\n0\n{port}\n\n127.0.0.1\n0 0\nready\n")

    assert not warehouse.status().running
    assert warehouse.start() == url
    assert warehouse.status().running
    assert _select_one(url) == 1
