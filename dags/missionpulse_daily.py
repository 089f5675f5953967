"""The daily MissionPulse run, one UTC day per run.

prepare -> extract_<platform> -> validate_<platform> (one pair per platform, in parallel)
        -> select_publishable -> stage_marts (publication lock; marts copied into the
        run's shadow schema) -> transform (dbt through Cosmos into the shadow, all but the
        sentiment marts) -> score_sentiment -> transform_sentiment (the sentiment marts,
        which read the scores) -> validate_marts (the suites on the shadow) -> publish_marts
        (the shadow swapped in as marts; withheld on any failure) -> publish_scorecard
        (Sundays: the week's HTML scorecard under .missionpulse/reports/) -> check_platforms
        (fails the run when a platform was left out or any task failed)

Keyed on the data interval: every task reads ``data_interval_start`` and replaces that
day's partitions, so a rerun or a backfill never duplicates. A platform whose extraction
fails (expired token) or whose data fails a blocking expectation is left out of the day's
publication, the others go on, and the run still ends failed so the team is alerted.
Heavy imports live inside the tasks; this file is configuration.
"""

from __future__ import annotations

import os
from pathlib import Path

import pendulum
from airflow.sdk import dag, task
from airflow.timetables.interval import CronDataIntervalTimetable
from cosmos import DbtTaskGroup, ExecutionConfig, ProfileConfig, ProjectConfig, RenderConfig
from cosmos.constants import ExecutionMode, InvocationMode, LoadMode, TestBehavior
from cosmos.profiles import PostgresUserPasswordProfileMapping

from common.alerts import freshness_deadline
from common.assets import MARTS, RAW, SENTIMENT
from common.defaults import DEFAULT_ARGS
from common.platforms import enabled_platforms
from missionpulse.orchestration import pool_name

PROJECT_ROOT = Path(os.environ.get("MISSIONPULSE_HOME", Path(__file__).resolve().parents[1]))
DBT_PROJECT = PROJECT_ROOT / "dbt_project"
WAREHOUSE_CONN_ID = "missionpulse_warehouse"
PLATFORMS = enabled_platforms()


def requested_platforms(params) -> list[str]:
    """The platforms this run covers: param ``platforms`` ("all" or comma-separated)."""
    wanted = str((params or {}).get("platforms") or "all")
    if wanted == "all":
        return list(PLATFORMS)
    return [p for p in PLATFORMS if p in {w.strip() for w in wanted.split(",")}]


# Shared by every dbt task group: each dbt invocation's run_results.json (passes included)
# is written to audit.dbt_runs / dbt_model_results / dbt_test_results by the callback, which
# Cosmos calls before it raises on a failed test, so failures are kept as well.
DBT_OPERATOR_ARGS = {
    "vars": {
        "start_date": "{{ data_interval_start.strftime('%Y-%m-%d') }}",
        "end_date": "{{ data_interval_end.strftime('%Y-%m-%d') }}",
        "extracted_platforms": "{{ ti.xcom_pull(task_ids='select_publishable') }}",
        # both groups build the marts into the run's shadow schema, never into marts itself
        # (macros/generate_schema_name.sql); publish_marts swaps it in once validated
        "marts_schema": "{{ ti.xcom_pull(task_ids='stage_marts')['schema'] }}",
    },
    "install_deps": False,
    "callback": "missionpulse.audit.dbt_results.record_invocation",
}


@task
def prepare() -> None:
    """Warehouse up, owned schemas present, registry loaded into raw."""
    from missionpulse import pipeline

    pipeline.prepare()


@task(retries=3)
def extract(platform: str, data_interval_start=None, params=None) -> dict:
    """Extract the platform's day into the landing zone and replace its raw partitions."""
    from dataclasses import asdict

    from airflow.sdk.exceptions import AirflowFailException, AirflowSkipException

    from extractors.common.errors import AuthError, PermissionDeniedError
    from missionpulse import pipeline

    if platform not in requested_platforms(params):
        raise AirflowSkipException(f"{platform} not requested for this run")
    try:
        summary = pipeline.extract(platform, data_interval_start.date(), params["faults"])
    except (AuthError, PermissionDeniedError) as err:
        raise AirflowFailException(str(err)) from None  # retrying cannot help
    return asdict(summary)


