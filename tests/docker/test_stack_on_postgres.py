"""The production stack's pieces against a real PostgreSQL, without Docker: the init script
docker/postgres/initdb.d/10-missionpulse.sh (databases and roles, their isolation,
bi_reader's read-only view of the marts), the pipeline's schema code as the non-superuser
warehouse owner, the pipeline image's `init` (Airflow's migration and pools), and the
Superset image's entrypoint and config serving the dashboard bundle (e2e).

The script runs against a throwaway embedded cluster of its own (not the session's
warehouse: it creates cluster-wide roles, bi_reader among them), twice, as the official
postgres image would run it (psql as the superuser) and as a person would against a managed
PostgreSQL (it is idempotent).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote, urlsplit

import psycopg
import pytest

from missionpulse import db, warehouse

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
INIT = ROOT / "docker" / "postgres" / "initdb.d" / "10-missionpulse.sh"
# the embedded cluster's own superuser is called missionpulse: other names here
ROLES = {
    "AIRFLOW_DB_USER": "mp_airflow",
    "AIRFLOW_DB_NAME": "mp_airflow",
    "WAREHOUSE_DB_USER": "mp_warehouse",
    "WAREHOUSE_DB_NAME": "mp_warehouse",
    "SUPERSET_DB_USER": "mp_superset",
    "SUPERSET_DB_NAME": "mp_superset",
}
PASSWORDS = {
    "AIRFLOW_DB_PASSWORD": "air'flow pw",
    "WAREHOUSE_DB_PASSWORD": 'ware"house@pw',
    "SUPERSET_DB_PASSWORD": "super;set",
    "BI_READER_PASSWORD": "bi reader's",
}


@pytest.fixture(scope="module")
def cluster() -> Iterator[tuple[str, Path]]:
    """(superuser URL, state dir) of a throwaway cluster, stopped at the end."""
    state = Path(tempfile.mkdtemp(prefix="missionpulse-docker-init-"))
    state.chmod(0o755)  # as root the server runs as another OS user, which must traverse it
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MISSIONPULSE_STATE_DIR", str(state))
        mp.delenv("MISSIONPULSE_WAREHOUSE_URL", raising=False)
        admin_url = warehouse.start()
        try:
            yield admin_url, state
        finally:
            warehouse.stop()
            shutil.rmtree(state, ignore_errors=True)


def url(admin_url: str, user: str, password: str, database: str) -> str:
    parts = urlsplit(admin_url)
    login = f"{quote(user, safe='')}:{quote(password, safe='')}"
    return f"postgresql://{login}@{parts.hostname}:{parts.port}/{database}"


def run_init(admin_url: str, **overrides: str) -> subprocess.CompletedProcess[str]:
    parts = urlsplit(admin_url)
    env = {
        "PATH": f"{warehouse.find_bindir()}{os.pathsep}/usr/bin{os.pathsep}/bin",
        "PGHOST": parts.hostname or "127.0.0.1",
        "PGPORT": str(parts.port),
        "PGPASSWORD": parts.password or "",
        "POSTGRES_USER": parts.username or "",
        "POSTGRES_DB": parts.path.lstrip("/"),
        **ROLES,
        **PASSWORDS,
        **overrides,
    }
    return subprocess.run(
        ["bash", str(INIT)], env=env, capture_output=True, text=True, timeout=120, check=False
    )


@pytest.fixture(scope="module")
def initialised(cluster: tuple[str, Path]) -> str:
    admin_url, _state = cluster
    for attempt in (1, 2):  # the second run must change nothing and fail nothing
        done = run_init(admin_url)
        assert done.returncode == 0, f"run {attempt}: {done.stderr}"
    return admin_url


def owner_url(admin_url: str) -> str:
    return url(admin_url, "mp_warehouse", PASSWORDS["WAREHOUSE_DB_PASSWORD"], "mp_warehouse")


def test_refuses_to_run_without_a_password(cluster: tuple[str, Path]) -> None:
    done = run_init(cluster[0], BI_READER_PASSWORD="")
    assert done.returncode == 1
    assert "BI_READER_PASSWORD is not set" in done.stderr and "docker/.env" in done.stderr
    done = run_init(cluster[0], SUPERSET_DB_PASSWORD="CHANGE_ME")
    assert done.returncode == 1 and "SUPERSET_DB_PASSWORD is still the placeholder" in done.stderr


def test_each_role_reaches_its_own_database_only(initialised: str) -> None:
    logins = {
        "mp_airflow": PASSWORDS["AIRFLOW_DB_PASSWORD"],
        "mp_warehouse": PASSWORDS["WAREHOUSE_DB_PASSWORD"],
        "mp_superset": PASSWORDS["SUPERSET_DB_PASSWORD"],
    }
    for user, password in logins.items():
        for database in logins:
            target = url(initialised, user, password, database)
            if database == user:
                with psycopg.connect(target) as conn:
                    owner = conn.execute(
                        "select pg_get_userbyid(datdba) from pg_database "
                        "where datname = current_database()"
                    ).fetchone()
                    assert owner == (user,)
            else:
                with pytest.raises(psycopg.OperationalError, match="permission denied"):
                    psycopg.connect(target).close()
    with psycopg.connect(initialised) as conn:
        rows = conn.execute(
            "select rolname, rolsuper, rolcreaterole, rolcreatedb from pg_roles "
            "where rolname like 'mp\\_%' or rolname = 'bi_reader' order by rolname"
        ).fetchall()
    assert rows == [
        ("bi_reader", False, False, False),
        ("mp_airflow", False, False, False),
        # the pipeline keeps bi_reader up to date: CREATEROLE, never superuser
        ("mp_superset", False, False, False),
        ("mp_warehouse", False, True, False),
    ]


def test_bi_reader_reads_marts_and_nothing_else(initialised: str) -> None:
    with psycopg.connect(owner_url(initialised), autocommit=True) as conn:
        owners = conn.execute(
            "select nspname, pg_get_userbyid(nspowner) from pg_namespace "
            "where nspname in ('raw', 'ml', 'audit', 'marts', 'staging') order by 1"
        ).fetchall()
        assert owners == [(s, "mp_warehouse") for s in ("audit", "marts", "ml", "raw", "staging")]
        # tables made after the init script, as dbt and the loaders make them
        conn.execute("create table if not exists marts.probe as select 1 as x")
        conn.execute("create table if not exists raw.probe as select 1 as x")
    reader = url(initialised, "bi_reader", PASSWORDS["BI_READER_PASSWORD"], "mp_warehouse")
    with psycopg.connect(reader, autocommit=True) as conn:
        assert conn.execute("select x from marts.probe").fetchall() == [(1,)]
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("select x from raw.probe")
        with pytest.raises(psycopg.errors.ReadOnlySqlTransaction):
            conn.execute("insert into marts.probe values (2)")
        with pytest.raises(psycopg.errors.ReadOnlySqlTransaction):
            conn.execute("create table public.probe (x int)")


def test_pipeline_creates_its_tables_as_the_warehouse_owner(initialised: str) -> None:
    db.ensure_schemas(owner_url(initialised))
    with psycopg.connect(owner_url(initialised)) as conn:
        tables = conn.execute(
            "select count(*) from pg_tables where schemaname in ('audit', 'ml') "
            "and tableowner = 'mp_warehouse'"
        ).fetchone()
    assert tables is not None and tables[0] >= 7


def test_pipeline_keeps_bi_reader_as_a_non_superuser_owner(
    initialised: str, cluster: tuple[str, Path]
) -> None:
    """What `prepare` does on every run, as the stack's warehouse owner: bi_reader's password
    comes from the file the pipeline image's entrypoint writes from BI_READER_PASSWORD."""
    _admin, state = cluster
    stored = state / "warehouse" / "bi_reader.json"
    stored.write_text(
        json.dumps({"user": "bi_reader", "password": PASSWORDS["BI_READER_PASSWORD"]})
    )
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MISSIONPULSE_STATE_DIR", str(state))
        reader_url = db.ensure_bi_reader(owner_url(initialised))
    with psycopg.connect(reader_url) as conn:
        assert conn.execute("select current_user").fetchone() == ("bi_reader",)


