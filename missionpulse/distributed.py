"""The scale-out check: the project's DAGs on a distributed Airflow (``make distributed-check``).

It proves that the same DAGs (one ``extract_<platform>`` per platform, then
``transform_warehouse``, ``score_sentiment`` and ``publish``, chained by the day's
partitioned asset events) run unchanged on the shape a ministry that outgrows one machine
would deploy, all started here on 127.0.0.1 and stopped again:

- **Redis** (``redis-server``, Debian's package) as the Celery broker;
- **PostgreSQL metadata DB**: the database ``airflow_meta`` owned by the login role
  ``airflow_meta`` on the check's own embedded warehouse cluster (the same cluster holds the
  warehouse database ``missionpulse``, as separate databases with separate roles);
- **Airflow**: ``api-server`` (the workers reach the execution API on it), ``scheduler``
  (CeleryExecutor), ``dag-processor``, and two **Celery workers** whose task instances
  report the hostnames ``missionpulse-worker-1`` and ``-2`` (``[core] hostname_callable`` is
  :func:`worker_hostname`, which reads a per-worker variable: both run on this machine);
- the **platform simulator** as its own server, shared by both workers.

Through the REST API it triggers the four extract DAGs for the day, then unpauses all seven
DAGs (the three asset-scheduled ones first: a paused DAG gets no run from an event), and
lets the scheduler create the day's ``transform_warehouse``, ``score_sentiment`` and
``publish`` runs (partition key: the day) from the extract DAGs' events; it waits for the
day's ``publish`` run and collects the task instances of all seven runs. The scheduler runs
with ``[scheduler] use_job_schedule`` on (with it off it creates no asset-triggered runs
either), and the extract DAGs are deployed unscheduled (``MISSIONPULSE_EXTRACT_AT=manual``):
otherwise the scheduler would start the latest day's extract runs beside the checked day's,
or the next day's when the check runs across midnight, and their events would change the
checked day's weekly marts. Any complete day can be checked.

Then it runs the same day on the single-machine default (``missionpulse run --date D``) in
a twin warehouse and compares an md5 checksum of every ``marts`` table restricted to the
day (its ISO week for the weekly marts). Columns that hold the wall clock of the build
(:data:`VOLATILE_COLUMNS`) are left out of the checksums, and a mart whose figures follow
the task order (:data:`ORDER_DEPENDENT`) is compared through its source. Everything lives under
``<state dir>/distributed-check/`` (logs included) and is stopped at the end, ports freed.

``python -m missionpulse.distributed [--date D] [--json FILE]``; exit 0 when both workers
ran tasks, the day's seven runs succeeded and every checksum matches, 1 otherwise.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, timedelta
from datetime import time as dtime
from pathlib import Path
from typing import Any

from missionpulse import processes, settings
from missionpulse.orchestration import (
    DOWNSTREAM_DAG_IDS,
    EXTRACT_AT_ENV,
    PUBLISH_DAG_ID,
    extract_dag_id,
)

EXTRACT_DAG_IDS = tuple(extract_dag_id(p) for p in settings.PLATFORMS)
# the day's DAGs, in the order the day flows through them
DAG_IDS = (*EXTRACT_DAG_IDS, *DOWNSTREAM_DAG_IDS)
WORKERS = ("missionpulse-worker-1", "missionpulse-worker-2")
HOSTNAME_ENV = "MISSIONPULSE_WORKER_HOSTNAME"
META_ROLE = "airflow_meta"
META_DB = "airflow_meta"
API_USER = "check"
MARKER = ".missionpulse-distributed-check"
WORKER_CONCURRENCY = 2
# columns that record when a row was built, loaded or fetched (the wall clock), not what it
# says: observed_at is when the extractor read a profile (int_handle_profile_observations_latest)
VOLATILE_COLUMNS = frozenset(
    {"built_at", "last_run_at", "last_loaded_at", "freshness_hours", "observed_at"}
)
DAY_COLUMNS = ("activity_date", "batch_date", "run_date")
# A mart that describes the run building it: mart_dbt_tests_daily counts the dbt tests
# recorded *before* it is built, and within a run its build races the run's own test tasks,
# so its figures follow the task order (dag.test's differs from the scheduler's). It is shown
# but not compared; its source, every dbt test result of the day's runs, is compared instead.
ORDER_DEPENDENT = {"mart_dbt_tests_daily": "audit.dbt_test_results"}
WEEK_COLUMNS = ("week_start_date",)


class DistributedCheckError(RuntimeError):
    """The check could not set up, run or compare the day."""


def worker_hostname() -> str:
    """``[core] hostname_callable`` for the check: the worker's name from its environment
    (both workers share this machine's real hostname), else the fully qualified name."""
    return os.environ.get(HOSTNAME_ENV) or socket.getfqdn()


# --- processes -------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Service:
    name: str
    process: subprocess.Popen[bytes]
    log: Path
    port: int | None = None


@dataclass
class Services:
    """The check's background servers, each in its own process group; stopped in reverse."""

    log_dir: Path
    started: list[Service] = field(default_factory=list)

    def start(
        self, name: str, argv: list[str], env: Mapping[str, str], port: int | None = None
    ) -> Service:
        log = self.log_dir / f"{name}.log"
        with log.open("ab") as out:
            process = subprocess.Popen(
                argv,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=dict(env),
                start_new_session=True,  # its own process group: stopping signals children
            )
        service = Service(name, process, log, port)
        self.started.append(service)
        return service

    def check_alive(self) -> None:
        for service in self.started:
            if service.process.poll() is not None:
                raise DistributedCheckError(
                    f"{service.name} exited with status {service.process.returncode}; "
                    f"see {service.log}"
                )

    def stop_all(self) -> list[str]:
        """Stop every service (SIGTERM, then SIGKILL); the names of those that stayed."""
        left = []
        for service in reversed(self.started):
            steps = [(signal.SIGTERM, 60.0), (signal.SIGKILL, 10.0)]
            gone = processes.stop_group(service.process.pid, steps, service.port)
            with contextlib.suppress(subprocess.TimeoutExpired):
                service.process.wait(timeout=5)
            if not gone or (service.port is not None and not processes.port_free(service.port)):
                left.append(service.name)
        self.started.clear()
        return left


@contextlib.contextmanager
def state_dir(path: Path) -> Iterator[None]:
    """Point this process's MissionPulse calls (warehouse, settings) at ``path``."""
    saved = {k: os.environ.get(k) for k in ("MISSIONPULSE_STATE_DIR", "MISSIONPULSE_WAREHOUSE_URL")}
    os.environ["MISSIONPULSE_STATE_DIR"] = str(path)
    os.environ.pop("MISSIONPULSE_WAREHOUSE_URL", None)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def _wait_for(what: str, ready: Any, timeout_s: float, services: Services, hint: str) -> Any:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        services.check_alive()
        value = ready()
        if value:
            return value
        time.sleep(2.0)
    raise DistributedCheckError(f"{what} not ready within {timeout_s:.0f}s; {hint}")


# --- the metadata DB and Airflow's configuration ----------------------------------------


def ensure_meta_db(warehouse_url: str, secret_file: Path) -> str:
    """Create (or reset the password of) the role and database ``airflow_meta`` on the
    warehouse's cluster; return Airflow's SQLAlchemy URL for it."""
    import psycopg
    from psycopg import sql

    password = secrets.token_urlsafe(24)
    try:
        with psycopg.connect(warehouse_url, autocommit=True) as conn:
            exists = conn.execute("select 1 from pg_roles where rolname = %s", (META_ROLE,))
            verb = "alter" if exists.fetchone() else "create"
            conn.execute(
                sql.SQL(verb + " role {} login password {}").format(
                    sql.Identifier(META_ROLE), sql.Literal(password)
                )
            )
            if not conn.execute(
                "select 1 from pg_database where datname = %s", (META_DB,)
            ).fetchone():
                conn.execute(
                    sql.SQL("create database {} owner {}").format(
                        sql.Identifier(META_DB), sql.Identifier(META_ROLE)
                    )
                )
    except psycopg.Error as err:
        raise DistributedCheckError(
            f"could not create the Airflow metadata database {META_DB!r} on the check's "
            f"warehouse cluster: {err}"
        ) from None
    host_port = warehouse_url.rsplit("@", 1)[1].split("/", 1)[0]
    url = f"postgresql+psycopg2://{META_ROLE}:{password}@{host_port}/{META_DB}"
    _write_private(secret_file, json.dumps({"role": META_ROLE, "password": password}))
    return url


def _write_private(path: Path, text: str) -> None:
    path.unlink(missing_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)


def airflow_env(
    base: Mapping[str, str], overrides: Mapping[str, str], warehouse_url: str
) -> dict[str, str]:
    """The environment of every Airflow component: the single-machine configuration
    (:func:`missionpulse.orchestration.configure`) with ``overrides`` taking precedence."""
    from missionpulse import orchestration

    saved = dict(os.environ)
    try:
        os.environ.clear()
        os.environ.update(base)
        os.environ.update(overrides)
        orchestration.configure(warehouse_url)
        return dict(os.environ)
    finally:
        os.environ.clear()
        os.environ.update(saved)


# --- the REST API ----------------------------------------------------------------------


@dataclass
class Api:
    base: str
    token: str = ""

    def call(self, method: str, path: str, body: Any = None, timeout: float = 30.0) -> Any:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(f"{self.base}{path}", data=data, method=method)
        request.add_header("Content-Type", "application/json")
        if self.token:
            request.add_header("Authorization", f"Bearer {self.token}")
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                raw = response.read()
        except urllib.error.HTTPError as err:
            detail = err.read().decode(errors="replace")[:500]
            raise DistributedCheckError(
                f"Airflow API {method} {path} answered {err.code}: {detail}"
            ) from None
        except OSError as err:  # refused, reset, timed out
            raise DistributedCheckError(
                f"Airflow API {method} {path} did not answer: {err}"
            ) from None
        return json.loads(raw) if raw else None

    def healthy(self) -> bool:
        try:
            health = self.call("GET", "/api/v2/monitor/health", timeout=5)
        except (DistributedCheckError, OSError, ValueError):
            return False
        return bool(health)

    def login(self, username: str, password: str) -> None:
        answer = self.call("POST", "/auth/token", {"username": username, "password": password})
        self.token = str(answer["access_token"])


# --- checksums -------------------------------------------------------------------------


@dataclass(frozen=True)
class TableChecksum:
    table: str
    scope: str
    rows: int
    md5: str


def mart_checksums(url: str, day: date, schema: str = "marts") -> dict[str, TableChecksum]:
    """An md5 over every table's rows in ``schema`` for ``day`` (sorted text of the rows, less
    :data:`VOLATILE_COLUMNS`): day-keyed tables on the day, weekly ones on its ISO week,
    the others whole."""
    import psycopg
    from psycopg import sql

    week_start = day - timedelta(days=day.weekday())
    result: dict[str, TableChecksum] = {}
    with psycopg.connect(url) as conn:
        tables = conn.execute(
            """
            select c.table_name, array_agg(c.column_name::text order by c.ordinal_position)
            from information_schema.columns c
            join information_schema.tables t using (table_schema, table_name)
            where c.table_schema = %s and t.table_type = 'BASE TABLE'
            group by c.table_name order by c.table_name
            """,
            (schema,),
        ).fetchall()
        for table, columns in tables:
            kept = [c for c in columns if c not in VOLATILE_COLUMNS]
            where: sql.Composable = sql.SQL("true")
            scope = "whole table"
            day_column = next((c for c in DAY_COLUMNS if c in columns), None)
            week_column = next((c for c in WEEK_COLUMNS if c in columns), None)
            if day_column:
                where = sql.SQL("{} = {}").format(sql.Identifier(day_column), sql.Literal(day))
                scope = f"{day_column} = {day}"
            elif week_column:
                where = sql.SQL("{} = {}").format(
                    sql.Identifier(week_column), sql.Literal(week_start)
                )
                scope = f"{week_column} = {week_start}"
            query = sql.SQL(
                "select count(*), md5(coalesce(string_agg(r, E'\\n' order by r), '')) "
                "from (select row({cols})::text as r from {table} where {where}) rows"
            ).format(
                cols=sql.SQL(", ").join(sql.Identifier(c) for c in kept),
                table=sql.Identifier(schema, table),
                where=where,
            )
            rows, md5 = conn.execute(query).fetchone()  # type: ignore[misc]
            result[table] = TableChecksum(table, scope, int(rows), str(md5))
        rows, md5 = conn.execute(  # type: ignore[misc]
            """
            select count(*), md5(coalesce(string_agg(r, E'\\n' order by r), ''))
            from (
                select concat_ws('|', t.unique_id, t.status, t.failures) as r
                from audit.dbt_test_results t
                join audit.dbt_runs using (invocation_id)
                where dbt_runs.run_vars ->> 'start_date' = %s
            ) results
            """,
            (day.isoformat(),),
        ).fetchone()
        source = "audit.dbt_test_results"
        result[source] = TableChecksum(source, f"dbt tests of runs for {day}", int(rows), str(md5))
    return result


# --- the check -------------------------------------------------------------------------


@dataclass
class CheckResult:
    day: str
    run_id: str = ""  # the triggered extract runs' id
    run_state: str = ""  # success when every run of the day succeeded
    runs: dict[str, str] = field(default_factory=dict)  # DAG -> "run id: state"
    failed_tasks: list[str] = field(default_factory=list)
    tasks_per_worker: dict[str, int] = field(default_factory=dict)
    distributed: dict[str, dict[str, Any]] = field(default_factory=dict)
    single_machine: dict[str, dict[str, Any]] = field(default_factory=dict)
    single_machine_ok: bool = False
    distributed_run_s: float = 0.0
    single_machine_run_s: float = 0.0
    total_s: float = 0.0
    left_running: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    work_dir: str = ""

    @property
    def checksums_equal(self) -> bool:
        def compared(checksums: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
            return {t: c for t, c in checksums.items() if t not in ORDER_DEPENDENT}

        return bool(self.distributed) and compared(self.distributed) == compared(
            self.single_machine
        )

    @property
    def both_workers_used(self) -> bool:
        return all(self.tasks_per_worker.get(worker, 0) > 0 for worker in WORKERS)

    @property
    def ok(self) -> bool:
        return (
            self.run_state == "success"
            and not self.failed_tasks
            and self.both_workers_used
            and self.single_machine_ok
            and self.checksums_equal
            and not self.left_running
            and not self.problems
        )

    def as_json(self) -> dict[str, Any]:
        data = asdict(self)
        data.update(
            ok=self.ok,
            checksums_equal=self.checksums_equal,
            both_workers_used=self.both_workers_used,
        )
        return data


def default_day() -> date:
    return datetime.now(UTC).date() - timedelta(days=1)


def _redis_server() -> str:
    configured = os.environ.get("MISSIONPULSE_REDIS_SERVER") or shutil.which("redis-server")
    if not configured or not os.access(configured, os.X_OK):
        raise DistributedCheckError(
            "redis-server is not installed: run `make setup` (scripts/system-deps.sh installs "
            "Debian's redis-server) or set MISSIONPULSE_REDIS_SERVER to a redis-server binary"
        )
    return configured


def _cleanup_previous(work: Path) -> None:
    """Stop what an interrupted earlier check may have left, then start afresh."""
    from missionpulse import warehouse

    if work.exists() and any(work.iterdir()) and not (work / MARKER).exists():
        raise DistributedCheckError(
            f"{work} is not empty and is not a distributed check's folder: choose another "
            "--work-dir (the check deletes its folder's contents at the start)"
        )
    pids = work / "pids.json"
    if pids.exists():
        with contextlib.suppress(OSError, ValueError):
            for pgid in json.loads(pids.read_text()):
                processes.stop_group(int(pgid), [(signal.SIGTERM, 30.0), (signal.SIGKILL, 5.0)])
    for sub in ("distributed", "single"):
        if (work / sub / "warehouse").exists():
            with state_dir(work / sub), contextlib.suppress(warehouse.WarehouseError):
                warehouse.stop()
    shutil.rmtree(work, ignore_errors=True)


def _ensure_pools(env: Mapping[str, str], log: Path) -> None:
    """Create the DAG's Airflow pools in the metadata DB, when the project defines them."""
    from missionpulse import orchestration

    if not hasattr(orchestration, "ensure_pools"):
        return
    code = "from missionpulse import orchestration; orchestration.ensure_pools()"
    with log.open("ab") as out:
        done = subprocess.run(
            [sys.executable, "-c", code], env=dict(env), stdout=out, stderr=subprocess.STDOUT
        )
    if done.returncode != 0:
        raise DistributedCheckError(f"could not create the DAGs' Airflow pools; see {log}")


def run_check(day: date, work: Path, timeout_s: float = 2400.0, echo: Any = print) -> CheckResult:
    from missionpulse import warehouse

    started = time.monotonic()
    result = CheckResult(day=day.isoformat(), work_dir=str(work))
    redis_server = _redis_server()
    _cleanup_previous(work)
    dist_state, single_state, logs = work / "distributed", work / "single", work / "logs"
    for path in (dist_state, single_state, logs):
        path.mkdir(parents=True, exist_ok=True)
    (work / MARKER).touch()
    work.chmod(0o755)  # as root the warehouse server runs as another OS user
    base_env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("AIRFLOW", "MISSIONPULSE_WAREHOUSE_URL", "MISSIONPULSE_SIMULATOR"))
    }
    # one pseudonym key for both runs, so both warehouses hold the same pseudonyms
    base_env["MISSIONPULSE_PSEUDONYM_KEY"] = secrets.token_hex(32)
    services = Services(logs)
    try:
        with state_dir(dist_state):
            echo(f"starting the check's warehouse cluster (state {dist_state})")
            warehouse_url = warehouse.start()
            meta_url = ensure_meta_db(warehouse_url, dist_state / "airflow_meta.json")
        _run_distributed(
            day,
            dist_state,
            logs,
            warehouse_url,
            meta_url,
            base_env,
            services,
            result,
            timeout_s,
            redis_server,
            echo,
        )
        with state_dir(dist_state):
            result.distributed = {
                t: asdict(c) for t, c in mart_checksums(warehouse_url, day).items()
            }
        echo("stopping the distributed Airflow")
        result.left_running += services.stop_all()
        _run_single_machine(day, single_state, logs, base_env, result, echo)
    except DistributedCheckError as err:
        result.problems.append(str(err))
    finally:
        result.left_running += services.stop_all()
        for state in (dist_state, single_state):
            with state_dir(state), contextlib.suppress(warehouse.WarehouseError):
                if (state / "warehouse").exists():
                    warehouse.stop()
        (work / "pids.json").unlink(missing_ok=True)
        result.total_s = round(time.monotonic() - started, 1)
    return result