@task
def validate(platform: str, data_interval_start=None, run_id=None) -> dict:
    """Great Expectations on the day's raw batch; a blocking failure quarantines it."""
    from airflow.sdk.exceptions import AirflowFailException

    from expectations.runner import QuarantineError
    from missionpulse import pipeline

    try:
        results = pipeline.validate_raw(platform, data_interval_start.date(), dag_run_id=run_id)
    except QuarantineError as err:
        raise AirflowFailException(str(err)) from None
    return {"platform": platform, "suites": results}


@task(trigger_rule="all_done")
def select_publishable(ti=None) -> str:
    """The platforms whose data passed extraction and validation today (comma-separated)."""
    from airflow.sdk.exceptions import AirflowSkipException

    passed = [p for p in PLATFORMS if ti.xcom_pull(task_ids=f"validate_{p}") is not None]
    if not passed:
        raise AirflowSkipException("no platform passed extraction and validation today")
    return ",".join(passed)


@task(max_active_tis_per_dag=1)
def stage_marts(data_interval_start=None, run_id=None, ti=None) -> dict:
    """Take the marts publication lock (one run at a time, until its publish) and copy the
    published marts into this run's shadow schema, which both dbt groups build into."""
    from missionpulse import pipeline

    def holder_alive(holder_run_id: str) -> bool | None:
        try:
            state = ti.get_dagrun_state(dag_id=ti.dag_id, run_id=holder_run_id)
        except Exception as err:
            # gone from this Airflow (a rerun through `missionpulse run` replaces the day's
            # killed run): it cannot publish any more. Otherwise the heartbeat decides.
            text = str(err).lower()
            return False if ("not_found" in text or "not found" in text) else None
        return str(getattr(state, "value", state)) in ("queued", "running")

    return pipeline.stage_marts(data_interval_start.date(), run_id, holder_alive)


@task(outlets=[SENTIMENT])
def score_sentiment(data_interval_start=None, ti=None) -> dict:
    """Score the day's audience comments with the shipped PyTorch model."""
    from missionpulse import pipeline

    platforms = ti.xcom_pull(task_ids="select_publishable").split(",")
    return pipeline.score_comments(data_interval_start.date(), platforms)


@task
def validate_marts(data_interval_start=None, run_id=None, ti=None) -> dict:
    """Great Expectations on the day's mart rows in the run's shadow schema; a blocking
    failure fails the run loudly (recorded in audit.dq_runs) and withholds the publication."""
    from airflow.sdk.exceptions import AirflowFailException

    from missionpulse import pipeline

    schema = ti.xcom_pull(task_ids="stage_marts")["schema"]
    try:
        results = pipeline.validate_marts(data_interval_start.date(), run_id, schema)
    except pipeline.MartsWithheldError as err:
        raise AirflowFailException(str(err)) from None
    return {"suites": results}


@task(trigger_rule="all_done", outlets=[MARTS])
def publish_marts(data_interval_start=None, run_id=None, ti=None) -> dict:
    """Swap the validated shadow in as marts (one transaction). When the build or its
    validation failed, release the publication lock instead: marts keeps its previous
    published state and the shadow stays for inspection."""
    from airflow.sdk.exceptions import AirflowFailException, AirflowSkipException

    from missionpulse import pipeline

    day = data_interval_start.date()
    states = ti.get_task_states(dag_id=ti.dag_id, run_ids=[ti.run_id]).get(ti.run_id, {})
    failed = sorted(
        task_id
        for task_id, state in states.items()
        if (
            task_id.split(".")[0] in ("stage_marts", "transform", "transform_sentiment")
            and state in ("failed", "upstream_failed")
        )
        # the audit marts wait for validate_marts: upstream_failed there says nothing new
        or (task_id.split(".")[0] == "transform_audit" and state == "failed")
    )
    validated = ti.xcom_pull(task_ids="validate_marts")
    if validated is not None and not failed:
        return pipeline.publish_marts(day, run_id, validated["suites"])
    staged = ti.xcom_pull(task_ids="stage_marts")
    reason = (
        f"failed: {', '.join(failed)}"
        if failed
        else "the mart suites failed or did not run (see validate_marts)"
    )
    if not pipeline.withhold_marts(day, run_id, reason) and staged is None:
        raise AirflowSkipException("nothing was staged: no platform passed today")
    raise AirflowFailException(
        f"marts for {day} not published: {reason}; marts keeps its previous published state, "
        f"the day's build stays in schema {staged['schema'] if staged else '(none)'}"
    )


@task
def publish_scorecard(data_interval_start=None) -> str | None:
    """On a Sunday's run, write the week's scorecard (HTML) for leadership."""
    from missionpulse import scorecard, warehouse

    path = scorecard.publish_weekly(warehouse.ensure_running(), data_interval_start.date())
    return str(path) if path else None


