"""The BI tool: Apache Superset, with the dashboards kept as code in ``bi/dashboards/``.

Superset needs SQLAlchemy < 2, so it lives in its own venv (``.venv-bi``, ``make setup-bi``)
and runs as a separate process. Everything it keeps is under ``<state_dir>/superset/``:

- ``superset.db``        Superset's metadata (SQLite)
- ``secret_key``         the generated SECRET_KEY (mode 0600)
- ``admin.json``         the admin user's generated password (mode 0600)
- ``superset.json``      pid and port of the running server (``superset.pid``: the pid alone)
- ``superset.log``       what the server and the bootstrap printed (look here first)

:func:`start` connects the warehouse through the read-only role ``bi_reader``, imports the
whole bundle with overwrite (so editing the YAML and restarting shows the change), then
serves on ``127.0.0.1`` (port ``MISSIONPULSE_BI_PORT``, else 8088 when free, else a free
one) under gunicorn in its own process group, which :func:`stop` ends as a whole.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import secrets
import signal
import socket
import subprocess
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from missionpulse import db, processes, settings, warehouse

log = logging.getLogger(__name__)

ENV_PORT = "MISSIONPULSE_BI_PORT"
ENV_VENV = "MISSIONPULSE_BI_VENV"
ENV_BUNDLE = "MISSIONPULSE_BI_BUNDLE"
HOST = "127.0.0.1"
# Superset's usual port (dbt's exposures link there): taken when free, else any free port
PREFERRED_PORT = 8088
ADMIN_USER = "admin"
START_TIMEOUT_S = 240
STOP_TIMEOUT_S = 20
# bump when the way Superset's metadata database is initialised changes
_INIT_STAMP = "superset-6.1.0-v1"


class BIError(RuntimeError):
    """The BI tool could not be set up, started, reached or stopped."""


@dataclass(frozen=True)
class BIStatus:
    running: bool
    url: str | None
    pid: int | None
    port: int | None
    admin_user: str = ADMIN_USER
    admin_password: str | None = field(default=None, repr=False)
    log_file: Path | None = None
    # datasets whose columns could not be read from the warehouse (mart not built yet)
    not_refreshed: tuple[str, ...] = ()


# ----------------------------------------------------------------------------- locations


def home() -> Path:
    path = settings.state_dir() / "superset"
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    return path


def bundle_dir() -> Path:
    """The dashboard bundle: ``MISSIONPULSE_BI_BUNDLE`` or ``bi/dashboards/``."""
    env = os.environ.get(ENV_BUNDLE)
    return Path(env).resolve() if env else settings.project_root() / "bi" / "dashboards"


def venv_dir() -> Path:
    env = os.environ.get(ENV_VENV)
    return Path(env).resolve() if env else settings.project_root() / ".venv-bi"


def _log_file() -> Path:
    return home() / "superset.log"


def _state_file() -> Path:
    return home() / "superset.json"


def _pid_file() -> Path:
    return home() / "superset.pid"


def _private_file(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` atomically, readable only by us (0600)."""
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.unlink(missing_ok=True)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
    tmp.replace(path)


def _secret(path: Path, make: str) -> str:
    if not path.exists():
        _private_file(path, make)
    return path.read_text().strip()


def admin_password() -> str:
    path = home() / "admin.json"
    if not path.exists():
        _private_file(path, json.dumps({"user": ADMIN_USER, "password": secrets.token_urlsafe(12)}))
    return str(json.loads(path.read_text())["password"])


# ----------------------------------------------------------------------------- the process


def _read_state() -> dict[str, int] | None:
    try:
        state = json.loads(_state_file().read_text())
    except (OSError, ValueError):
        return None
    return state if isinstance(state, dict) else None