def _run_distributed(
    day: date,
    dist_state: Path,
    logs: Path,
    warehouse_url: str,
    meta_url: str,
    base_env: Mapping[str, str],
    services: Services,
    result: CheckResult,
    timeout_s: float,
    redis_server: str,
    echo: Any,
) -> None:
    redis_port, api_port, sim_port = free_port(), free_port(), free_port()
    api_url = f"http://127.0.0.1:{api_port}"
    api_password = secrets.token_urlsafe(18)
    home = dist_state / "airflow"
    home.mkdir(parents=True, exist_ok=True)
    passwords = home / "simple_auth_manager_passwords.json"
    _write_private(passwords, json.dumps({API_USER: api_password}))
    broker = f"redis://127.0.0.1:{redis_port}/0"
    overrides = {
        "MISSIONPULSE_STATE_DIR": str(dist_state),
        "MISSIONPULSE_SIMULATOR_URL": f"http://127.0.0.1:{sim_port}",
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": meta_url,
        "AIRFLOW__CORE__EXECUTOR": "CeleryExecutor",
        "AIRFLOW__CORE__HOSTNAME_CALLABLE": "missionpulse.distributed.worker_hostname",
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{api_url}/execution/",
        "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "True",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": f"{API_USER}:admin",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(passwords),
        "AIRFLOW__CORE__FERNET_KEY": _fernet_key(),
        "AIRFLOW__API__HOST": "127.0.0.1",
        "AIRFLOW__API__PORT": str(api_port),
        "AIRFLOW__API__BASE_URL": api_url,
        "AIRFLOW__API__WORKERS": "1",
        "AIRFLOW__API__SECRET_KEY": secrets.token_urlsafe(32),
        "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_urlsafe(48),
        "AIRFLOW__CELERY__BROKER_URL": broker,
        "AIRFLOW__CELERY__RESULT_BACKEND": "db+" + meta_url.replace("+psycopg2", ""),
        "AIRFLOW__CELERY__WORKER_CONCURRENCY": str(WORKER_CONCURRENCY),
        # on (the default), or the scheduler creates no asset-triggered runs either; the
        # extract DAGs have no schedule here: the check triggers the day's runs itself, and
        # the scheduler starts no other day beside it (the latest, or the next at midnight)
        "AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE": "True",
        EXTRACT_AT_ENV: "manual",
        "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(logs / "airflow"),
    }
    env = airflow_env(base_env, overrides, warehouse_url)
    airflow = str(Path(sys.executable).with_name("airflow"))
    missionpulse = str(Path(sys.executable).with_name("missionpulse"))

    echo(f"migrating the Airflow metadata DB {META_DB!r} (PostgreSQL, role {META_ROLE!r})")
    with (logs / "db-migrate.log").open("ab") as out:
        migrated = subprocess.run(
            [airflow, "db", "migrate"], env=env, stdout=out, stderr=subprocess.STDOUT
        )
    if migrated.returncode != 0:
        raise DistributedCheckError(f"airflow db migrate failed; see {logs / 'db-migrate.log'}")
    _ensure_pools(env, logs / "pools.log")

    echo(f"starting redis on 127.0.0.1:{redis_port}, the simulator, and Airflow on {api_url}")
    services.start(
        "redis",
        [
            redis_server,
            "--bind",
            "127.0.0.1",
            "--port",
            str(redis_port),
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(dist_state),
        ],
        env,
        redis_port,
    )
    services.start("simulator", [missionpulse, "simulate", "--port", str(sim_port)], env, sim_port)
    services.start(
        "api-server", [airflow, "api-server", "--pid", str(home / "api-server.pid")], env, api_port
    )
    services.start("scheduler", [airflow, "scheduler", "--pid", str(home / "scheduler.pid")], env)
    services.start(
        "dag-processor", [airflow, "dag-processor", "--pid", str(home / "dag-processor.pid")], env
    )
    for number, name in enumerate(WORKERS, start=1):
        log_port = free_port()
        worker_env = {
            **env,
            HOSTNAME_ENV: name,
            "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(log_port),
        }
        services.start(
            f"worker-{number}",
            [
                airflow,
                "celery",
                "worker",
                "--celery-hostname",
                f"{name}@%h",
                "--concurrency",
                str(WORKER_CONCURRENCY),
                "--pid",
                str(home / f"worker-{number}.pid"),
            ],
            worker_env,
            log_port,
        )
    (dist_state.parent / "pids.json").write_text(
        json.dumps([s.process.pid for s in services.started])
    )

    api = Api(api_url)
    _wait_for("the Airflow API server", api.healthy, 240, services, f"see {logs}/api-server.log")
    api.login(API_USER, api_password)
    _wait_for(
        "both Celery workers",
        lambda: _workers_answering(broker),
        240,
        services,
        f"see {logs}/worker-1.log and worker-2.log",
    )
    echo("both Celery workers answer; waiting for the dag-processor to parse the DAGs")
    _wait_for(
        f"the DAGs {', '.join(DAG_IDS)}",
        lambda: _dag_parsed(api),
        600,
        services,
        f"see {logs}/dag-processor.log",
    )

    logical = datetime.combine(day, dtime(0), tzinfo=UTC)
    _check_unscheduled(api)
    run_id = f"distributed_check__{day.isoformat()}"
    for dag_id in EXTRACT_DAG_IDS:
        # the day's interval, as a scheduled run would have it (the day is its start)
        api.call(
            "POST",
            f"/api/v2/dags/{dag_id}/dagRuns",
            {
                "dag_run_id": run_id,
                "logical_date": logical.isoformat(),
                "data_interval_start": logical.isoformat(),
                "data_interval_end": (logical + timedelta(days=1)).isoformat(),
                "conf": {"faults": "none", "day": day.isoformat()},
            },
        )
    # consumers first: an event that finds its DAG paused starts no run of the day
    for dag_id in reversed(DAG_IDS):
        api.call("PATCH", f"/api/v2/dags/{dag_id}", {"is_paused": False})
    result.run_id = run_id
    echo(
        f"triggered {', '.join(EXTRACT_DAG_IDS)} run {run_id} (data interval {day} .. "
        f"{day + timedelta(days=1)}); unpaused all {len(DAG_IDS)} DAGs"
    )
    triggered = time.monotonic()
    runs = _wait_day(api, run_id, services, timeout_s, day, logs, echo)
    result.distributed_run_s = round(time.monotonic() - triggered, 1)
    result.runs = {dag_id: f"{run['dag_run_id']}: {run['state']}" for dag_id, run in runs.items()}
    missing = [dag_id for dag_id in DAG_IDS if dag_id not in runs]
    ok = not missing and all(run["state"] == "success" for run in runs.values())
    result.run_state = "success" if ok else "failed"
    if missing:
        result.problems.append(
            f"no run of {', '.join(missing)} for {day}: the chain stopped before them "
            f"(see the failed tasks and {logs})"
        )
    instances = [ti for run in runs.values() for ti in _task_instances(api, run)]
    result.failed_tasks = sorted(
        _ti_name(ti) for ti in instances if ti["state"] in ("failed", "upstream_failed")
    )
    result.tasks_per_worker = dict(
        Counter(ti["hostname"] for ti in instances if ti.get("hostname"))
    )


