"""Run the project's Airflow DAGs in this process, on the embedded default.

Airflow reads its configuration when it is first imported, so :func:`configure` must run
before anything imports ``airflow``: it points Airflow at the project's DAGs, keeps its
metadata in SQLite under ``.missionpulse/airflow`` (unless ``AIRFLOW__DATABASE__SQL_ALCHEMY_CONN``
is already set), and hands the warehouse to Cosmos as the connection ``missionpulse_warehouse``.
"""

from __future__ import annotations

import gc
import logging
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import cache
from pathlib import Path
from typing import Any

from missionpulse import settings

log = logging.getLogger(__name__)

# The DAGs of one day, in the order a day flows through them: one extract DAG per platform
# (daily data interval), then the DAGs scheduled on their assets for the day.
TRANSFORM_DAG_ID = "transform_warehouse"
SENTIMENT_DAG_ID = "score_sentiment"
PUBLISH_DAG_ID = "publish"
DOWNSTREAM_DAG_IDS = (TRANSFORM_DAG_ID, SENTIMENT_DAG_ID, PUBLISH_DAG_ID)
POOL_SLOTS_ENV = "MISSIONPULSE_POOL_SLOTS"
DEFAULT_POOL_SLOTS = 1


def extract_dag_id(platform: str) -> str:
    """The DAG that extracts, loads and validates ``platform``'s day."""
    return f"extract_{platform}"


EXTRACT_AT_ENV = "MISSIONPULSE_EXTRACT_AT"
DEFAULT_EXTRACT_AT = "00:00"


def extract_cron() -> str | None:
    """When the scheduler starts each day's extract runs, as a cron expression in UTC, or
    None for no schedule (runs only when triggered: by hand, by an outside scheduler, by the
    distributed check).

    ``MISSIONPULSE_EXTRACT_AT``: ``HH:MM`` (UTC, default 00:00), the time on day D+1 at
    which day D is extracted; a platform that finalises its counts late (Facebook and
    Instagram insights settle for hours) is better read at, say, 03:00. ``manual``: no
    schedule. The day a run extracts is its data interval's start date either way."""
    raw = (os.environ.get(EXTRACT_AT_ENV) or DEFAULT_EXTRACT_AT).strip()
    if raw.lower() == "manual":
        return None
    try:
        at = time.fromisoformat(raw)
    except ValueError:
        at = None
    if at is None or len(raw) != 5 or at.second or at.tzinfo is not None:
        raise ValueError(
            f"{EXTRACT_AT_ENV} must be a UTC time of day HH:MM (00:00 to 23:59) or 'manual', "
            f"got {raw!r}"
        )
    return f"{at.minute} {at.hour} * * *"


FIRST_DAY_ENV = "MISSIONPULSE_FIRST_DAY"
DEFAULT_FIRST_DAY = date(2024, 1, 1)


def first_day() -> date:
    """The earliest UTC day the DAGs run for: their ``start_date``.

    Airflow creates no task instance for a logical date before a DAG's start date: such a
    run is marked successful at once with nothing done, so a backfill of older days would
    report them done while extracting nothing. ``run_day`` refuses them instead. No run is
    ever scheduled for the past (``catchup=False``), so an early first day costs nothing.
    ``MISSIONPULSE_FIRST_DAY``: ``YYYY-MM-DD``, default 2024-01-01."""
    raw = (os.environ.get(FIRST_DAY_ENV) or "").strip()
    if not raw:
        return DEFAULT_FIRST_DAY
    try:
        day = date.fromisoformat(raw)
    except ValueError:
        day = None
    if day is None or len(raw) != 10:  # fromisoformat also takes 20240101
        raise ValueError(f"{FIRST_DAY_ENV} must be a UTC day YYYY-MM-DD, got {raw!r}")
    return day


def dag_start_date() -> datetime:
    """``first_day()`` at 00:00 UTC, the ``start_date`` of every MissionPulse DAG."""
    return datetime.combine(first_day(), time(0), tzinfo=UTC)


class DayBeforeFirstDay(ValueError):
    """A day older than ``first_day()``: Airflow would run no task for it."""

    def __init__(self, day: date) -> None:
        first = first_day()
        super().__init__(
            f"{day} is before the DAGs' first day {first}: Airflow runs no task for a day "
            f"before a DAG's start date (nothing would be extracted or built). To cover "
            f"older days set {FIRST_DAY_ENV} (YYYY-MM-DD, now {first}) in the environment "
            "of every Airflow process (scheduler, DAG processor, workers) and of missionpulse"
        )


