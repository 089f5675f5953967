"""The warehouse: a project-local PostgreSQL cluster, or an external one.

By default MissionPulse keeps its own PostgreSQL cluster under
``<state_dir>/warehouse/`` (``.missionpulse/warehouse/``):

- ``data/``             the cluster (``initdb -A scram-sha-256``, UTF8, superuser ``missionpulse``)
- ``postgres.log``      the server log (look here first when something fails)
- ``credentials.json``  port, user, database and the generated password (mode 0600)

The server listens only on TCP ``127.0.0.1`` on a free port and opens no Unix socket, so it
never touches ``/var/run/postgresql``. ``initdb`` refuses to run as root, so when this code
runs as root the server runs as an unprivileged OS user: the owner of an existing cluster,
else the system user ``missionpulse`` (created if missing; ``nobody`` where ``useradd`` is
unavailable). Parents of the cluster that user cannot traverse get an ACL entry for it only.

Set ``MISSIONPULSE_WAREHOUSE_URL`` to use an existing PostgreSQL instead: ``url()`` returns it,
``start()``/``stop()`` leave it alone and ``status()`` only checks that it answers.
Set ``MISSIONPULSE_PG_BINDIR`` to choose the PostgreSQL server binaries.

Other code calls :func:`ensure_running` and connects to the URL it returns.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import pwd
import re
import secrets
import shlex
import shutil
import socket
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from urllib.parse import urlsplit

import psycopg
from psycopg import sql

from missionpulse import settings

log = logging.getLogger(__name__)

ROLE = "missionpulse"
DBNAME = "missionpulse"
OS_USER = "missionpulse"
HOST = "127.0.0.1"
ENV_URL = "MISSIONPULSE_WAREHOUSE_URL"
ENV_BINDIR = "MISSIONPULSE_PG_BINDIR"
SERVER_SETTINGS: dict[str, str] = {
    "listen_addresses": HOST,
    "unix_socket_directories": "",
    "shared_buffers": "128MB",
    "max_connections": "100",
}
PG_CTL_WAIT_S = 60
CONNECT_TIMEOUT_S = 5
_NOT_YOURS = (
    "run as the user who created the warehouse (root?), "
    "or set MISSIONPULSE_STATE_DIR to a directory you own"
)


class WarehouseError(RuntimeError):
    """The warehouse could not be found, started, stopped or reached."""


@dataclass(frozen=True)
class WarehouseStatus:
    """Where the warehouse is and whether it answers. ``url`` holds the password: not shown."""

    running: bool
    url: str | None = field(repr=False)
    port: int | None
    data_dir: Path | None
    pid: int | None
    log_file: Path | None
    external: bool = False


@dataclass(frozen=True)
class _Paths:
    root: Path
    data: Path
    log: Path
    credentials: Path
    lock: Path
    pwfile: Path

    @property
    def pidfile(self) -> Path:
        return self.data / "postmaster.pid"

    @property
    def initialised(self) -> bool:
        return (self.data / "PG_VERSION").exists()


@dataclass(frozen=True)
class _Credentials:
    """What ``credentials.json`` holds."""

    password: str = field(repr=False)
    port: int | None = None
    host: str = HOST
    user: str = ROLE
    dbname: str = DBNAME

    @property
    def url(self) -> str:
        return f"postgresql://{self.user}:{self.password}@{self.host}:{self.port}/{self.dbname}"


@dataclass(frozen=True)
class _Server:
    """How to run the PostgreSQL binaries: where they are and as which OS user."""

    bindir: Path
    account: pwd.struct_passwd | None  # None: run as ourselves (not root)

    def argv(self, program: str, *args: str) -> list[str]:
        return self.as_account([str(self.bindir / program), *args])

    def as_account(self, command: list[str]) -> list[str]:
        if self.account is None:
            return command
        if shutil.which("runuser"):
            return ["runuser", "-u", self.account.pw_name, "--", *command]
        return [
            "setpriv",
            f"--reuid={self.account.pw_uid}",
            f"--regid={self.account.pw_gid}",
            "--init-groups",
            "--",
            *command,
        ]


# ----------------------------------------------------------------------------- public API


def url() -> str:
    """The warehouse URL: ``MISSIONPULSE_WAREHOUSE_URL`` or the local cluster's."""
    external = os.environ.get(ENV_URL)
    if external:
        return external
    paths = _paths()
    creds = _read_credentials(paths)
    if creds is None:
        raise _error(
            "reading the warehouse credentials",
            f"{paths.credentials} does not exist: the local warehouse was never initialised",
            paths,
            "call missionpulse.warehouse.start() (or ensure_running()) first",
        )
    return creds.url


