"""Scale benchmark: one day of a Twiplomacy-scale registry (10,000 handles) through the DAGs.

    .venv/bin/python -m bench.scale [--handles 10000] [--reference] [--date D]
                                    [--platform-quotas scaled|default] [--seed 0]
                                    [--workdir DIR] [--keep] [--json OUT]

Figures, not a pass/fail test. For each case (the generated registry of ``--handles``
handles; with ``--reference`` first the example registry of ``config/`` as well, measured
in the same invocation so that the ratios per handle compare like with like):

1. ``missionpulse.simulator.scale_registry`` writes the registry and policy into a config
   folder of the case (the reference uses ``config/`` itself).
2. The platform simulator runs as its own process on that registry, so that its memory and
   CPU are measured apart from the pipeline's (in production the platforms are not on this
   machine). With ``--platform-quotas scaled`` (the default) its X rate limits and YouTube
   daily quota are multiplied by handles / handles of ``config/``: per handle, the run has
   the quotas the example registry has. With ``default`` it has one app's quotas, and a
   10,000-handle day waits for X's 15-minute windows and runs out of YouTube units (about
   17,000 needed of 10,000): a ministry at that scale needs higher tiers, which is a
   platform contract, not something the pipeline can optimise away.
3. ``missionpulse run --date D`` (default: yesterday, the daily run's case; a day more than
   7 days back makes X use full-archive search) runs the day through Airflow
   (``dag.test``) with its own ``MISSIONPULSE_STATE_DIR`` (its own embedded warehouse,
   Airflow metadata, landing zone) and ``MISSIONPULSE_CONFIG_DIR``; nothing of the user's
   ``.missionpulse/`` is touched.
4. Every second the bench samples the memory of three process trees: the pipeline (the
   ``missionpulse run`` process and all its descendants), PostgreSQL (the warehouse's
   postmaster and its backends) and the simulator. Per tree it keeps the peak of the sum of
   RSS (which counts shared pages once per process: an upper bound) and of PSS (shared pages
   split between the processes that share them: the fair figure for PostgreSQL, whose
   backends all map the same shared buffers); ``<case>/peaks.json`` holds them as they go.
   CPU seconds per tree are reported too: on a shared machine they vary less than wall time.
5. Afterwards it counts the task instances of the day's seven DAG runs (by state) from Airflow's
   metadata, the rows landed in ``raw`` per platform, the comments scored and the mart rows,
   and lists the slowest tasks.

The pipeline target (issue 9) is a peak under 2 GB for the pipeline's processes, PostgreSQL
reported separately.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import psutil
import psycopg
from psycopg import sql

from bench.common import DAG_IDS, log, machine_load

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
PLATFORMS = ("x", "facebook", "instagram", "youtube")
SAMPLE_SECONDS = 1.0
MiB = 1024 * 1024
# Variables that would send the run somewhere else than its own state, warehouse and simulator.
FOREIGN_VARIABLES = (
    "MISSIONPULSE_WAREHOUSE_URL",
    "MISSIONPULSE_SIMULATOR_URL",
    "MISSIONPULSE_LANDING_DIR",
    "AIRFLOW_HOME",
    "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN",
    "AIRFLOW_CONN_MISSIONPULSE_WAREHOUSE",
    *(f"MISSIONPULSE_{p.upper()}_BASE_URL" for p in PLATFORMS),
)


# --- memory sampling ----------------------------------------------------------------------


@dataclass
class TreePeak:
    """Peaks of one process tree over the run (bytes)."""

    rss_sum: int = 0
    pss_sum: int = 0
    largest_rss: int = 0
    largest_name: str = ""
    processes: int = 0

    def add(self, samples: list[tuple[str, int, int]]) -> None:
        self.rss_sum = max(self.rss_sum, sum(rss for _, rss, _ in samples))
        self.pss_sum = max(self.pss_sum, sum(pss for _, _, pss in samples))
        self.processes = max(self.processes, len(samples))
        for name, rss, _ in samples:
            if rss > self.largest_rss:
                self.largest_rss, self.largest_name = rss, name


def _tree(root: psutil.Process) -> list[psutil.Process]:
    try:
        return [root, *root.children(recursive=True)]
    except psutil.Error:
        return []


def _measure(processes: list[psutil.Process]) -> list[tuple[str, int, int]]:
    """(name, rss, pss) of each process still alive; PSS from smaps_rollup."""
    samples = []
    for process in processes:
        try:
            info = process.memory_full_info()
            samples.append((process.name(), info.rss, getattr(info, "pss", info.rss)))
        except psutil.Error:  # ended between listing and reading
            continue
    return samples


class Sampler(threading.Thread):
    """Samples the pipeline, PostgreSQL and simulator trees every SAMPLE_SECONDS."""

    def __init__(self, pipeline_pid: int, simulator_pid: int | None, state_dir: Path) -> None:
        super().__init__(name="memory-sampler", daemon=True)
        self.pipeline = psutil.Process(pipeline_pid)
        self.simulator = psutil.Process(simulator_pid) if simulator_pid else None
        self.state_dir = state_dir
        self.peaks = {"pipeline": TreePeak(), "postgresql": TreePeak(), "simulator": TreePeak()}
        self.stopping = threading.Event()
        self.postmaster: psutil.Process | None = None

    def run(self) -> None:
        written = 0.0
        while not self.stopping.is_set():
            self.sample()
            if time.monotonic() - written > 10:  # figures so far survive an interrupted run
                self.write(self.state_dir.parent / "peaks.json")
                written = time.monotonic()
            self.stopping.wait(SAMPLE_SECONDS)
        self.write(self.state_dir.parent / "peaks.json")

    def write(self, path: Path) -> None:
        peaks = {tree: asdict(peak) for tree, peak in self.peaks.items()}
        path.write_text(json.dumps({"at": f"{datetime.now(UTC):%H:%M:%S}", **peaks}, indent=1))

    def sample(self) -> None:
        pipeline = _tree(self.pipeline)
        postgres = self._postgres()
        if postgres:  # pg_ctl starts the postmaster from the pipeline: count it apart
            pids = {p.pid for p in postgres}
            pipeline = [p for p in pipeline if p.pid not in pids]
        self.peaks["pipeline"].add(_measure(pipeline))
        self.peaks["postgresql"].add(_measure(postgres))
        if self.simulator is not None:
            self.peaks["simulator"].add(_measure(_tree(self.simulator)))

    def postgres_cpu_s(self) -> float:
        """CPU seconds of the postmaster and its backends, ended ones included."""
        if self.postmaster is None:
            return 0.0
        try:
            times = self.postmaster.cpu_times()
            total = times.user + times.system + times.children_user + times.children_system
            for child in self.postmaster.children():
                child_times = child.cpu_times()
                total += child_times.user + child_times.system
        except psutil.Error:
            return 0.0
        return total

    def _postgres(self) -> list[psutil.Process]:
        if self.postmaster is None or not self.postmaster.is_running():
            self.postmaster = _find_postmaster(self.state_dir)
        return _tree(self.postmaster) if self.postmaster is not None else []


def _find_postmaster(state_dir: Path) -> psutil.Process | None:
    """The postmaster whose data directory is under the case's state dir, if running."""
    for pidfile in state_dir.glob("warehouse/**/postmaster.pid"):
        try:
            pid = int(pidfile.read_text().splitlines()[0])
            return psutil.Process(pid)
        except (OSError, ValueError, IndexError, psutil.Error):
            continue
    return None


