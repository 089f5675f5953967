"""The daily MissionPulse run: extract -> validate -> dbt (Cosmos) -> score sentiment.

Keyed on the data interval (one UTC day): every task reads ``data_interval_start`` and
replaces that day's partitions, so a rerun or a backfill never duplicates. Heavy imports
live inside the tasks; this file is configuration.
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

PROJECT_ROOT = Path(os.environ.get("MISSIONPULSE_HOME", Path(__file__).resolve().parents[1]))
DBT_PROJECT = PROJECT_ROOT / "dbt_project"
WAREHOUSE_CONN_ID = "missionpulse_warehouse"


@dag(
    dag_id="missionpulse_daily",
    schedule=CronDataIntervalTimetable("0 0 * * *", timezone="UTC"),
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=4,
    default_args=DEFAULT_ARGS,
    params={"faults": "none"},
    tags=["missionpulse", "daily", "x"],
    doc_md=__doc__,
)
def missionpulse_daily() -> None:
    @task
    def prepare() -> None:
        """Warehouse up, owned schemas present, registry loaded into raw."""
        from missionpulse import pipeline

        pipeline.prepare()

    @task(outlets=[RAW["x"]])
    def extract_x(data_interval_start=None, params=None) -> dict:
        """Extract X for the day into the landing zone and replace its raw partitions."""
        from dataclasses import asdict

        from missionpulse import pipeline

        summary = pipeline.extract("x", data_interval_start.date(), params["faults"])
        return asdict(summary)

    @task
    def validate_x(data_interval_start=None, run_id=None) -> list:
        """Great Expectations on the day's raw X batch; a blocking failure stops the day."""
        from airflow.exceptions import AirflowFailException

        from expectations.runner import QuarantineError
        from missionpulse import pipeline

        try:
            return pipeline.validate_raw("x", data_interval_start.date(), dag_run_id=run_id)
        except QuarantineError as err:
            raise AirflowFailException(str(err)) from None

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
            execution_mode=ExecutionMode.LOCAL,
            invocation_mode=InvocationMode.DBT_RUNNER,
        ),
        render_config=RenderConfig(
            load_method=LoadMode.DBT_LS,
            test_behavior=TestBehavior.BUILD,
            emit_datasets=False,
        ),
        operator_args={
            "vars": {
                "start_date": "{{ data_interval_start.strftime('%Y-%m-%d') }}",
                "end_date": "{{ data_interval_end.strftime('%Y-%m-%d') }}",
            },
            "install_deps": False,
        },
        default_args={"retries": 2},
    )

    @task(outlets=[SENTIMENT, MARTS])
    def score_sentiment(data_interval_start=None) -> dict:
        """Score the day's audience comments with the shipped PyTorch model."""
        from missionpulse import pipeline

        return pipeline.score_comments(data_interval_start.date())

    prepared = prepare()
    extracted = extract_x()
    validated = validate_x()
    prepared >> extracted >> validated >> transform >> score_sentiment()


missionpulse_daily()
