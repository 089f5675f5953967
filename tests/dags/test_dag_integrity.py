"""Every DAG imports and follows the project's rules (Airflow best practice), and the
failure notifier, the freshness deadline and the platform pools are really wired in.

Airflow reads its configuration at import, so each check runs in a fresh interpreter with
a throwaway AIRFLOW_HOME (migrated once for the module) rather than configuring the test
process's Airflow.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.dags.receivers import WebhookReceiver

ROOT = Path(__file__).resolve().parents[2]
PLATFORMS = ("x", "facebook", "instagram", "youtube")


@pytest.fixture(scope="module")
def airflow_env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    home = tmp_path_factory.mktemp("airflow")
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("MISSIONPULSE_ALERT_")},
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
        "AIRFLOW__COSMOS__CACHE_DIR": str(home / "cosmos"),
        "AIRFLOW__COSMOS__ENABLE_TELEMETRY": "False",
        "MISSIONPULSE_HOME": str(ROOT),
        "MISSIONPULSE_STATE_DIR": str(home / "state"),
        # as in orchestration.configure: rendering the dbt groups runs `dbt ls`, slower than
        # Airflow's default 30 s parse budget on a busy two-core machine
        "AIRFLOW__CORE__DAGBAG_IMPORT_TIMEOUT": "300",
        "PATH": str(Path(sys.executable).parent) + os.pathsep + os.environ.get("PATH", ""),
    }
    env.pop("MISSIONPULSE_DEADLINE_HOURS", None)
    migrate = subprocess.run(
        [str(Path(sys.executable).with_name("airflow")), "db", "migrate"],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert migrate.returncode == 0, migrate.stderr[-3000:]
    yield env


def run_script(script: str, env: dict[str, str], *args: str) -> dict:
    """Run ``script`` in a fresh interpreter; it prints one JSON line starting ``FACTS``."""
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(script), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        cwd=ROOT,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-4000:]
    (line,) = [line for line in done.stdout.splitlines() if line.startswith("FACTS ")]
    return dict(json.loads(line.removeprefix("FACTS ")))


def run_script_with_dag(
    script: str, env: dict[str, str], folder: Path, dag_file: str, source: str, *args: str
) -> dict:
    """``run_script`` with ``source`` as ``folder/dag_file`` in Airflow's DAGs folder (the
    script finds it at ``airflow.settings.DAGS_FOLDER``): ``dag.test()`` runs only a DAG
    parsed from the configured DAGs folder."""
    folder.mkdir(exist_ok=True)
    (folder / dag_file).write_text(source)
    return run_script(script, {**env, "AIRFLOW__CORE__DAGS_FOLDER": str(folder)}, *args)


DESCRIBE_DAGS = f"""
    import json, sys
    sys.path.insert(0, {str(ROOT / "dags")!r})
    from airflow.dag_processing.dagbag import DagBag
    bag = DagBag({str(ROOT / "dags")!r})

    def flatten(condition):
        if condition is None:
            return []
        parts = getattr(condition, "objects", None)
        return [a for part in parts for a in flatten(part)] if parts else [condition]

    def callbacks(value):
        # a mapped task keeps its default_args value as given (one notifier, not a list):
        # each of its expanded tasks gets it as a list when it runs
        return value if isinstance(value, list) else [value] if value else []

    def scheduled_on(dag):
        return flatten(getattr(dag.timetable, "asset_condition", None))

    facts = {{"import_errors": {{k: str(v) for k, v in bag.import_errors.items()}}, "dags": {{}}}}
    for dag_id, dag in bag.dags.items():
        facts["dags"][dag_id] = {{
            "tags": sorted(dag.tags),
            "start_date": dag.start_date.isoformat(),
            "catchup": dag.catchup,
            "owner": dag.owner,
            "fileloc": dag.fileloc,
            "deadlines": [
                {{
                    "reference": type(d.reference).__name__,
                    "interval_s": d.interval.total_seconds(),
                    "callback": type(d.callback).__name__,
                    "callback_path": d.callback.path,
                }}
                for d in (dag.deadline or [])
            ],
            "timetable": type(dag.timetable).__name__,
            "schedule": getattr(dag.timetable, "summary", None),
            "schedule_assets": sorted(a.uri for a in scheduled_on(dag) if hasattr(a, "uri")),
            "tasks": {{
                t.task_id: {{
                    "outlets": sorted(getattr(o, "uri", str(o)) for o in t.outlets),
                    "trigger_rule": getattr(t.trigger_rule, "value", str(t.trigger_rule)),
                    "owner": t.owner,
                    "retries": t.retries,
                    "backoff": t.retry_exponential_backoff,
                    "pool": t.pool,
                    "on_failure": [type(cb).__name__ for cb in callbacks(t.on_failure_callback)],
                }}
                for t in dag.tasks
            }},
        }}
    print("FACTS", json.dumps(facts))