# --- one case -----------------------------------------------------------------------------


@dataclass
class CaseResult:
    name: str
    handles: int
    missions: int
    ok: bool
    exit_code: int
    wall_s: float
    cpu_s: dict[str, float]
    peaks_mib: dict[str, dict[str, float]]
    tasks: dict[str, int]
    slowest_tasks: list[tuple[str, float]]
    raw_rows: dict[str, int]
    scored_comments: int
    mart_rows: dict[str, int]
    log_path: str
    largest_process: str = ""
    errors: list[str] = field(default_factory=list)

    @property
    def task_count(self) -> int:
        return sum(self.tasks.values())


def _children_cpu_s() -> float:
    """CPU seconds of this process's ended (waited-for) children and their descendants."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _cpu_s(process: psutil.Process) -> float:
    try:
        times = process.cpu_times()
    except psutil.Error:
        return 0.0
    return times.user + times.system + times.children_user + times.children_system


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _case_env(state_dir: Path, config_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in FOREIGN_VARIABLES}
    env["MISSIONPULSE_STATE_DIR"] = str(state_dir)
    env["MISSIONPULSE_CONFIG_DIR"] = str(config_dir)
    return env


@contextmanager
def simulator(
    env: dict[str, str], log_path: Path, quota_factor: float
) -> Iterator[tuple[str, int]]:
    """The simulator as its own process on the case's registry: (base URL, pid)."""
    port = _free_port()
    with log_path.open("ab") as out:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "bench.scale",
                "serve-simulator",
                "--port",
                str(port),
                "--quota-factor",
                str(quota_factor),
            ],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 120
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"the simulator exited {process.returncode}; see {log_path}")
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError(
                        f"the simulator did not listen in 120 s; see {log_path}"
                    ) from None
                time.sleep(0.5)
        yield f"http://127.0.0.1:{port}", process.pid
    finally:
        _stop(process)