def _check_unscheduled(api: Api) -> None:
    """The extract DAGs must have no schedule here: a scheduled run of another day would run
    beside the checked one and change its weekly marts."""
    for dag_id in EXTRACT_DAG_IDS:
        model = api.call("GET", f"/api/v2/dags/{dag_id}")
        scheduled = model.get("next_dagrun_run_after") or model.get("next_dagrun_logical_date")
        if scheduled:
            raise DistributedCheckError(
                f"{dag_id} has a scheduled run ({scheduled}) on the distributed Airflow "
                f"although {EXTRACT_AT_ENV}=manual was set for it: the "
                "scheduler would run another day beside the checked one (was the variable "
                "dropped on the way to the dag-processor?)"
            )


def _fernet_key() -> str:
    from cryptography.fernet import Fernet

    return Fernet.generate_key().decode()


def _workers_answering(broker: str) -> bool:
    from celery import Celery

    app = Celery(broker=broker)
    try:
        replies = app.control.ping(timeout=2.0) or []
    finally:
        app.close()
    names = {name.split("@", 1)[0] for reply in replies for name in reply}
    return all(worker in names for worker in WORKERS)


def _dag_parsed(api: Api) -> bool:
    errors = api.call("GET", "/api/v2/importErrors")
    if errors and errors.get("import_errors"):
        first = errors["import_errors"][0]
        raise DistributedCheckError(
            f"the DAGs do not import on the distributed Airflow: {first.get('filename')}: "
            f"{str(first.get('stack_trace', ''))[-800:]}"
        )
    answer = api.call("GET", "/api/v2/dags?limit=100")
    return set(DAG_IDS) <= {d["dag_id"] for d in answer.get("dags", [])}


