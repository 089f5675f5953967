"""The dbt project as Cosmos task groups, shared by the DAGs that build the marts.

Every group builds into the day's shadow schema (``macros/generate_schema_name.sql``),
never into ``marts`` itself: ``publish`` swaps the shadow in once its suites pass. Each
DAG has one task that returns the day's context (``day``, ``end``, ``platforms``,
``schema``); the groups read their dbt vars from its XCom.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from cosmos import DbtTaskGroup, ExecutionConfig, ProfileConfig, ProjectConfig, RenderConfig
from cosmos.constants import ExecutionMode, InvocationMode, LoadMode, TestBehavior
from cosmos.profiles import PostgresUserPasswordProfileMapping

PROJECT_ROOT = Path(os.environ.get("MISSIONPULSE_HOME", Path(__file__).resolve().parents[2]))
DBT_PROJECT = PROJECT_ROOT / "dbt_project"
WAREHOUSE_CONN_ID = "missionpulse_warehouse"

# The marts that read ml.comment_sentiment, and everything downstream of them: built by
# score_sentiment once it has scored the day's comments, not with the rest before it.
AFTER_SCORING = ["fct_mission_daily_sentiment+"]
# The auditors' marts read audit.* (data-quality runs, dbt test results): built by publish
# after validate_marts has recorded the mart suites, so the day's figures are complete on
# the first run and a rerun of the day gives the same rows (they have no suite of their own).
AUDIT_MARTS = ["path:models/marts/data_quality"]


def operator_args(context_task: str) -> dict[str, Any]:
    """dbt's vars from the XCom of ``context_task``; each invocation's run_results.json
    (passes included) goes to audit.dbt_runs / dbt_model_results / dbt_test_results through
    the callback, which Cosmos calls before it raises on a failed test."""
    pull = f"ti.xcom_pull(task_ids='{context_task}')"
    return {
        "vars": {
            "start_date": "{{ " + pull + "['day'] }}",
            "end_date": "{{ " + pull + "['end'] }}",
            "extracted_platforms": "{{ " + pull + "['platforms'] }}",
            "marts_schema": "{{ " + pull + "['schema'] }}",
        },
        "install_deps": False,
        "callback": "missionpulse.audit.dbt_results.record_invocation",
    }


def dbt_group(
    group_id: str,
    context_task: str,
    select: list[str] | None = None,
    exclude: list[str] | None = None,
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
        operator_args=operator_args(context_task),
        default_args={"retries": 2},
    )