def _stop(process: subprocess.Popen[bytes]) -> None:
    """SIGINT (the CLI's own way to stop), then SIGKILL after 20 s."""
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGINT)
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def run_case(
    name: str,
    config_dir: Path,
    handles: int,
    missions: int,
    day: date,
    case_dir: Path,
    quota_factor: float = 1.0,
) -> CaseResult:
    state_dir = case_dir / "state"
    state_dir.mkdir(parents=True, exist_ok=True)
    for path in (case_dir, state_dir):  # as root the server runs as another OS user
        path.chmod(0o755)
    env = _case_env(state_dir, config_dir)
    log_path = case_dir / "run.log"
    log(f"{name}: {handles} handles, {missions} missions; run log {log_path}; {machine_load()}")
    with simulator(env, case_dir / "simulator.log", quota_factor) as (sim_url, sim_pid):
        env["MISSIONPULSE_SIMULATOR_URL"] = sim_url
        started, cpu_before = time.monotonic(), _children_cpu_s()
        with log_path.open("ab") as out:
            process = subprocess.Popen(
                [str(BIN / "missionpulse"), "run", "--date", day.isoformat()],
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                cwd=ROOT,
            )
            sampler = Sampler(process.pid, sim_pid, state_dir)
            sampler.start()
            try:
                exit_code = process.wait()
            except BaseException:  # interrupted: leave no run or warehouse behind
                _stop(process)
                subprocess.run([str(BIN / "missionpulse"), "warehouse", "stop"], env=env)
                raise
            finally:
                sampler.stopping.set()
                sampler.join()
            wall = time.monotonic() - started
            cpu = {
                "pipeline": round(_children_cpu_s() - cpu_before, 1),
                "postgresql": round(sampler.postgres_cpu_s(), 1),
                "simulator": round(_cpu_s(psutil.Process(sim_pid)), 1),
            }
    log(f"{name}: exit {exit_code} after {wall:.0f} s; {machine_load()}")
    result = CaseResult(
        name=name,
        handles=handles,
        missions=missions,
        ok=exit_code == 0,
        exit_code=exit_code,
        wall_s=round(wall, 1),
        cpu_s=cpu,
        peaks_mib={
            tree: {
                "rss_sum": round(peak.rss_sum / MiB, 1),
                "pss_sum": round(peak.pss_sum / MiB, 1),
                "largest_rss": round(peak.largest_rss / MiB, 1),
                "processes": peak.processes,
            }
            for tree, peak in sampler.peaks.items()
        },
        tasks={},
        slowest_tasks=[],
        raw_rows={},
        scored_comments=0,
        mart_rows={},
        log_path=str(log_path),
    )
    result.largest_process = sampler.peaks["pipeline"].largest_name
    _count_tasks(state_dir, result)
    _count_rows(env, result)
    return result


def _count_tasks(state_dir: Path, result: CaseResult) -> None:
    """Task instances of the day's seven DAG runs (mapped ones count once per map index:
    one per extraction batch) and the slowest, named ``<DAG>.<task>``."""
    db_path = state_dir / "airflow" / "airflow.db"
    if not db_path.exists():
        result.errors.append(f"no Airflow metadata at {db_path}")
        return
    marks = ", ".join("?" for _ in DAG_IDS)
    with sqlite3.connect(db_path) as conn:
        rows = conn.execute(
            "select coalesce(state, 'none'), count(*) from task_instance "
            f"where dag_id in ({marks}) group by 1",
            DAG_IDS,
        ).fetchall()
        result.tasks = {state: count for state, count in rows}
        slow = conn.execute(
            "select dag_id || '.' || task_id, coalesce(duration, 0) from task_instance "
            f"where dag_id in ({marks}) order by duration desc limit 8",
            DAG_IDS,
        ).fetchall()
        result.slowest_tasks = [(task, round(float(seconds), 1)) for task, seconds in slow]
        failed = conn.execute(
            "select dag_id || '.' || task_id"
            " || case when map_index >= 0 then '[' || map_index || ']' else '' end, state"
            f" from task_instance where dag_id in ({marks})"
            " and state in ('failed', 'upstream_failed') order by 1",
            DAG_IDS,
        ).fetchall()
        result.errors.extend(f"task {task} {state}" for task, state in failed)