"""


@pytest.fixture(scope="module")
def dags(airflow_env: dict[str, str]) -> dict:
    facts = run_script(DESCRIBE_DAGS, airflow_env)
    assert not facts["import_errors"], facts["import_errors"]
    assert facts["dags"], "no DAGs found"
    return dict(facts["dags"])


EXTRACT_DAGS = {f"extract_{p}" for p in PLATFORMS}
DOWNSTREAM_DAGS = {"transform_warehouse", "score_sentiment", "publish"}
RAW = {p: f"missionpulse://warehouse/raw/{p}" for p in PLATFORMS}


def test_one_dag_per_step_each_with_tags_an_owner_and_its_own_file(dags: dict) -> None:
    assert set(dags) == EXTRACT_DAGS | DOWNSTREAM_DAGS
    for dag_id, dag in dags.items():
        assert dag["tags"], f"{dag_id} has no tags"
        assert dag["owner"] == "missionpulse-data-team", f"{dag_id} owner {dag['owner']}"
        assert dag["fileloc"].endswith(f"/{dag_id}.py"), f"{dag_id} is not in {dag_id}.py"


def test_every_task_retries_with_backoff_and_alerts_on_failure(dags: dict) -> None:
    for dag_id, dag in dags.items():
        assert dag["tasks"], f"{dag_id} has no tasks"
        for task_id, task in dag["tasks"].items():
            where = f"{dag_id}.{task_id}"
            assert task["owner"] == "missionpulse-data-team", f"{where} owner"
            assert task["retries"] >= 1, f"{where} has no retries"
            # True, or (a mapped task, as Airflow 3.3 normalises it) the multiplier 2.0
            assert task["backoff"] in (True, 2.0), f"{where} retries without exponential backoff"
            assert task["on_failure"].count("MissionPulseNotifier") == 1, (
                f"{where} on_failure_callback is {task['on_failure']}, not the notifier"
            )


def test_only_the_extraction_batches_run_in_their_platforms_pool(dags: dict) -> None:
    for dag_id, dag in dags.items():
        pools = {task_id: t["pool"] for task_id, t in dag["tasks"].items()}
        if dag_id in EXTRACT_DAGS:
            platform = dag_id.removeprefix("extract_")
            assert pools.pop("extract_batch") == f"missionpulse_{platform}", dag_id
        assert set(pools.values()) == {"default_pool"}, f"{dag_id}: {pools}"


def test_a_day_flows_through_the_dags_by_its_assets(dags: dict) -> None:
    """extract_<p> (daily interval) announces RAW[p] whatever happened; transform_warehouse
    waits on all four for the day, score_sentiment on its build, publish on the scores."""
    for platform in PLATFORMS:
        dag = dags[f"extract_{platform}"]
        assert dag["timetable"] == "CronDataIntervalTimetable"
        assert dag["schedule"] == "0 0 * * *"  # MISSIONPULSE_EXTRACT_AT's default, 00:00 UTC
        announce = dag["tasks"]["announce"]
        assert announce["outlets"] == [RAW[platform]]
        assert announce["trigger_rule"] == "all_done"  # a failed day is announced too
        assert dag["tasks"]["check"]["trigger_rule"] == "all_done"
    chain = {
        "transform_warehouse": sorted(RAW.values()),
        "score_sentiment": ["missionpulse://warehouse/marts_shadow"],
        "publish": ["missionpulse://warehouse/ml/comment_sentiment"],
    }
    emitted = {
        "transform_warehouse": ("hand_off", "missionpulse://warehouse/marts_shadow"),
        "score_sentiment": ("hand_off", "missionpulse://warehouse/ml/comment_sentiment"),
        "publish": ("publish_marts", "missionpulse://warehouse/marts"),
    }
    for dag_id, assets in chain.items():
        assert dags[dag_id]["timetable"] == "PartitionedAssetTimetable", dag_id
        assert dags[dag_id]["schedule_assets"] == assets, dag_id
        task_id, asset = emitted[dag_id]
        assert dags[dag_id]["tasks"][task_id]["outlets"] == [asset], dag_id
        # it runs after a failure too, to release the publication lock (withhold)
        assert dags[dag_id]["tasks"][task_id]["trigger_rule"] == "all_done", dag_id


def test_extract_dags_carry_the_freshness_deadline(dags: dict) -> None:
    for dag_id in EXTRACT_DAGS:
        assert dags[dag_id]["deadlines"] == [
            {
                # queued as soon as the data interval ends (scheduled runs), + 6 h by default
                "reference": "DagRunQueuedAtDeadline",
                "interval_s": 6 * 3600.0,
                "callback": "AsyncCallback",
                "callback_path": "missionpulse.alerts.notify_deadline_missed",
            }
        ], dag_id


# A one-task DAG with the project's default arguments whose task fails for good.
PROBE_DAG = f"""
import sys
from datetime import datetime, timezone