def _task_instances(api: Api, run: Mapping[str, Any]) -> list[dict[str, Any]]:
    answer = api.call(
        "GET",
        f"/api/v2/dags/{run['dag_id']}/dagRuns/{run['dag_run_id']}/taskInstances?limit=1000",
    )
    return list(answer.get("task_instances", []))


def _ti_name(ti: Mapping[str, Any]) -> str:
    index = ti.get("map_index", -1)
    return ti["task_id"] if index in (-1, None) else f"{ti['task_id']}[{index}]"


def _day_runs(api: Api, run_id: str, day: date) -> dict[str, dict[str, Any]]:
    """The day's run of each DAG that has one yet: the triggered extract runs, and the
    asset-triggered runs whose partition key is the day."""
    runs: dict[str, dict[str, Any]] = {}
    for dag_id in EXTRACT_DAG_IDS:
        runs[dag_id] = api.call("GET", f"/api/v2/dags/{dag_id}/dagRuns/{run_id}")
    for dag_id in DOWNSTREAM_DAG_IDS:
        answer = api.call("GET", f"/api/v2/dags/{dag_id}/dagRuns?limit=100")
        keyed = [r for r in answer.get("dag_runs", []) if r.get("partition_key") == str(day)]
        if len(keyed) > 1:
            raise DistributedCheckError(
                f"{dag_id} has {len(keyed)} runs for {day}, not one: "
                f"{', '.join(r['dag_run_id'] for r in keyed)}"
            )
        if keyed:
            runs[dag_id] = keyed[0]
    return runs