def start() -> str:
    """Initialise (once) and start the local cluster, create the database; return the URL.

    Idempotent: when the server already runs, only its URL is returned.
    """
    if os.environ.get(ENV_URL):
        log.info("external warehouse configured (%s): not starting a local cluster", ENV_URL)
        return url()
    paths = _paths()
    with _locked(paths):
        server = _server(paths)
        _prepare_dirs(paths, server)
        if not paths.initialised:
            _initdb(paths, server)
        creds = _read_credentials(paths)
        if creds is None:
            raise _error(
                "reading the warehouse credentials",
                f"{paths.data} holds a cluster but {paths.credentials} is missing",
                paths,
                f"restore {paths.credentials}, or delete {paths.data} for a new, empty cluster",
            )
        live = _live_postmaster(paths)
        if live is None:
            _remove_stale_pidfile(paths)
            creds = _start_server(paths, server, creds)
        elif live[1] != creds.port:
            creds = _write_credentials(paths, server, replace(creds, port=live[1]))
        _ensure_database(paths, creds)
        return creds.url


def ensure_running() -> str:
    """Start the warehouse if needed (local cluster) and return its URL. Other code calls this."""
    return start()


def stop() -> None:
    """Stop the local cluster (fast shutdown). Does nothing when it is not running."""
    if os.environ.get(ENV_URL):
        log.info("external warehouse configured (%s): nothing to stop", ENV_URL)
        return
    paths = _paths()
    with _locked(paths):
        if _live_postmaster(paths) is None:
            _remove_stale_pidfile(paths)
            return
        server = _server(paths)
        _run(
            server.argv(
                "pg_ctl",
                "stop",
                "-D",
                str(paths.data),
                "-m",
                "fast",
                "-w",
                "-t",
                str(PG_CTL_WAIT_S),
            ),
            "stopping the warehouse (pg_ctl stop)",
            paths,
            f"look at the log; kill the postgres process listed in {paths.pidfile} if it hangs",
        )
        log.info("stopped local warehouse (%s)", paths.data)


def status() -> WarehouseStatus:
    """Whether the warehouse runs, and where. For an external URL: whether it answers."""
    external = os.environ.get(ENV_URL)
    if external:
        return WarehouseStatus(
            running=_answers(external),
            url=external,
            port=urlsplit(external).port,
            data_dir=None,
            pid=None,
            log_file=None,
            external=True,
        )
    paths = _paths()
    creds = _read_credentials(paths)
    live = _live_postmaster(paths)
    running = live is not None and creds is not None
    return WarehouseStatus(
        running=running,
        url=creds.url if running and creds is not None else None,
        port=live[1] if live else (creds.port if creds else None),
        data_dir=paths.data,
        pid=live[0] if live else None,
        log_file=paths.log,
    )


# ----------------------------------------------------------------------------- locating things


def _paths() -> _Paths:
    root = settings.state_dir() / "warehouse"
    return _Paths(
        root=root,
        data=root / "data",
        log=root / "postgres.log",
        credentials=root / "credentials.json",
        lock=root / ".lock",
        pwfile=root / ".initdb-password",
    )


def _error(what: str, detail: str, paths: _Paths, fix: str) -> WarehouseError:
    return WarehouseError(f"{what} failed: {detail}\n  log: {paths.log}\n  to fix: {fix}")