sys.path.insert(0, {str(ROOT / "dags")!r})
from airflow.sdk import dag, task

from common.defaults import DEFAULT_ARGS


@dag(
    dag_id="alert_probe",
    schedule=None,
    start_date=datetime(2026, 1, 1, tzinfo=timezone.utc),
    default_args={{**DEFAULT_ARGS, "retries": 0}},
    tags=["test"],
)
def alert_probe():
    @task(task_id="extract_x", pool="missionpulse_x")
    def extract_x():
        raise ValueError("X API said no: GET /2/users?access_token=probesecret123456 -> 400")

    extract_x()


alert_probe()
"""

FAILING_DAY = """
    import json
    from datetime import datetime, timezone
    from airflow.dag_processing.dagbag import DagBag
    from airflow.models.pool import Pool
    from airflow.settings import DAGS_FOLDER
    from missionpulse import orchestration

    pools = orchestration.ensure_pools()
    stored = {p.pool: p.slots for p in Pool.get_pools()}
    dag = DagBag(DAGS_FOLDER).get_dag("alert_probe")
    run = dag.test(logical_date=datetime(2026, 11, 21, tzinfo=timezone.utc))
    print("FACTS", json.dumps({
        "state": str(run.state),
        "pools": pools,
        "stored": stored,
        "states": {ti.task_id: str(ti.state) for ti in run.get_task_instances()},
    }))