def _wait_day(
    api: Api,
    run_id: str,
    services: Services,
    timeout_s: float,
    day: date,
    logs: Path,
    echo: Any,
) -> dict[str, dict[str, Any]]:
    """Wait until the day's ``publish`` run ends, or the chain stops before it (every run
    so far ended and one failed: its hand-off withheld the day's event)."""
    deadline = time.monotonic() + timeout_s
    last_report = 0.0
    runs: dict[str, dict[str, Any]] = {}
    while time.monotonic() < deadline:
        services.check_alive()
        runs = _day_runs(api, run_id, day)
        ended = {d: r for d, r in runs.items() if r["state"] in ("success", "failed")}
        if PUBLISH_DAG_ID in ended:
            return runs
        if len(ended) == len(runs) and any(
            r["state"] == "failed" for d, r in ended.items() if d in DOWNSTREAM_DAG_IDS
        ):
            return runs
        if time.monotonic() - last_report > 60:
            echo("  " + "; ".join(f"{d} {r['state']}" for d, r in runs.items()))
            last_report = time.monotonic()
        time.sleep(5.0)
    unfinished = [
        f"{run['dag_id']}.{_ti_name(ti)}"
        for run in runs.values()
        for ti in _task_instances(api, run)
        if ti["state"] not in ("success", "failed", "skipped", "upstream_failed")
    ]
    waiting = [d for d in DAG_IDS if d not in runs]
    raise DistributedCheckError(
        f"the distributed run of {day} did not finish within {timeout_s:.0f}s; unfinished "
        f"tasks: {', '.join(unfinished[:20]) or 'none'}; no run yet of "
        f"{', '.join(waiting) or '-'}; logs in {logs}"
    )