def pool_name(platform: str) -> str:
    """The Airflow pool every extraction of ``platform`` runs in (its request budget)."""
    return f"missionpulse_{platform}"


def pool_slots(platform: str) -> int:
    """How many of ``platform``'s extractions may run at once, across all runs and days:
    ``MISSIONPULSE_<PLATFORM>_POOL_SLOTS``, else ``MISSIONPULSE_POOL_SLOTS``, else 1 (one
    client at a time spends the platform's rate limit or daily quota; backfilled days queue)."""
    for name in (f"MISSIONPULSE_{platform.upper()}_POOL_SLOTS", POOL_SLOTS_ENV):
        slots = settings.env_count(name, "of slots")
        if slots is not None:
            return slots
    return DEFAULT_POOL_SLOTS


def airflow_home() -> Path:
    path = settings.state_dir() / "airflow"
    path.mkdir(parents=True, exist_ok=True)
    return path


def configure(warehouse_url: str) -> None:
    """Set the environment Airflow, Cosmos and dbt read (before importing airflow)."""
    home = airflow_home()
    defaults = {
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(settings.project_root() / "dags"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__PARALLELISM": "4",
        # rendering the dbt task groups runs `dbt ls` (cached by Cosmos afterwards), which
        # takes longer than Airflow's 30 s parse budget on a busy two-core machine
        "AIRFLOW__CORE__DAGBAG_IMPORT_TIMEOUT": "300",
        "AIRFLOW__DAG_PROCESSOR__DAG_FILE_PROCESSOR_TIMEOUT": "360",
        "AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL": "120",
        "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
        "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(settings.logs_dir() / "airflow"),
        "AIRFLOW__COSMOS__CACHE_DIR": str(settings.state_dir() / "cosmos"),
        "AIRFLOW__COSMOS__ENABLE_TELEMETRY": "False",
        "AIRFLOW__COSMOS__PROPAGATE_LOGS": "False",
        "GX_ANALYTICS_ENABLED": "False",
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "False",
        "SCARF_ANALYTICS": "false",
        "DO_NOT_TRACK": "1",
    }
    for key, value in defaults.items():
        os.environ.setdefault(key, value)
    os.environ["MISSIONPULSE_HOME"] = str(settings.project_root())
    os.environ["MISSIONPULSE_WAREHOUSE_URL"] = warehouse_url
    os.environ["AIRFLOW_CONN_MISSIONPULSE_WAREHOUSE"] = warehouse_url
    # Cosmos looks for dbt on PATH: use the one installed beside this interpreter.
    bindir = str(Path(sys.executable).parent)
    if bindir not in os.environ.get("PATH", "").split(os.pathsep):
        os.environ["PATH"] = bindir + os.pathsep + os.environ.get("PATH", "")
    dags = str(settings.project_root() / "dags")
    if dags not in sys.path:
        sys.path.insert(0, dags)


def migrate() -> None:
    """Create or upgrade Airflow's metadata DB (cheap when already current), then make
    sure the platforms' pools exist (:func:`ensure_pools`): every way the project starts
    Airflow (``missionpulse run``/``backfill``, ``missionpulse airflow start``) comes here."""
    marker = airflow_home() / ".migrated"
    version = _airflow_version()
    if not (marker.exists() and marker.read_text() == version):
        subprocess.run(
            [str(Path(sys.executable).with_name("airflow")), "db", "migrate"],
            check=True,
            stdout=subprocess.DEVNULL,
            env=os.environ.copy(),
        )
        marker.write_text(version)
    ensure_pools()


def ensure_pools() -> dict[str, int]:
    """Create or resize the pool of every platform in Airflow's metadata DB (after
    :func:`migrate`): a task that names a missing pool would never be scheduled."""
    from airflow.models.pool import Pool
    from airflow.utils.session import create_session

    wanted = {pool_name(p): pool_slots(p) for p in settings.PLATFORMS}
    with create_session() as session:
        for name, slots in wanted.items():
            Pool.create_or_update_pool(
                name,
                slots,
                f"MissionPulse: concurrent extractions of {name.removeprefix('missionpulse_')}",
                include_deferred=False,
                session=session,
            )
    log.info("Airflow pools: %s", ", ".join(f"{n}={s}" for n, s in wanted.items()))
    return wanted


def _airflow_version() -> str:
    from importlib.metadata import version

    return version("apache-airflow")


@dataclass(frozen=True)
class DagRunOutcome:
    dag_id: str
    run_id: str
    state: str
    failed_tasks: list[str]


@dataclass(frozen=True)
class RunOutcome:
    """One day through all its DAGs: every DAG run it took, in order."""

    day: date
    runs: list[DagRunOutcome]
    # DAGs the day never reached, because the one before did not hand it on (as the
    # scheduler would not start them without the upstream asset event for the day)
    not_reached: list[str]

    @property
    def state(self) -> str:
        return "success" if self.runs and all(r.state == "success" for r in self.runs) else "failed"

    @property
    def run_id(self) -> str:
        """The run ids, ``dag_id/run_id`` each (one line per DAG run in the logs)."""
        return ", ".join(f"{r.dag_id}/{r.run_id}" for r in self.runs)

    @property
    def failed_tasks(self) -> list[str]:
        """``dag_id.task_id`` of every failed task, and the DAGs the day never reached."""
        failed = [f"{r.dag_id}.{t}" for r in self.runs for t in r.failed_tasks]
        return failed + [f"{dag_id} (not reached)" for dag_id in self.not_reached]

    @property
    def ok(self) -> bool:
        # A failed task that no leaf depends on (a dbt test, say) leaves a run "success"
        # in Airflow's eyes: any failed task makes the day not ok.
        return self.state == "success" and not self.failed_tasks


@dataclass
class _Heap:
    day_open: bool = False


_HEAP = _Heap()


@contextmanager
def _day_heap() -> Iterator[None]:
    """A day's DAG runs keep what they froze until the day ends (see ``_frozen_heap``)."""
    _HEAP.day_open = True
    try:
        yield
    finally:
        _HEAP.day_open = False
        gc.unfreeze()


@contextmanager
def _frozen_heap() -> Iterator[None]:
    """Collect what is not frozen yet, then freeze it: the objects alive now stay out of
    every collection while the DAG run runs.

    Cosmos ends each dbt invocation with a full ``gc.collect()`` (astronomer-cosmos#2334).
    In a worker's task process that is cheap; here every task of the day's seven DAGs runs
    in this one process, beside the parsed DagBag, Airflow, GX and dbt, and a full
    collection of that heap took about a second per dbt task: half of a day's wall time
    (py-spy on a 30-day backfill). Frozen per DAG run, not once per day: a freeze at the
    day's start leaves the extract runs' objects young, in every collection of the
    transform (``python -m bench.day``, one day: 110.7 s unfrozen, 93.6 s frozen once a
    day, 73.4 and 78.5 s frozen per DAG run).

    Inside ``_day_heap`` the freeze is kept from one DAG run to the next, so the collection
    before each later run walks only what the runs before it added; the day's end unfreezes
    all, and the next day's first collection is the one full one (py-spy on a backfill: a
    full collection before each of the seven DAG runs took ~1.2 s, 17 % of the day). What
    frozen objects leave as garbage in cycles waits for that collection: at most a day.
    Outside a day (one DAG run alone) the block unfreezes at its end.
    """
    gc.collect()
    gc.freeze()
    try:
        yield
    finally:
        if not _HEAP.day_open:
            gc.unfreeze()


@contextmanager
def _in_process_run() -> Iterator[None]:
    """While a DAG run runs whole in this process, say so to the marts publication lock
    (``marts_publish.IN_PROCESS_ENV``): its holder row then names this process, so a run
    that finds the lock held after this process died takes it over at once. Only for the
    run's duration: processes started later from this one (Airflow, Celery workers) run
    one task per process and must not claim it."""
    from missionpulse.marts_publish import IN_PROCESS_ENV

    before = os.environ.get(IN_PROCESS_ENV)
    os.environ[IN_PROCESS_ENV] = "1"
    try:
        yield
    finally:
        if before is None:
            os.environ.pop(IN_PROCESS_ENV, None)
        else:
            os.environ[IN_PROCESS_ENV] = before


class RunStopped(BaseException):
    """SIGINT (Ctrl-C) or SIGTERM stopped an in-process run between two tasks.

    A ``BaseException``, like ``KeyboardInterrupt``: ``dag.test()`` catches ``Exception``
    around each task and would go on with the next one."""

    def __init__(self, signum: int) -> None:
        self.signum = signum
        super().__init__(f"stopped by {signal.Signals(signum).name}")


_STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


@dataclass
class _StopState:
    signum: int | None = None


@contextmanager
def stop_on_signals() -> Iterator[None]:
    """Let Ctrl-C and SIGTERM stop ``run_day`` at once, with ``RunStopped``.

    Unhandled, neither stops an in-process run: Airflow's task runner catches every
    exception of a task, KeyboardInterrupt included, marks the task up for retry and
    ``dag.test()`` goes on (it retries it after the retry delay); and each task installs
    its own SIGTERM handler, which only calls the operator's ``on_kill`` and returns (in a
    worker its supervisor then kills the task's process; here there is none). So while this
    block runs:

    - SIGINT and SIGTERM raise ``KeyboardInterrupt`` where the process is, so a task that
      waits (an HTTP request, a query) ends now; during a task, SIGTERM goes through the
      task runner's handler (the operator's ``on_kill``) first;
    - ``dag.test()``'s per-task step (``airflow.sdk.definitions.dag._run_task``) raises
      ``RunStopped`` once a signal came, before the next task and after the interrupted
      one, so no other task starts.

    What a stopped day leaves is what ``kill -9`` leaves, which the pipeline is built to
    survive (the drills): raw loads are transactional and a rerun replaces the day, a
    marts publication lock held by this process is taken over by the next run. Must run in
    the main thread (Python delivers signals there). A signal the process ignores (SIG_IGN)
    is left ignored."""
    from airflow.sdk.definitions import dag as dag_module

    state = _StopState()
    before = {signum: signal.getsignal(signum) for signum in _STOP_SIGNALS}
    # An ignored signal stays ignored: a shell starts background jobs with SIGINT ignored,
    # so a Ctrl-C meant for the shell's foreground does not reach them.
    stopping = {signum for signum in _STOP_SIGNALS if before[signum] is not signal.SIG_IGN}

    def interrupt(signum: int, frame: Any) -> None:
        if state.signum is None:
            log.warning(
                "%s: stopping the run now (the running task is interrupted; rerun the day "
                "to finish it)",
                signal.Signals(signum).name,
            )
        state.signum = signum
        raise KeyboardInterrupt(signal.Signals(signum).name)

    original_run_task = dag_module._run_task

    def run_task(**kwargs: Any) -> Any:
        if state.signum is not None:
            raise RunStopped(state.signum)
        # The task runner's SIGTERM handler (set when the task starts, with a local
        # ``import signal``) calls ``ti.task.on_kill()``: the operator's class, as a mapped
        # task or a copy made for execution runs it, interrupts the run after its own.
        task = kwargs["task"]
        operator = getattr(task, "operator_class", None) or type(task)
        own = operator.__dict__.get("on_kill")
        inherited = operator.on_kill

        def on_kill(self: Any) -> None:
            inherited(self)
            if signal.SIGTERM in stopping:
                interrupt(signal.SIGTERM, None)

        operator.on_kill = on_kill
        try:
            return original_run_task(**kwargs)
        finally:
            if own is None:
                del operator.on_kill
            else:
                operator.on_kill = own
            # the task's handler is gone with it
            signal.signal(
                signal.SIGTERM, interrupt if signal.SIGTERM in stopping else before[signal.SIGTERM]
            )
            if state.signum is not None:
                raise RunStopped(state.signum)

    for signum in stopping:
        signal.signal(signum, interrupt)
    dag_module._run_task = run_task
    try:
        yield
    except KeyboardInterrupt:
        # a signal that came between two tasks, outside any task
        if state.signum is None:
            raise
        raise RunStopped(state.signum) from None
    finally:
        dag_module._run_task = original_run_task
        for signum, handler in before.items():
            signal.signal(signum, handler)


def _test_run(dag: Any, *, logical_date: datetime | None, conf: dict[str, Any]) -> DagRunOutcome:
    # dag.test() of Airflow 3.3.2 crashes when a run of a DAG with a deadline alert succeeds
    # (it looks the alerts up by ids only the DAG processor assigns: apache/airflow#73428).
    # Its runs are never queued, so the queued-at deadline would not apply to them anyway:
    # the freshness deadline is the scheduler's business.
    dag.deadline = None
    with _frozen_heap(), _in_process_run():
        dag_run = dag.test(logical_date=logical_date, run_conf=conf)
    instances = dag_run.get_task_instances()
    if not instances:
        # Airflow marks a run successful when it has no task to run, e.g. a logical date
        # before the DAG's start date: nothing was done, so the day is not done either.
        return DagRunOutcome(
            dag.dag_id, dag_run.run_id, "failed", [f"(no task ran: logical date {logical_date})"]
        )
    failed = [
        ti.task_id if ti.map_index < 0 else f"{ti.task_id}[{ti.map_index}]"
        for ti in instances
        if ti.state in ("failed", "upstream_failed")
    ]
    return DagRunOutcome(dag.dag_id, dag_run.run_id, str(dag_run.state), failed)


def _stop_dbt_behavior_flags_growing() -> None:
    """Keep dbt from growing a global list with every adapter it creates in this process.

    dbt-adapters 1.24's ``BaseAdapter.__init__`` sets ``self.behavior =
    DEFAULT_BASE_BEHAVIOR_FLAGS`` (a module-level list), and the property's setter
    ``extend``s the list it is given with the adapter's own flags: every dbt invocation in a
    process appends the Postgres flag to the global list for good, and every later adapter
    renders all of them, each with an ``inspect.stack()`` (dbt_common's behavior flags).
    One task per process (a worker) never notices; ``missionpulse backfill`` runs ~45 dbt
    invocations a day in one process, and a day's wall time grew from 60 s to 85 s over
    12 days (py-spy: 28 % of samples in that ``inspect.stack``). Giving the setter a copy
    keeps the list as dbt defines it. Idempotent; does nothing if dbt changes its shape.
    """
    from dbt.adapters.base import impl

    prop = getattr(impl.BaseAdapter, "behavior", None)
    if not isinstance(prop, property) or prop.fset is None:
        return
    if getattr(prop.fset, "_missionpulse_copies", False):
        return
    extend_in_place = prop.fset

    def set_behavior(adapter: Any, flags: Any) -> None:
        extend_in_place(adapter, list(flags))

    set_behavior._missionpulse_copies = True  # type: ignore[attr-defined]
    impl.BaseAdapter.behavior = prop.setter(set_behavior)  # type: ignore[assignment]


@cache
def _dag_bag() -> Any:
    """The project's DAGs, parsed once per process (a backfill runs many days)."""
    from airflow.dag_processing.dagbag import DagBag

    _stop_dbt_behavior_flags_growing()

    bag = DagBag(str(settings.project_root() / "dags"))
    if bag.import_errors:
        problems = "\n".join(f"{f}: {e}" for f, e in bag.import_errors.items())
        raise RuntimeError(f"the DAGs do not import:\n{problems}")
    return bag


def run_day(day: date, faults: str = "none", platforms: str = "all") -> RunOutcome:
    """Run one UTC day (data interval [day, day+1)) through all the DAGs, in this process:
    each platform's extract DAG, then transform_warehouse, score_sentiment and publish,
    each with ``dag.test()``, as the scheduler would chain them by the day's asset events.

    ``platforms`` is "all" or a comma-separated subset: only those are extracted, and only
    those are rebuilt; the others' published rows for the day stay as they are.
    """
    if day < first_day():
        raise DayBeforeFirstDay(day)
    with _day_heap():
        return _run_day(day, faults, platforms)


def _run_day(day: date, faults: str, platforms: str) -> RunOutcome:
    bag = _dag_bag()
    wanted = (
        list(settings.PLATFORMS)
        if platforms == "all"
        else [p.strip() for p in platforms.split(",") if p.strip()]
    )
    extract_ids = [extract_dag_id(p) for p in wanted if extract_dag_id(p) in bag.dag_ids]
    if not extract_ids:
        raise RuntimeError(
            f"no extract DAG for {platforms!r} (enabled: {', '.join(sorted(bag.dag_ids))}); "
            "check MISSIONPULSE_PLATFORMS"
        )
    # With the default schedule an extract run's interval is the last complete one before
    # its logical date: the day after ``day`` at 00:00 UTC gives [day, day + 1). The conf's
    # day decides all the same (common.days.day_of), whatever MISSIONPULSE_EXTRACT_AT says.
    logical = datetime.combine(day + timedelta(days=1), time(0), tzinfo=UTC)
    runs = [
        _test_run(
            bag.get_dag(dag_id),
            logical_date=logical,
            conf={"faults": faults, "day": day.isoformat()},
        )
        for dag_id in extract_ids
    ]
    # The DAGs scheduled on assets have no data interval: their day comes in the conf (the
    # scheduler gives it as the run's partition key, which dag.test() cannot set). The same
    # logical date keeps one run per DAG and day: a rerun of the day clears and reruns it
    # (dag.test() without a logical date would clear every earlier run of the DAG).
    conf = {"day": day.isoformat(), "platforms": platforms}
    not_reached: list[str] = []
    for dag_id in DOWNSTREAM_DAG_IDS:
        if runs[-1].dag_id in DOWNSTREAM_DAG_IDS and runs[-1].state != "success":
            # its hand_off did not emit the day's event: the scheduler would start nothing
            not_reached.append(dag_id)
            continue
        runs.append(_test_run(bag.get_dag(dag_id), logical_date=logical, conf=conf))
    return RunOutcome(day, runs, not_reached)