def find_bindir() -> Path:
    """The PostgreSQL server binaries: env, newest Debian install, or ``pg_config --bindir``."""
    env = os.environ.get(ENV_BINDIR)
    if env:
        path = Path(env)
        if not (path / "initdb").is_file() or not (path / "pg_ctl").is_file():
            raise WarehouseError(
                f"{ENV_BINDIR}={env} holds no initdb and pg_ctl: "
                "point it at a PostgreSQL bin directory"
            )
        return path
    debian = [
        p
        for p in Path("/usr/lib/postgresql").glob("*/bin")
        if (p / "initdb").is_file() and (p / "pg_ctl").is_file()
    ]
    if debian:
        return max(debian, key=lambda p: _version_key(p.parent.name))
    pg_config = shutil.which("pg_config")
    if pg_config:
        out = subprocess.run(
            [pg_config, "--bindir"], capture_output=True, text=True, check=False
        ).stdout.strip()
        if out and (Path(out) / "initdb").is_file() and (Path(out) / "pg_ctl").is_file():
            return Path(out)
    raise WarehouseError(
        "PostgreSQL server binaries (initdb, pg_ctl) not found. Install them "
        f"(Debian/Ubuntu: apt-get install postgresql), or set {ENV_BINDIR} to their bin directory, "
        f"or set {ENV_URL} to use an existing PostgreSQL."
    )


def _version_key(name: str) -> tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"\d+", name))


def _server(paths: _Paths) -> _Server:
    account = _server_account(paths) if os.geteuid() == 0 else None
    return _Server(bindir=find_bindir(), account=account)