def _run_single_machine(
    day: date,
    single_state: Path,
    logs: Path,
    base_env: Mapping[str, str],
    result: CheckResult,
    echo: Any,
) -> None:
    from missionpulse import warehouse

    echo(f"running {day} on the single-machine default (missionpulse run) in a twin warehouse")
    env = {**base_env, "MISSIONPULSE_STATE_DIR": str(single_state)}
    log = logs / "single-machine.log"
    started = time.monotonic()
    with log.open("ab") as out:
        done = subprocess.run(
            [str(Path(sys.executable).with_name("missionpulse")), "run", "--date", day.isoformat()],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    result.single_machine_run_s = round(time.monotonic() - started, 1)
    result.single_machine_ok = done.returncode == 0
    if not result.single_machine_ok:
        result.problems.append(
            f"the single-machine run of {day} exited {done.returncode}; see {log} and "
            f"{single_state / 'logs' / 'runs' / (day.isoformat() + '.log')}"
        )
    with state_dir(single_state):
        url = warehouse.url()
        result.single_machine = {t: asdict(c) for t, c in mart_checksums(url, day).items()}


# --- the summary -----------------------------------------------------------------------


def summary(result: CheckResult) -> str:
    lines = [
        f"distributed check for {result.day}: {'PASSED' if result.ok else 'FAILED'}",
        "  CeleryExecutor, Redis broker, metadata DB 'airflow_meta' (PostgreSQL, on the "
        "check's warehouse cluster), api-server, scheduler, dag-processor, 2 Celery workers",
        f"  day's runs: {result.run_state or 'not run'}",
        *(f"    {dag_id:<20} {run}" for dag_id, run in result.runs.items()),
        "",
        f"  {'worker (task instance hostname)':<36} {'tasks':>6}",
    ]
    for worker in sorted(set(WORKERS) | set(result.tasks_per_worker)):
        lines.append(f"  {worker:<36} {result.tasks_per_worker.get(worker, 0):>6}")
    lines += [
        "",
        f"  {'table':<30} {'scope':<30} {'rows':>6}  {'md5 (distributed)':<12} "
        f"{'md5 (single)':<12} equal",
    ]
    for table in sorted(set(result.distributed) | set(result.single_machine)):
        dist = result.distributed.get(table, {})
        single = result.single_machine.get(table, {})
        lines.append(
            f"  {table:<30} {str(dist.get('scope', single.get('scope', ''))):<30} "
            f"{dist.get('rows', '-')!s:>6}  {str(dist.get('md5', '-'))[:12]:<12} "
            f"{str(single.get('md5', '-'))[:12]:<12} {_verdict(table, dist, single)}"
        )
    lines += [
        "",
        f"  both workers used: {'yes' if result.both_workers_used else 'NO'}; checksums equal: "
        f"{'yes' if result.checksums_equal else 'NO'} "
        f"(left out as wall-clock columns: {', '.join(sorted(VOLATILE_COLUMNS))})",
        *(
            f"  {table}: not compared, it counts what was recorded before it was built (task "
            f"order); its source {source} is compared instead"
            for table, source in ORDER_DEPENDENT.items()
        ),
        f"  wall time: distributed run {result.distributed_run_s:.0f}s (trigger to end), "
        f"single-machine run {result.single_machine_run_s:.0f}s, whole check {result.total_s:.0f}s",
        "  stopped: every process of the check, ports freed"
        if not result.left_running
        else f"  STILL RUNNING after stop: {', '.join(result.left_running)}",
        f"  logs: {Path(result.work_dir) / 'logs'}",
    ]
    if result.failed_tasks:
        lines.append(f"  failed tasks: {', '.join(result.failed_tasks)}")
    lines += [f"  problem: {p}" for p in result.problems]
    return "\n".join(lines)


def _verdict(table: str, dist: Mapping[str, Any], single: Mapping[str, Any]) -> str:
    if dist and dist == single:
        return "yes"
    return "order-dependent" if table in ORDER_DEPENDENT else "NO"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m missionpulse.distributed",
        description="Run one day through the extract, transform, sentiment and publish "
        "DAGs on a local distributed Airflow "
        "(Celery, Redis, PostgreSQL metadata DB, two workers) and compare its marts with "
        "the single-machine run.",
    )
    parser.add_argument("--date", help="UTC day to run, YYYY-MM-DD (default: yesterday)")
    parser.add_argument(
        "--work-dir",
        type=Path,
        default=None,
        help="where the check keeps its state and logs (default: <state dir>/distributed-check)",
    )
    parser.add_argument("--json", type=Path, default=None, help="also write the result here")
    parser.add_argument(
        "--timeout",
        type=float,
        default=2400.0,
        help="seconds to wait for the distributed run (default 2400)",
    )
    args = parser.parse_args(argv)
    try:
        day = date.fromisoformat(args.date) if args.date else default_day()
    except ValueError:
        parser.error(f"--date {args.date!r} is not a date in YYYY-MM-DD form")
    if day >= datetime.now(UTC).date():
        parser.error(f"--date {day} is not over yet: the last complete day is yesterday")
    work = (args.work_dir or settings.state_dir() / "distributed-check").resolve()
    # a SIGTERM (CI's timeout, say) still runs the clean-up: stop every server, free ports
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    try:
        result = run_check(day, work, args.timeout, echo=lambda m: print(m, flush=True))
    except DistributedCheckError as err:
        print(f"distributed check for {day} could not run: {err}", file=sys.stderr)
        return 1
    text = summary(result)
    print(text, flush=True)
    if args.json:
        args.json.write_text(json.dumps(result.as_json(), indent=2, sort_keys=True))
    return 0 if result.ok else 1


if __name__ == "__main__":
    sys.exit(main())
