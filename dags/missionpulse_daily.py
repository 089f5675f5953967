"""The daily MissionPulse run, one UTC day per run.

prepare -> extract_<platform> -> validate_<platform> (one pair per platform, in parallel)
        -> select_publishable -> transform (dbt through Cosmos) -> score_sentiment
        -> check_platforms

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

from common.assets import MARTS, RAW, SENTIMENT
from common.defaults import DEFAULT_ARGS
from common.platforms import enabled_platforms

PROJECT_ROOT = Path(os.environ.get("MISSIONPULSE_HOME", Path(__file__).resolve().parents[1]))
DBT_PROJECT = PROJECT_ROOT / "dbt_project"
WAREHOUSE_CONN_ID = "missionpulse_warehouse"
PLATFORMS = enabled_platforms()


@task
def prepare() -> None:
    """Warehouse up, owned schemas present, registry loaded into raw."""
    from missionpulse import pipeline

    pipeline.prepare()


@task(retries=3)
def extract(platform: str, data_interval_start=None, params=None) -> dict:
    """Extract the platform's day into the landing zone and replace its raw partitions."""
    from dataclasses import asdict

    from airflow.sdk.exceptions import AirflowFailException

    from extractors.common.errors import AuthError, PermissionDeniedError
    from missionpulse import pipeline

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


@task(outlets=[SENTIMENT, MARTS])
def score_sentiment(data_interval_start=None, ti=None) -> dict:
    """Score the day's audience comments with the shipped PyTorch model."""
    from missionpulse import pipeline

    platforms = ti.xcom_pull(task_ids="select_publishable").split(",")
    return pipeline.score_comments(data_interval_start.date(), platforms)


@task(trigger_rule="all_done")
def check_platforms(ti=None) -> None:
    """Fail the run (so the team is alerted) when a platform was left out of the day."""
    from airflow.sdk.exceptions import AirflowFailException

    published = (ti.xcom_pull(task_ids="select_publishable") or "").split(",")
    missing = [p for p in PLATFORMS if p not in published]
    if missing:
        raise AirflowFailException(
            f"not published today: {', '.join(missing)} (extraction or validation failed; "
            "see the extract_/validate_ tasks). The other platforms were published."
        )


@dag(
    dag_id="missionpulse_daily",
    schedule=CronDataIntervalTimetable("0 0 * * *", timezone="UTC"),
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=4,
    default_args=DEFAULT_ARGS,
    params={"faults": "none"},
    tags=["missionpulse", "daily", *PLATFORMS],
    doc_md=__doc__,
)
def missionpulse_daily() -> None:
    prepared = prepare()
    selected = select_publishable()
    for platform in PLATFORMS:
        extracted = extract.override(task_id=f"extract_{platform}", outlets=[RAW[platform]])(
            platform
        )
        validated = validate.override(task_id=f"validate_{platform}")(platform)
        prepared >> extracted >> validated >> selected

    transform = DbtTaskGroup(
        group_id="transform",
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
        ),
        operator_args={
            "vars": {
                "start_date": "{{ data_interval_start.strftime('%Y-%m-%d') }}",
                "end_date": "{{ data_interval_end.strftime('%Y-%m-%d') }}",
                "extracted_platforms": "{{ ti.xcom_pull(task_ids='select_publishable') }}",
            },
            "install_deps": False,
        },
        default_args={"retries": 2},
    )
    selected >> transform >> score_sentiment() >> check_platforms()


missionpulse_daily()