def _alive(pid: int) -> bool:
    """Whether ``pid`` still is our gunicorn (not a process that reused the number)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    cmdline = Path(f"/proc/{pid}/cmdline")
    if cmdline.exists():
        try:
            return b"gunicorn" in cmdline.read_bytes()
        except OSError:
            return True
    return True


def _healthy(port: int, timeout: float = 3.0) -> bool:
    try:
        with urllib.request.urlopen(f"http://{HOST}:{port}/health", timeout=timeout) as reply:
            return bool(reply.status == 200)
    except OSError:
        return False


def _choose_port(port: int | None) -> int:
    wanted = port or int(os.environ.get(ENV_PORT) or 0)
    if wanted:
        if not processes.port_free(wanted):
            raise BIError(
                f"port {wanted} on {HOST} is taken: stop what listens there, "
                f"or choose another port (--port or {ENV_PORT})"
            )
        return wanted
    if processes.port_free(PREFERRED_PORT):
        return PREFERRED_PORT
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def _not_refreshed() -> tuple[str, ...]:
    try:
        summary = json.loads((home() / "import.json").read_text())
    except (OSError, ValueError):
        return ()
    return tuple(summary.get("datasets_not_refreshed", ()))


def status() -> BIStatus:
    state = _read_state()
    if not state or not _alive(int(state["pid"])):
        return BIStatus(False, None, None, None, log_file=_log_file())
    port = int(state["port"])
    return BIStatus(
        running=True,
        url=f"http://{HOST}:{port}/",
        pid=int(state["pid"]),
        port=port,
        admin_password=admin_password(),
        log_file=_log_file(),
        not_refreshed=_not_refreshed(),
    )


def url() -> str:
    """The address of the running BI tool."""
    current = status()
    if not current.running or current.url is None:
        raise BIError("the BI tool is not running: start it with `missionpulse bi start`")
    return current.url


def _env(database_uri: str | None = None) -> dict[str, str]:
    env = {
        **os.environ,
        "SUPERSET_CONFIG_PATH": str(settings.project_root() / "bi" / "superset_config.py"),
        "SUPERSET_HOME": str(home()),
        "MISSIONPULSE_SUPERSET_HOME": str(home()),
        "FLASK_APP": "superset.app:create_app()",
        "PYTHONUNBUFFERED": "1",
    }
    for name in ("PYTHONPATH", "VIRTUAL_ENV", "MISSIONPULSE_WAREHOUSE_URL"):
        env.pop(name, None)
    env["PATH"] = f"{venv_dir() / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    if database_uri is not None:
        env["MISSIONPULSE_BI_DATABASE_URI"] = database_uri
        env["MISSIONPULSE_BI_ADMIN_PASSWORD"] = admin_password()
    return env


def _run_logged(argv: list[str], env: dict[str, str], what: str) -> None:
    with _log_file().open("ab") as out:
        out.write(f"\n--- {time.strftime('%Y-%m-%dT%H:%M:%S')} {what}\n".encode())
        out.flush()
        done = subprocess.run(
            argv, env=env, stdout=out, stderr=subprocess.STDOUT, cwd=home(), check=False
        )
    if done.returncode != 0:
        raise BIError(
            f"{what} failed (exit {done.returncode})\n  log: {_log_file()}\n"
            "  to fix: read the end of the log; `make setup-bi` reinstalls the BI venv"
        )


def _superset_uri(bi_reader_url: str) -> str:
    scheme, rest = bi_reader_url.split("://", 1)
    return f"postgresql+psycopg2://{rest}" if scheme.startswith("postgres") else bi_reader_url


def prepare() -> str:
    """Initialise Superset's metadata (once), then sync roles, the admin and the bundle.

    Returns the warehouse URI Superset uses (bi_reader). Safe to call while Superset runs.
    """
    python = venv_dir() / "bin" / "python"
    superset = venv_dir() / "bin" / "superset"
    if not superset.exists():
        raise BIError(
            f"Superset is not installed ({superset} is missing): run `make setup-bi` "
            "(about 2 minutes; it creates .venv-bi)"
        )
    admin_url = warehouse.ensure_running()
    db.ensure_schemas(admin_url)
    uri = _superset_uri(db.ensure_bi_reader(admin_url))
    _secret(home() / "secret_key", secrets.token_urlsafe(48))
    env = _env(uri)
    stamp = home() / ".initialised"
    if not stamp.exists() or stamp.read_text().strip() != _INIT_STAMP:
        started = time.monotonic()
        _run_logged([str(superset), "db", "upgrade"], env, "initialising Superset's metadata")
        stamp.write_text(_INIT_STAMP + "\n")
        log.info("initialised Superset metadata in %.0fs", time.monotonic() - started)
    bootstrap = settings.project_root() / "bi" / "bootstrap.py"
    _run_logged(
        [str(python), str(bootstrap), str(bundle_dir())],
        env,
        f"importing the dashboard bundle {bundle_dir()}",
    )
    return uri


def start(port: int | None = None) -> BIStatus:
    """Import the bundle and serve Superset; when it already runs, re-import only."""
    current = status()
    if current.running:
        prepare()
        return status()
    _state_file().unlink(missing_ok=True)
    prepare()
    chosen = _choose_port(port)
    gunicorn = venv_dir() / "bin" / "gunicorn"
    argv = [
        str(gunicorn),
        "--bind",
        f"{HOST}:{chosen}",
        "--workers",
        "1",
        "--worker-class",
        "gthread",
        "--threads",
        "8",
        "--timeout",
        "120",
        "--graceful-timeout",
        "5",
        "superset.app:create_app()",
    ]
    with _log_file().open("ab") as out:
        out.write(f"\n--- {time.strftime('%Y-%m-%dT%H:%M:%S')} serving on {chosen}\n".encode())
        out.flush()
        process = subprocess.Popen(
            argv,
            env=_env(),
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=home(),
            start_new_session=True,  # its own process group: stop() ends gunicorn and workers
        )
    _private_file(_state_file(), json.dumps({"pid": process.pid, "port": chosen}))
    _private_file(_pid_file(), f"{process.pid}\n")
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            _state_file().unlink(missing_ok=True)
            raise BIError(
                f"Superset exited with {process.returncode} while starting\n"
                f"  log: {_log_file()}\n  to fix: read the end of the log"
            )
        if _healthy(chosen):
            return status()
        time.sleep(1)
    stop()
    raise BIError(
        f"Superset did not answer on {HOST}:{chosen} within {START_TIMEOUT_S}s\n"
        f"  log: {_log_file()}"
    )


def stop() -> bool:
    """Stop the server and all its children; True when one was running."""
    state = _read_state()
    if not state:
        return False
    pid, port = int(state["pid"]), int(state["port"])
    was_running = _alive(pid) or any(_alive(member) for member in processes.group_members(pid))
    if was_running:
        processes.stop_group(
            pid, [(signal.SIGTERM, STOP_TIMEOUT_S), (signal.SIGKILL, 2.0)], port=port
        )
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)  # reap it when we started it in this process
    _state_file().unlink(missing_ok=True)
    _pid_file().unlink(missing_ok=True)
    if was_running and not processes.port_free(port):
        raise BIError(f"Superset stopped but port {port} is still taken; see {_log_file()}")
    return was_running