def _server_account(paths: _Paths) -> pwd.struct_passwd:
    """The unprivileged OS user the server runs as when we are root.

    The owner of an existing cluster (so root and that user can both run it), else
    ``missionpulse`` (created when missing), else ``nobody``.
    """
    owner = paths.data.stat().st_uid if paths.data.exists() else 0
    if owner != 0:
        try:
            return pwd.getpwuid(owner)
        except KeyError as exc:
            raise _error(
                "finding the owner of the warehouse cluster",
                f"{paths.data} belongs to uid {owner}, which has no account",
                paths,
                f"chown -R {OS_USER}: {paths.data}, or delete it for a new, empty cluster",
            ) from exc
    try:
        return pwd.getpwnam(OS_USER)
    except KeyError:
        pass
    useradd = shutil.which("useradd")
    if useradd is None:
        log.warning("useradd not found: running the warehouse as 'nobody'")
        return pwd.getpwnam("nobody")
    done = subprocess.run(
        [useradd, "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", OS_USER],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise WarehouseError(
            f"creating the OS user {OS_USER!r} failed: {done.stderr.strip()}\n"
            "  to fix: create it yourself: "
            f"useradd --system --no-create-home --shell /usr/sbin/nologin {OS_USER}"
        )
    return pwd.getpwnam(OS_USER)


# ------------------------------------------------------------------------- files and directories


@contextmanager
def _locked(paths: _Paths) -> Iterator[None]:
    """Serialise start/stop between processes (parallel tasks all call ensure_running)."""
    try:
        paths.root.mkdir(mode=0o700, parents=True, exist_ok=True)
        handle = paths.lock.open("a")
    except OSError as exc:
        raise _error("opening the warehouse directory", str(exc), paths, _NOT_YOURS) from exc
    with handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield


def _prepare_dirs(paths: _Paths, server: _Server) -> None:
    """Make sure the server's OS user can reach the warehouse directory and owns its files."""
    account = server.account
    if account is None:
        if paths.data.exists() and paths.data.stat().st_uid != os.geteuid():
            raise _error(
                "opening the warehouse",
                f"{paths.data} belongs to uid {paths.data.stat().st_uid}, not to you",
                paths,
                "run as that user (or as root), or point MISSIONPULSE_STATE_DIR elsewhere",
            )
        return
    _ensure_traversable(paths, server, account.pw_name)
    paths.root.chmod(0o700)
    for path in (paths.root, paths.lock, paths.credentials, paths.log):
        if path.exists():
            os.chown(path, account.pw_uid, account.pw_gid)


def _ensure_traversable(paths: _Paths, server: _Server, user: str) -> None:
    """Every parent of the cluster must be traversable by the server's OS user.

    A blocked parent gets an ACL entry for that user only (``setfacl -m u:USER:x``); nothing is
    ever opened up to everyone.
    """
    setfacl = shutil.which("setfacl")
    for _ in paths.root.parents:  # at most one fix per parent
        blocked = _first_blocked_parent(paths, server)
        if blocked is None:
            return
        fix = f"setfacl -m u:{user}:x {blocked}"
        if setfacl is None:
            raise _error(
                "checking the warehouse directory",
                f"the server's OS user {user} cannot traverse {blocked}",
                paths,
                f"grant {user} (only) execute on it: {fix} (apt-get install acl), "
                "or set MISSIONPULSE_STATE_DIR to a directory whose parents it can traverse",
            )
        log.info("granting %s traversal of %s (ACL)", user, blocked)
        _run(shlex.split(fix), f"granting {user} traversal of {blocked}", paths, f"run: {fix}")


def _first_blocked_parent(paths: _Paths, server: _Server) -> Path | None:
    """The topmost parent of the warehouse directory the server's OS user cannot traverse."""
    probe = 'for d in "$@"; do [ -x "$d" ] || { printf "%s" "$d"; exit; }; done'
    parents = [str(p) for p in reversed(paths.root.parents)]
    done = subprocess.run(
        server.as_account(["/bin/sh", "-c", probe, "sh", *parents]),
        capture_output=True,
        text=True,
        check=False,
    )
    return Path(done.stdout) if done.stdout else None


def _read_credentials(paths: _Paths) -> _Credentials | None:
    try:
        text = paths.credentials.read_text()
    except FileNotFoundError:
        return None
    except PermissionError as exc:
        raise _error(
            "reading the warehouse credentials",
            f"{paths.credentials}: permission denied",
            paths,
            _NOT_YOURS,
        ) from exc
    return _Credentials(**json.loads(text))


def _write_credentials(paths: _Paths, server: _Server, creds: _Credentials) -> _Credentials:
    """Write the credentials atomically, readable only by the server's OS user (0600)."""
    tmp = paths.credentials.with_suffix(".tmp")
    tmp.unlink(missing_ok=True)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    if server.account is not None:
        os.fchown(fd, server.account.pw_uid, server.account.pw_gid)
    with os.fdopen(fd, "w") as handle:
        json.dump(asdict(creds), handle, indent=2)
        handle.write("\n")
    tmp.replace(paths.credentials)
    return creds


# ----------------------------------------------------------------------------- the server


def _run(argv: list[str], what: str, paths: _Paths, fix: str) -> None:
    """Run one command; on failure raise a WarehouseError with its output and the fix."""
    try:
        done = subprocess.run(
            argv,
            capture_output=True,
            text=True,
            check=False,
            cwd=paths.root,  # a directory the server's OS user can enter
            timeout=PG_CTL_WAIT_S + 30,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise _error(what, str(exc), paths, fix) from exc
    if done.returncode != 0:
        output = (done.stderr.strip() or done.stdout.strip())[-2000:]
        raise _error(what, f"exit {done.returncode}: {output}", paths, fix)


def _initdb(paths: _Paths, server: _Server) -> None:
    """Create the cluster with a generated superuser password (scram-sha-256 everywhere)."""
    if paths.data.exists():
        shutil.rmtree(paths.data)  # a half-made cluster from an interrupted initdb
    password = secrets.token_urlsafe(24)
    fd = os.open(paths.pwfile, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    if server.account is not None:  # initdb runs as that user and must read it
        os.fchown(fd, server.account.pw_uid, server.account.pw_gid)
    with os.fdopen(fd, "w") as handle:
        handle.write(password + "\n")
    try:
        _run(
            server.argv(
                "initdb",
                "-D",
                str(paths.data),
                "--auth=scram-sha-256",
                f"--username={ROLE}",
                f"--pwfile={paths.pwfile}",
                "--encoding=UTF8",
                "--locale=C.UTF-8",
            ),
            "creating the warehouse cluster (initdb)",
            paths,
            f"read the error above; delete {paths.data} and retry",
        )
    finally:
        paths.pwfile.unlink(missing_ok=True)
    _write_credentials(paths, server, _Credentials(password=password))
    log.info("initialised local warehouse cluster in %s", paths.data)


def _live_postmaster(paths: _Paths) -> tuple[int, int] | None:
    """(pid, port) of the cluster's running postmaster, or None (no or stale postmaster.pid)."""
    try:
        lines = paths.pidfile.read_text().splitlines()
    except FileNotFoundError:
        return None
    except PermissionError as exc:
        raise _error(
            "reading the warehouse pid file",
            f"{paths.pidfile}: permission denied",
            paths,
            _NOT_YOURS,
        ) from exc
    if len(lines) < 4 or not lines[0].strip().isdigit():
        return None  # being written by a starting postmaster, or garbage
    pid = int(lines[0])
    if not _runs_in(pid, paths.data):
        return None
    return pid, int(lines[3])


def _runs_in(pid: int, data_dir: Path) -> bool:
    """Whether process ``pid`` exists and works in ``data_dir`` (a postmaster chdirs there).

    Linux only (/proc): a pid reused by an unrelated process after a crash does not count.
    """
    try:
        return Path(os.readlink(f"/proc/{pid}/cwd")) == data_dir.resolve()
    except OSError:
        return False


def _remove_stale_pidfile(paths: _Paths) -> None:
    """Remove postmaster.pid left by a postmaster that is gone (crash, reboot, kill -9)."""
    if paths.pidfile.exists() and _live_postmaster(paths) is None:
        log.warning("removing stale %s (its postmaster is gone)", paths.pidfile)
        paths.pidfile.unlink(missing_ok=True)


def _port_is_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as postgres does
        try:
            sock.bind((HOST, port))
        except OSError:
            return False
    return True


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def _start_server(paths: _Paths, server: _Server, creds: _Credentials) -> _Credentials:
    """Start on the previous port if it is free, else on a new one; retry once on a port race."""
    port = creds.port if creds.port is not None and _port_is_free(creds.port) else _free_port()
    for attempt in (1, 2):
        creds = _write_credentials(paths, server, replace(creds, port=port))
        offset = paths.log.stat().st_size if paths.log.exists() else 0
        options = " ".join(
            [f"-p {port}", *(f"-c {shlex.quote(f'{k}={v}')}" for k, v in SERVER_SETTINGS.items())]
        )
        what = "starting the warehouse (pg_ctl start)"
        fix = "read the log; stop whatever holds the port or data directory, then retry"
        try:
            _run(
                server.argv(
                    "pg_ctl",
                    "start",
                    "-D",
                    str(paths.data),
                    "-l",
                    str(paths.log),
                    "-w",
                    "-t",
                    str(PG_CTL_WAIT_S),
                    "-o",
                    options,
                ),
                what,
                paths,
                fix,
            )
        except WarehouseError as exc:
            said = _log_since(paths, offset).strip()
            if attempt == 1 and "already in use" in said:
                port = _free_port()
                continue
            detail = f"the server log says:\n{said[-2000:]}" if said else str(exc)
            raise _error(what, detail, paths, fix) from exc
        break
    log.info("started local warehouse on %s:%s (data: %s)", HOST, port, paths.data)
    return creds


def _log_since(paths: _Paths, offset: int) -> str:
    try:
        with paths.log.open("rb") as handle:
            handle.seek(offset)
            return handle.read().decode(errors="replace")
    except OSError:
        return ""


def _ensure_database(paths: _Paths, creds: _Credentials) -> None:
    """Create the ``missionpulse`` database when it is missing."""
    try:
        with psycopg.connect(
            host=creds.host,
            port=creds.port,
            user=creds.user,
            password=creds.password,
            dbname="postgres",
            autocommit=True,
            connect_timeout=CONNECT_TIMEOUT_S,
        ) as conn:
            exists = conn.execute(
                "select 1 from pg_database where datname = %s", (creds.dbname,)
            ).fetchone()
            if exists is None:
                conn.execute(sql.SQL("create database {}").format(sql.Identifier(creds.dbname)))
                log.info("created database %s", creds.dbname)
    except psycopg.Error as exc:
        raise _error(
            f"creating the {creds.dbname} database",
            str(exc).strip(),
            paths,
            f"check that the server runs (status()) and {paths.credentials} matches the cluster",
        ) from exc


def _answers(conninfo: str) -> bool:
    """Whether a PostgreSQL server accepts a connection and ``select 1`` at this URL."""
    try:
        with psycopg.connect(conninfo, connect_timeout=CONNECT_TIMEOUT_S) as conn:
            conn.execute("select 1")
    except psycopg.Error:
        return False
    return True