@task(trigger_rule="all_done")
def check_platforms(ti=None, params=None) -> None:
    """Fail the run (so the team is alerted) when a requested platform was left out, or
    when any task failed: the run's state follows its leaves, and this is the only leaf, so
    without this check a failed dbt model or test would leave the run "success"."""
    from airflow.sdk.exceptions import AirflowFailException

    problems = []
    published = (ti.xcom_pull(task_ids="select_publishable") or "").split(",")
    missing = [p for p in requested_platforms(params) if p not in published]
    if missing:
        problems.append(
            f"not published today: {', '.join(missing)} (extraction or validation failed; "
            "see the extract_/validate_ tasks). The other platforms were published."
        )
    states = ti.get_task_states(dag_id=ti.dag_id, run_ids=[ti.run_id]).get(ti.run_id, {})
    failed = sorted(
        task_id
        for task_id, state in states.items()
        if state in ("failed", "upstream_failed") and task_id != ti.task_id
    )
    if failed:
        problems.append(f"failed tasks: {', '.join(failed)} (see their logs)")
    if problems:
        raise AirflowFailException("; ".join(problems))


# The marts that read ml.comment_sentiment, and everything downstream of them: built by a
# second dbt group after score_sentiment, not with the rest of the project before it.
AFTER_SCORING = ["fct_mission_daily_sentiment+"]
# The auditors' marts read audit.* (data-quality runs, dbt test results): built last, after
# validate_marts has recorded the mart suites, so the day's figures are complete on the
# first run and a rerun of the day gives the same rows (they have no suite of their own).
AUDIT_MARTS = ["path:models/marts/data_quality"]


def dbt_group(
    group_id: str, select: list[str] | None = None, exclude: list[str] | None = None
) -> DbtTaskGroup:
    """A Cosmos task group over part of the dbt project (dbt build per model, tests included)."""
    return DbtTaskGroup(
        group_id=group_id,
        project_config=ProjectConfig(DBT_PROJECT, install_dbt_deps=False),
        profile_config=ProfileConfig(
            profile_name="missionpulse",
            target_name="default",
            profile_mapping=PostgresUserPasswordProfileMapping(
                conn_id=WAREHOUSE_CONN_ID, profile_args={"schema": "marts", "threads": 2}
            ),
        ),
        execution_config=ExecutionConfig(
            execution_mode=ExecutionMode.LOCAL, invocation_mode=InvocationMode.DBT_RUNNER
        ),
        render_config=RenderConfig(
            load_method=LoadMode.DBT_LS,
            test_behavior=TestBehavior.BUILD,
            emit_datasets=False,
            # a test on two models (relationships) runs once both exist, as its own task
            should_detach_multiple_parents_tests=True,
            select=select or [],
            exclude=exclude or [],
        ),
        operator_args=DBT_OPERATOR_ARGS,
        default_args={"retries": 2},
    )


@dag(
    dag_id="missionpulse_daily",
    schedule=CronDataIntervalTimetable("0 0 * * *", timezone="UTC"),
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=4,
    default_args=DEFAULT_ARGS,
    deadline=freshness_deadline(),
    params={"faults": "none", "platforms": "all"},
    tags=["missionpulse", "daily", *PLATFORMS],
    doc_md=__doc__,
)
def missionpulse_daily() -> None:
    prepared = prepare()
    selected = select_publishable()
    for platform in PLATFORMS:
        extracted = extract.override(
            task_id=f"extract_{platform}", outlets=[RAW[platform]], pool=pool_name(platform)
        )(platform)
        validated = validate.override(task_id=f"validate_{platform}")(platform)
        prepared >> extracted >> validated >> selected

    # dbt in two groups: everything but the sentiment marts, then (once score_sentiment has
    # scored the day's comments) the sentiment marts; same project, profile and operator_args
    transform = dbt_group("transform", exclude=AFTER_SCORING + AUDIT_MARTS)
    transform_sentiment = dbt_group("transform_sentiment", select=AFTER_SCORING)
    transform_audit = dbt_group("transform_audit", select=AUDIT_MARTS)
    (
        selected
        >> stage_marts()
        >> transform
        >> score_sentiment()
        >> transform_sentiment
        >> validate_marts()
        >> transform_audit
        >> publish_marts()
        >> publish_scorecard()
        >> check_platforms()
    )


missionpulse_daily()
