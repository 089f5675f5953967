"""transform_warehouse: the day's marts built in the shadow schema, from the raw data of
the platforms that passed.

Scheduled on the RAW assets of every enabled platform, partitioned by day: one run per
day, once every extract_<platform> DAG has announced the day (passed or failed).

select_publishable (the platforms whose day passed, from audit.raw_days: the warehouse's
record, not XCom, so a rerun of one extract DAG is seen) -> stage_marts (publication lock;
marts copied into the day's shadow schema) -> transform (dbt through Cosmos into the
shadow, all but the sentiment and audit marts) -> hand_off (emits STAGED for the day; on
any failure releases the lock instead, marts keeping its published state, and fails).

score_sentiment and publish go on from STAGED under the same lock holder (this run).
"""

from __future__ import annotations

import logging

from airflow.sdk import PartitionedAssetTimetable, dag, get_current_context, task
from airflow.sdk.definitions.asset import AssetAll

from common.assets import RAW, STAGED
from common.days import day_of, day_window, emit_day
from common.dbt import AFTER_SCORING, AUDIT_MARTS, dbt_group
from common.defaults import DOWNSTREAM_DAG_ARGS
from common.platforms import enabled_platforms, requested_platforms
from common.runs import failed_tasks, run_is_gone
from missionpulse.orchestration import TRANSFORM_DAG_ID

PLATFORMS = enabled_platforms()
log = logging.getLogger(__name__)


@task
def select_publishable(params=None) -> dict:
    """The day, and the platforms whose data for it passed extraction and validation."""
    from airflow.sdk.exceptions import AirflowSkipException

    from missionpulse import pipeline

    day = day_of(get_current_context())
    passed = pipeline.publishable_platforms(day, requested_platforms(params))
    if not passed:
        raise AirflowSkipException(f"no platform passed extraction and validation on {day}")
    return {**day_window(day), "platforms": ",".join(passed)}


@task(max_active_tis_per_dag=1)
def stage_marts(selected: dict, run_id=None, ti=None) -> dict:
    """Take the marts publication lock (one day at a time, until publish swaps or a failure
    withholds) and copy the published marts into the day's shadow schema."""
    from datetime import date

    from missionpulse import pipeline

    def holder_alive(holder_run_id: str) -> bool | None:
        try:
            state = ti.get_dagrun_state(dag_id=TRANSFORM_DAG_ID, run_id=holder_run_id)
        except Exception as err:
            # gone from this Airflow (a rerun through `missionpulse run` replaces the day's
            # killed run): it cannot publish any more. Otherwise the heartbeat decides.
            if run_is_gone(err):
                return False
            log.warning(
                "could not tell whether run %s is alive (%r): its heartbeat decides",
                holder_run_id,
                err,
            )
            return None
        state = str(getattr(state, "value", state))
        if state in ("queued", "running"):
            return True
        # a holder that succeeded handed the day on to score_sentiment and publish, which
        # release the lock themselves: the heartbeat decides. A failed one withheld already.
        return None if state == "success" else False

    staged = pipeline.stage_marts(date.fromisoformat(selected["day"]), run_id, holder_alive)
    return {**selected, **staged}


@task(trigger_rule="all_done", outlets=[STAGED])
def hand_off(run_id=None, ti=None) -> dict:
    """When the build succeeded, emit STAGED for the day (score_sentiment's run for the day
    starts); otherwise release the publication lock (marts keeps its published state, the
    shadow stays for inspection) and fail the run."""
    from airflow.sdk.exceptions import AirflowFailException

    from missionpulse import pipeline

    context = get_current_context()
    day = day_of(context)
    staged = ti.xcom_pull(task_ids="stage_marts")
    failed = failed_tasks(ti)
    if staged is not None and not failed:
        emit_day(context["outlet_events"], STAGED, day, platforms=staged["platforms"])
        return staged
    if staged is None and not failed:
        raise AirflowFailException(
            f"nothing to publish for {day}: no platform passed extraction and validation "
            "(see the extract_<platform> DAGs' runs of the day)"
        )
    reason = f"failed: {', '.join(failed)}"
    pipeline.withhold_marts(day, run_id, reason)
    raise AirflowFailException(
        f"marts for {day} not published: {reason}; marts keeps its previous published state, "
        f"the day's build stays in schema {staged['schema'] if staged else '(none)'}"
    )


@dag(
    dag_id=TRANSFORM_DAG_ID,
    schedule=PartitionedAssetTimetable(assets=AssetAll(*(RAW[p] for p in PLATFORMS))),
    **DOWNSTREAM_DAG_ARGS,
    tags=["missionpulse", "transform", "dbt"],
    doc_md=__doc__,
)
def transform_warehouse() -> None:
    staged = stage_marts(select_publishable())
    transform = dbt_group("transform", "stage_marts", exclude=AFTER_SCORING + AUDIT_MARTS)
    staged >> transform >> hand_off()


transform_warehouse()