@pytest.mark.e2e
def test_pipeline_image_init_migrates_airflow_as_its_own_role(
    initialised: str, tmp_path: Path
) -> None:
    """The pipeline image's `init` (compose's airflow-init): the entrypoint builds the URL
    from the env file's parts, `airflow db migrate` runs as the non-superuser owner of the
    metadata database, and the platforms' pools are created."""
    from cryptography.fernet import Fernet

    parts = urlsplit(initialised)
    env = {
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}/usr/bin{os.pathsep}/bin",
        "HOME": str(tmp_path),
        "AIRFLOW_HOME": str(tmp_path / "airflow"),
        "MISSIONPULSE_STATE_DIR": str(tmp_path / "state"),
        "AIRFLOW__CORE__DAGS_FOLDER": str(ROOT / "dags"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__EXECUTOR": "CeleryExecutor",
        "POSTGRES_HOST": parts.hostname or "127.0.0.1",
        "POSTGRES_PORT": str(parts.port),
        **ROLES,
        **PASSWORDS,
        "REDIS_PASSWORD": "redis-unused-here",
        "AIRFLOW__CORE__FERNET_KEY": Fernet.generate_key().decode(),
        "AIRFLOW__API_AUTH__JWT_SECRET": "jwt-secret-for-the-test",
        "AIRFLOW__API__SECRET_KEY": "api-secret-for-the-test",
        "MISSIONPULSE_PSEUDONYM_KEY": "pseudonym-key-for-the-test",
    }
    (tmp_path / "airflow").mkdir()
    entrypoint = ROOT / "docker" / "pipeline" / "entrypoint.sh"
    done = subprocess.run(
        ["bash", str(entrypoint), "init"],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert "Airflow's metadata is ready" in done.stdout
    meta = url(initialised, "mp_airflow", PASSWORDS["AIRFLOW_DB_PASSWORD"], "mp_airflow")
    with psycopg.connect(meta) as conn:
        pools: dict[str, int] = dict(conn.execute("select pool, slots from slot_pool").fetchall())
        tables = conn.execute(
            "select count(*) from pg_tables where tableowner = 'mp_airflow'"
        ).fetchone()
    assert {f"missionpulse_{p}" for p in ("x", "facebook", "instagram", "youtube")} <= set(pools)
    assert tables is not None and tables[0] > 40


BI_VENV = ROOT / ".venv-bi"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.e2e
def test_superset_image_serves_the_bundle_reading_marts_as_bi_reader(
    initialised: str, tmp_path: Path
) -> None:
    """The Superset image's entrypoint and config: metadata in its own database, UI state in
    a password-protected Redis, the bundle imported, the warehouse read as bi_reader (marts
    yes, raw no), served under gunicorn and healthy by the image's own health check."""
    if not (BI_VENV / "bin" / "superset").exists():
        pytest.skip("Superset is not installed: make setup-bi")
    redis_server = shutil.which("redis-server")
    if redis_server is None:
        pytest.skip("redis-server is not installed (scripts/system-deps.sh)")
    with psycopg.connect(owner_url(initialised), autocommit=True) as conn:
        conn.execute("drop table if exists marts.superset_probe, raw.superset_probe")
        conn.execute("create table marts.superset_probe as select 'm1'::text as mission_id")
        conn.execute("create table raw.superset_probe as select 'secret'::text as payload")
    redis_port, superset_port = free_port(), free_port()
    conf = tmp_path / "redis.conf"
    conf.write_text(
        f"port {redis_port}\nbind 127.0.0.1\nrequirepass redis-pw\nsave ''\ndir {tmp_path}\n"
    )
    home = tmp_path / "superset"
    home.mkdir()
    parts = urlsplit(initialised)
    env = {
        "PATH": f"{BI_VENV / 'bin'}{os.pathsep}/usr/bin{os.pathsep}/bin",
        "HOME": str(home),
        "PYTHONUNBUFFERED": "1",
        # what docker/superset/Dockerfile sets
        "SUPERSET_HOME": str(home),
        "SUPERSET_CONFIG_PATH": str(ROOT / "docker" / "superset" / "superset_config.py"),
        "FLASK_APP": "superset.app:create_app()",
        "MISSIONPULSE_BI_BUNDLE": str(ROOT / "bi" / "dashboards"),
        # what compose.yaml passes in
        "POSTGRES_HOST": parts.hostname or "127.0.0.1",
        "POSTGRES_PORT": str(parts.port),
        "REDIS_HOST": "127.0.0.1",
        "REDIS_PORT": str(redis_port),
        "REDIS_PASSWORD": "redis-pw",
        "SUPERSET_SECRET_KEY": "a-secret-key-for-this-test-only-0123456789",
        "SUPERSET_DB_USER": "mp_superset",
        "SUPERSET_DB_NAME": "mp_superset",
        "SUPERSET_DB_PASSWORD": PASSWORDS["SUPERSET_DB_PASSWORD"],
        "SUPERSET_ADMIN_PASSWORD": "admin-pw-for-the-test",
        "WAREHOUSE_DB_NAME": "mp_warehouse",
        "BI_READER_PASSWORD": PASSWORDS["BI_READER_PASSWORD"],
        "SUPERSET_BIND": f"127.0.0.1:{superset_port}",
        "SUPERSET_WORKERS": "1",
        "SUPERSET_COOKIE_SECURE": "False",
    }
    log = (tmp_path / "superset.log").open("w")
    redis = subprocess.Popen(
        [redis_server, str(conf)], stdout=subprocess.DEVNULL, start_new_session=True
    )
    superset = subprocess.Popen(
        ["bash", str(ROOT / "docker" / "superset" / "entrypoint.sh")],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # gunicorn and its workers: one process group to end
    )
    base = f"http://127.0.0.1:{superset_port}"
    try:
        deadline = time.monotonic() + 600
        while True:
            assert superset.poll() is None, (tmp_path / "superset.log").read_text()[-3000:]
            assert time.monotonic() < deadline, "Superset did not become healthy in 600 s"
            health = subprocess.run(
                [sys.executable, str(ROOT / "docker" / "pipeline" / "healthcheck.py")]
                + ["http", f"{base}/health"],
                capture_output=True,
                check=False,
            )
            if health.returncode == 0:
                break
            time.sleep(3)

        session = SupersetSession(base)
        session.login("admin", "admin-pw-for-the-test")
        dashboards = session.get("/api/v1/dashboard/?q=(page_size:100)")
        assert dashboards["count"] == len(list((ROOT / "bi/dashboards/dashboards").glob("*.yaml")))
        (database,) = session.get("/api/v1/database/")["result"]
        uri = session.get(f"/api/v1/database/{database['id']}/connection")["result"]
        assert uri["sqlalchemy_uri"].startswith("postgresql+psycopg2://bi_reader:")
        assert uri["sqlalchemy_uri"].endswith(f":{parts.port}/mp_warehouse")
        rows = session.sql(database["id"], "select mission_id from marts.superset_probe")
        assert rows["data"] == [{"mission_id": "m1"}]
        refused = session.sql(database["id"], "select payload from raw.superset_probe")
        assert "permission denied" in json.dumps(refused).lower()
    finally:
        for process in (superset, redis):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
            process.wait(timeout=60)
        log.close()


class SupersetSession:
    """Superset's REST API as a logged-in browser would use it (JWT plus CSRF token)."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor())
        self.headers = {"Content-Type": "application/json", "Referer": base}

    def request(self, method: str, path: str, body: dict | None = None) -> dict:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(
            self.base + path, data=data, method=method, headers=self.headers
        )
        try:
            with self.opener.open(request, timeout=120) as reply:
                return dict(json.loads(reply.read()))
        except urllib.error.HTTPError as err:  # SQL errors come back as 4xx with a body
            return {"status": err.code, **json.loads(err.read() or b"{}")}

    def get(self, path: str) -> dict:
        return self.request("GET", path)

    def login(self, user: str, password: str) -> None:
        token = self.request(
            "POST",
            "/api/v1/security/login",
            {"username": user, "password": password, "provider": "db", "refresh": False},
        )["access_token"]
        self.headers["Authorization"] = f"Bearer {token}"
        self.headers["X-CSRFToken"] = self.get("/api/v1/security/csrf_token/")["result"]

    def sql(self, database_id: int, query: str) -> dict:
        return self.request(
            "POST",
            "/api/v1/sqllab/execute/",
            {"database_id": database_id, "sql": query, "runAsync": False, "schema": "marts"},
        )