"""


@pytest.mark.e2e
def test_a_failed_task_alerts_through_the_webhook_and_pools_exist(
    airflow_env: dict[str, str], tmp_path: Path
) -> None:
    """A real task failing under dag.test(): the notifier posts to a real webhook."""
    with WebhookReceiver() as hook:
        env = {
            **airflow_env,
            "MISSIONPULSE_ALERT_WEBHOOK_URL": hook.url("/hooks/T1/probe"),
            "MISSIONPULSE_X_POOL_SLOTS": "2",
        }
        facts = run_script_with_dag(FAILING_DAY, env, tmp_path, "alert_probe.py", PROBE_DAG)

    assert facts["state"] == "failed"
    assert facts["states"] == {"extract_x": "failed"}
    assert facts["pools"] == {
        "missionpulse_x": 2,
        "missionpulse_facebook": 1,
        "missionpulse_instagram": 1,
        "missionpulse_youtube": 1,
    }
    assert {k: v for k, v in facts["stored"].items() if k.startswith("missionpulse_")} == facts[
        "pools"
    ]
    (request,) = hook.received
    body = request["json"]
    assert (body["event"], body["dag_id"], body["task_id"], body["platform"]) == (
        "task_failed",
        "alert_probe",
        "extract_x",
        "x",
    )
    # a manual run at 2026-11-21 with no timetable: its day is the logical date's
    assert body["day"] == "2026-11-21"
    assert body["try_number"] == 1
    assert body["error"].startswith("ValueError: X API said no: GET /2/users?access_token=")
    assert "probesecret123456" not in json.dumps(body)
    assert "access_token=REDACTED" in body["text"]
    assert "/dags/alert_probe/runs/" in body["log_url"] and "/tasks/extract_x" in body["log_url"]


EXTRACT_SCHEDULES = f"""
    import json, sys
    sys.path.insert(0, {str(ROOT / "dags")!r})
    from airflow.dag_processing.dagbag import DagBag
    facts = {{}}
    for platform in {PLATFORMS!r}:
        bag = DagBag({str(ROOT / "dags")!r} + f"/extract_{{platform}}.py")
        dag = bag.dags.get(f"extract_{{platform}}")
        facts[platform] = {{
            "errors": [str(e) for e in bag.import_errors.values()],
            "timetable": dag and type(dag.timetable).__name__,
            "schedule": dag and getattr(dag.timetable, "summary", None),
        }}
    print("FACTS", json.dumps(facts))
"""


@pytest.mark.parametrize(
    ("extract_at", "timetable", "schedule"),
    [
        ("03:30", "CronDataIntervalTimetable", "30 3 * * *"),
        ("manual", "NullTimetable", None),
    ],
)
def test_the_extract_schedule_is_a_setting(
    airflow_env: dict[str, str], extract_at: str, timetable: str, schedule: str | None
) -> None:
    """MISSIONPULSE_EXTRACT_AT: when day D is extracted on D+1 (UTC), or no schedule."""
    facts = run_script(EXTRACT_SCHEDULES, {**airflow_env, "MISSIONPULSE_EXTRACT_AT": extract_at})
    for platform in PLATFORMS:
        assert facts[platform] == {"errors": [], "timetable": timetable, "schedule": schedule}


def test_a_bad_extract_schedule_is_an_import_error_that_names_it(
    airflow_env: dict[str, str],
) -> None:
    facts = run_script(EXTRACT_SCHEDULES, {**airflow_env, "MISSIONPULSE_EXTRACT_AT": "3am"})
    for platform in PLATFORMS:
        (error,) = facts[platform]["errors"]
        assert "MISSIONPULSE_EXTRACT_AT must be a UTC time of day HH:MM" in error
        assert "'3am'" in error


def test_every_dag_starts_on_the_first_day_and_never_catches_up(
    dags: dict, airflow_env: dict[str, str]
) -> None:
    """A day before a DAG's start date gets a run with no task: ``first_day`` is the one
    start date of all of them, so ``run_day`` can refuse such a day for all seven."""
    assert "MISSIONPULSE_FIRST_DAY" not in airflow_env
    for dag_id, facts in dags.items():
        assert facts["start_date"] == "2024-01-01T00:00:00+00:00", dag_id
        assert facts["catchup"] is False, dag_id
    moved = run_script(DESCRIBE_DAGS, {**airflow_env, "MISSIONPULSE_FIRST_DAY": "2019-03-01"})
    assert not moved["import_errors"]
    assert {f["start_date"] for f in moved["dags"].values()} == {"2019-03-01T00:00:00+00:00"}


EARLY_DAG = """
from datetime import UTC, datetime
from airflow.sdk import DAG, task

