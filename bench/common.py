"""Helpers the benchmarks share: their own state folder and warehouse, the CLI, Airflow's
task durations.

Every benchmark works in a state folder of its own (``MISSIONPULSE_STATE_DIR``: warehouse
cluster, landing zone, Airflow metadata), never in the user's ``.missionpulse/``.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import psycopg

from extractors.common.window import Window
from missionpulse.orchestration import DOWNSTREAM_DAG_IDS, extract_dag_id
from missionpulse.settings import PLATFORMS

BIN = Path(sys.executable).parent
# the DAGs a day runs through: one extract DAG per platform, then the asset-scheduled ones
DAG_IDS = (*(extract_dag_id(p) for p in PLATFORMS), *DOWNSTREAM_DAG_IDS)


def log(message: str) -> None:
    print(f"[{datetime.now(UTC):%H:%M:%S}] {message}", flush=True)


def machine_load() -> str:
    """The machine's load when a figure was taken: shared machines make slow figures."""
    one, five, fifteen = os.getloadavg()
    return (
        f"load average {one:.1f} / {five:.1f} / {fifteen:.1f} (1/5/15 min) on {os.cpu_count()} CPUs"
    )


def state_dir(given: Path | None, prefix: str) -> Path:
    """``given``, else ``$MISSIONPULSE_STATE_DIR``, else a new temporary folder."""
    env = os.environ.get("MISSIONPULSE_STATE_DIR")
    path = (
        given or (Path(env) if env else None) or Path(tempfile.mkdtemp(prefix=prefix))
    ).resolve()
    path.mkdir(parents=True, exist_ok=True)
    path.chmod(0o755)  # the warehouse may run as another (unprivileged) user
    return path


def state_env(state: Path) -> dict[str, str]:
    env = {**os.environ, "MISSIONPULSE_STATE_DIR": str(state)}
    env.pop("MISSIONPULSE_WAREHOUSE_URL", None)  # always the bench's own warehouse
    return env


def missionpulse(state: Path, *args: str) -> str:
    """Run the CLI in the bench's state; its stdout, or exit naming the command and state."""
    done = subprocess.run(
        [str(BIN / "missionpulse"), *args], env=state_env(state), capture_output=True, text=True
    )
    if done.returncode != 0:
        sys.exit(
            f"missionpulse {' '.join(args)} failed (state {state}):\n"
            f"{done.stdout[-2000:]}{done.stderr[-2000:]}"
        )
    return done.stdout


def warehouse_url(state: Path) -> str:
    """Start (or find) the bench's warehouse and return its URL."""
    missionpulse(state, "warehouse", "start")
    return missionpulse(state, "warehouse", "url").strip().splitlines()[-1]


def day_start(day: date) -> datetime:
    """Midnight UTC opening the day: the raw tables' ``_interval_start`` of a daily run."""
    return Window.for_day(day).start


def has_day(url: str, day: date) -> bool:
    """Whether the warehouse holds the day's raw comments of X (a complete run)."""
    with psycopg.connect(url) as conn:
        # two statements: a query naming raw.x__comments fails on a fresh warehouse,
        # whatever guard stands beside it in the same statement
        table = conn.execute("select to_regclass('raw.x__comments')").fetchone()
        if table is None or table[0] is None:
            return False
        row = conn.execute(
            "select exists (select 1 from raw.x__comments where _interval_start = %s)",
            (day_start(day),),
        ).fetchone()
    return bool(row and row[0])


def ensure_day(state: Path, url: str, day: date) -> None:
    """Run the day through the pipeline first if the warehouse does not hold it yet."""
    if has_day(url, day):
        return
    log(f"running {day} through the pipeline first (a few minutes)")
    done = subprocess.run(
        [str(BIN / "missionpulse"), "run", "--date", day.isoformat()],
        env=state_env(state),
        capture_output=True,
        text=True,
    )
    if not has_day(url, day):
        sys.exit(f"no raw data for {day} after `missionpulse run`:\n{done.stderr[-3000:]}")


@dataclass(frozen=True)
class TaskRun:
    dag_id: str
    task_id: str
    run_id: str
    day: date
    started: datetime
    ended: datetime
    state: str

    @property
    def seconds(self) -> float:
        return (self.ended - self.started).total_seconds()

    @property
    def stage(self) -> str:
        """The task's stage: its dbt task group, or the task itself."""
        return self.task_id.split(".")[0]

    @property
    def step(self) -> str:
        """``<DAG>.<stage>``: the four extract DAGs have the same task ids."""
        return f"{self.dag_id}.{self.stage}"


def _utc(text: str) -> datetime:
    value = datetime.fromisoformat(text)
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def task_runs(state: Path, first: date, last: date, since: datetime) -> list[TaskRun]:
    """The finished task instances of the day's DAGs (:data:`DAG_IDS`) for days ``first`` ..
    ``last`` that started after ``since``, from Airflow's metadata DB
    (``<state>/airflow/airflow.db``).

    ``missionpulse run`` gives every DAG's run of day D the logical date D + 1 (the
    asset-scheduled DAGs have no data interval under ``dag.test``). ``dag.test`` makes a
    new run each time and keeps the earlier ones (and it sets a run's own start_date to its
    logical date), so the task instances' start times tell runs apart.
    """
    db_path = state / "airflow" / "airflow.db"
    marks = ", ".join("?" for _ in DAG_IDS)
    with sqlite3.connect(f"file:{db_path}?mode=ro", uri=True) as conn:
        rows = conn.execute(
            "select ti.dag_id, ti.task_id, ti.run_id, r.logical_date, ti.start_date,"
            " ti.end_date, ti.state from task_instance ti"
            " join dag_run r on r.dag_id = ti.dag_id and r.run_id = ti.run_id"
            f" where ti.dag_id in ({marks}) and r.logical_date >= ? and r.logical_date < ?"
            " and ti.start_date >= ? and ti.end_date is not null order by ti.start_date",
            (
                *DAG_IDS,
                (first + timedelta(days=1)).isoformat(),
                (last + timedelta(days=2)).isoformat(),
                since.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f"),
            ),
        ).fetchall()
    return [
        TaskRun(
            dag_id,
            task_id,
            run_id,
            _utc(logical).date() - timedelta(days=1),
            _utc(started),
            _utc(ended),
            str(status),
        )
        for dag_id, task_id, run_id, logical, started, ended, status in rows
    ]