def _count_rows(env: dict[str, str], result: CaseResult) -> None:
    """Rows in raw per platform, comments scored, mart rows; then stop the warehouse."""
    try:
        url = subprocess.run(
            [str(BIN / "missionpulse"), "warehouse", "url"],
            env=env,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except subprocess.CalledProcessError as err:
        result.errors.append(f"warehouse url failed: {err.stderr.strip()[-300:]}")
        return
    try:
        with psycopg.connect(url, autocommit=True) as conn:
            tables = conn.execute(
                "select table_schema, table_name from information_schema.tables "
                "where table_schema in ('raw', 'marts') and table_type = 'BASE TABLE'"
            ).fetchall()
            for schema, table in sorted(tables):
                (count,) = conn.execute(  # type: ignore[misc]
                    sql.SQL("select count(*) from {}").format(sql.Identifier(schema, table))
                ).fetchone()
                if schema == "raw" and table.split("__")[0] in PLATFORMS:
                    platform = table.split("__")[0]
                    result.raw_rows[platform] = result.raw_rows.get(platform, 0) + count
                    result.raw_rows[table] = count
                elif schema == "marts":
                    result.mart_rows[table] = count
            scored = conn.execute("select to_regclass('ml.comment_sentiment') is not null")
            if scored.fetchone()[0]:  # type: ignore[index]
                (result.scored_comments,) = conn.execute(  # type: ignore[misc]
                    "select count(*) from ml.comment_sentiment"
                ).fetchone()
    finally:
        subprocess.run([str(BIN / "missionpulse"), "warehouse", "stop"], env=env, check=False)


# --- report -------------------------------------------------------------------------------


def _raw_total(result: CaseResult) -> int:
    return sum(result.raw_rows.get(p, 0) for p in PLATFORMS)


def print_table(results: list[CaseResult]) -> None:
    headers = ["", *(r.name for r in results)]
    if len(results) == 2:
        headers.append("ratio per handle")
    lines: list[list[str]] = []

    def row(label: str, values: list[float], fmt: str = "{:,.0f}", per_handle: bool = True) -> None:
        cells = [label, *(fmt.format(v) for v in values)]
        if len(results) == 2:
            ref, big = results
            if per_handle and values[0]:
                ratio = (values[1] / big.handles) / (values[0] / ref.handles)
                cells.append(f"{ratio:.2f}")
            elif values[0]:
                cells.append(f"x{values[1] / values[0]:.2f} (total)")
            else:
                cells.append("")
        lines.append(cells)

    row("handles", [r.handles for r in results], per_handle=False)
    row("missions", [r.missions for r in results], per_handle=False)
    lines.append(["run ok", *("yes" if r.ok else f"NO (exit {r.exit_code})" for r in results)])
    row("wall time (s)", [r.wall_s for r in results], "{:,.1f}")
    for tree in ("pipeline", "postgresql", "simulator"):
        row(f"CPU time {tree} (s)", [r.cpu_s.get(tree, 0.0) for r in results], "{:,.1f}")
    row("Airflow task instances", [r.task_count for r in results], per_handle=False)
    for platform in PLATFORMS:
        row(f"raw rows {platform}", [r.raw_rows.get(platform, 0) for r in results])
    row("raw rows total", [_raw_total(r) for r in results])
    row("comments scored", [r.scored_comments for r in results])
    row(
        "mart rows (all marts)",
        [sum(r.mart_rows.values()) for r in results],
    )
    for tree in ("pipeline", "postgresql", "simulator"):
        for metric, label in (("pss_sum", "PSS"), ("rss_sum", "RSS")):
            row(
                f"peak {tree} {label} (MiB)",
                [r.peaks_mib[tree][metric] for r in results],
                "{:,.0f}",
                per_handle=False,
            )
    row(
        "largest pipeline process RSS (MiB)",
        [r.peaks_mib["pipeline"]["largest_rss"] for r in results],
        per_handle=False,
    )
    lines = [line + [""] * (len(headers) - len(line)) for line in lines]
    widths = [max(len(str(line[i])) for line in [headers, *lines]) for i in range(len(headers))]
    for line in [headers, *lines]:
        print(
            "  ".join(
                str(c).rjust(w) if i else str(c).ljust(w)
                for i, (c, w) in enumerate(zip(line, widths, strict=False))
            )
        )
    for result in results:
        states = ", ".join(f"{s}={n}" for s, n in sorted(result.tasks.items()))
        slow = ", ".join(f"{t} {s:.0f}s" for t, s in result.slowest_tasks)
        print(f"\n{result.name}: task states {states}\n  slowest: {slow}\n  log: {result.log_path}")
        for error in result.errors:
            print(f"  problem: {error}")


# --- main ---------------------------------------------------------------------------------


def serve_simulator(argv: list[str]) -> int:
    """The simulator on the configured registry, with the platforms' quotas multiplied by
    ``--quota-factor`` (what a ministry at that scale negotiates: X's enterprise access, a
    YouTube quota extension), until SIGINT."""
    from missionpulse.simulator.server import make_server
    from missionpulse.simulator.x_api import DEFAULT_RATE_LIMITS
    from missionpulse.simulator.youtube_api import DAILY_QUOTA

    parser = argparse.ArgumentParser(prog="bench.scale serve-simulator")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--quota-factor", type=float, default=1.0)
    args = parser.parse_args(argv)
    factor = max(1.0, args.quota_factor)
    server = make_server(
        port=args.port,
        x_rate_limits={k: int(v * factor) for k, v in DEFAULT_RATE_LIMITS.items()},
        youtube_daily_quota=int(DAILY_QUOTA * factor),
    )
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["serve-simulator"]:
        return serve_simulator(argv[1:])
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--handles", type=int, default=10_000)
    parser.add_argument("--reference", action="store_true", help="also run config/'s registry")
    parser.add_argument("--date", default=None, help="UTC day to run (default: yesterday)")
    parser.add_argument(
        "--platform-quotas",
        choices=("scaled", "default"),
        default="scaled",
        help="scaled: the simulator's X rate limits and YouTube daily quota grow with the "
        "registry (per handle as for config/'s); default: one app's quotas (a 10,000-handle "
        "day then waits for X's windows and runs out of YouTube units)",
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of the generated registry")
    parser.add_argument("--workdir", type=Path, default=None, help="default: a new temp folder")
    parser.add_argument(
        "--keep",
        action="store_true",
        help="keep the work folder afterwards (kept anyway when a case fails)",
    )
    parser.add_argument("--json", type=Path, default=None, help="also write the figures here")
    args = parser.parse_args(argv)

    from missionpulse import settings
    from missionpulse.registry import load_registry
    from missionpulse.simulator.scale_registry import generate_registry

    day = date.fromisoformat(args.date) if args.date else datetime.now(UTC).date() - timedelta(1)
    # a `kill` of the bench ends it like Ctrl-C, so that its runs and warehouses are stopped
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    workdir = (args.workdir or Path(tempfile.mkdtemp(prefix="missionpulse-scale-"))).resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    workdir.chmod(0o755)
    results: list[CaseResult] = []
    base = settings.config_dir()
    reference = load_registry(base)
    try:
        if args.reference:
            results.append(
                run_case(
                    "reference",
                    base,
                    len(reference.handles),
                    len(reference.missions),
                    day,
                    workdir / "reference",
                )
            )
        generated = generate_registry(workdir / "config", args.handles, seed=args.seed)
        load_registry(generated.config_dir)  # fails loudly if it were not a valid registry
        results.append(
            run_case(
                f"{generated.total_handles} handles",
                generated.config_dir,
                generated.total_handles,
                generated.missions,
                day,
                workdir / "scale",
                quota_factor=(
                    generated.total_handles / len(reference.handles)
                    if args.platform_quotas == "scaled"
                    else 1.0
                ),
            )
        )
    finally:
        if results:
            print()
            print_table(results)
        if args.json and results:
            args.json.write_text(json.dumps([asdict(r) for r in results], indent=2))
        if args.keep or not all(r.ok for r in results):
            # a failed case keeps its logs, metadata DB and warehouse data for inspection
            log(f"kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    return 0 if results and all(r.ok for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