with DAG("starts_2026", start_date=datetime(2026, 1, 1, tzinfo=UTC), schedule=None) as dag:
    @task
    def work():
        return 1
    work()
"""

EARLY_RUN = """
    import json
    from datetime import UTC, datetime
    from airflow.dag_processing.dagbag import DagBag
    from airflow.settings import DAGS_FOLDER
    from missionpulse import orchestration

    dag = DagBag(DAGS_FOLDER).get_dag("starts_2026")

    def outcome(day):
        run = orchestration._test_run(dag, logical_date=datetime(*day, tzinfo=UTC), conf={})
        return [run.state, run.failed_tasks]

    print("FACTS", json.dumps({"before": outcome((2025, 6, 1)), "after": outcome((2026, 6, 1))}))
"""


def test_a_dag_run_that_ran_no_task_is_not_a_success(
    airflow_env: dict[str, str], tmp_path: Path
) -> None:
    """Airflow marks a run before the DAG's start date successful with no task instance;
    ``_test_run`` reports it failed, so a day can never be "ok" with nothing done."""
    facts = run_script_with_dag(EARLY_RUN, airflow_env, tmp_path, "starts_2026.py", EARLY_DAG)
    assert facts["after"] == ["success", []]
    state, failed = facts["before"]
    assert state == "failed"
    assert failed == ["(no task ran: logical date 2025-06-01 00:00:00+00:00)"]


SIGNALLED_DAG = """
import os, signal, sys, time
from datetime import UTC, datetime
from airflow.sdk import DAG, task

with DAG("signalled", start_date=datetime(2026, 1, 1, tzinfo=UTC), schedule=None) as dag:
    @task(retries=3)
    def waits(**context):
        os.kill(os.getpid(), getattr(signal, context["params"]["signal"]))
        time.sleep(60)  # a task that waits: interrupted, not waited for

    @task
    def after():
        open(sys.argv[1], "w").write("ran")

    waits() >> after()
"""

SIGNALLED_RUN = """
    import json, signal, time
    from datetime import UTC, datetime
    from airflow.dag_processing.dagbag import DagBag
    from airflow.settings import DAGS_FOLDER
    from missionpulse import orchestration

    dag = DagBag(DAGS_FOLDER).get_dag("signalled")
    # as in a terminal's foreground (a shell's background job starts with SIGINT ignored)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    handlers = [signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)]
    facts = {}
    for name in ("SIGINT", "SIGTERM"):
        started = time.monotonic()
        try:
            with orchestration.stop_on_signals():
                orchestration._test_run(
                    dag, logical_date=datetime(2026, 6, 1, tzinfo=UTC), conf={"signal": name}
                )
            stopped = None
        except orchestration.RunStopped as stop:
            stopped = signal.Signals(stop.signum).name
        facts[name] = {
            "stopped": stopped,
            "seconds": time.monotonic() - started,
            "handlers_back": [signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)]
            == handlers,
        }
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    with orchestration.stop_on_signals():
        facts["ignored_stays_ignored"] = signal.getsignal(signal.SIGINT) is signal.SIG_IGN
    print("FACTS", json.dumps(facts))
"""


def test_ctrl_c_and_sigterm_stop_an_in_process_run_at_once(
    airflow_env: dict[str, str], tmp_path: Path
) -> None:
    """Without ``stop_on_signals`` neither stops ``dag.test()``: the task fails, is retried
    after its delay and the run goes on (SIGTERM only reaches the operator's on_kill)."""
    marker = tmp_path / "after-ran"
    facts = run_script_with_dag(
        SIGNALLED_RUN, airflow_env, tmp_path / "dags", "signalled.py", SIGNALLED_DAG, str(marker)
    )
    for name in ("SIGINT", "SIGTERM"):
        assert facts[name]["stopped"] == name, facts
        assert facts[name]["seconds"] < 30, facts  # neither the 60 s sleep nor a retry
        assert facts[name]["handlers_back"]
    assert not marker.exists()  # no task started after the signal
    assert facts["ignored_stays_ignored"]
