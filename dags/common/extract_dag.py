"""The ``extract_<platform>`` DAG, one per platform file (``dags/extract_x.py`` ...).

prepare -> plan (the day's handles in batches of ``MISSIONPULSE_EXTRACT_BATCH_SIZE``)
        -> extract_batch (mapped over the batches, in the platform's pool: lands files and a
        receipt per batch, writes nothing to the warehouse)
        -> load (the day's raw partitions replaced in one transaction from every batch's
        files; audit.extract_runs) -> validate (the raw suites, Great Expectations)
        -> announce (always: records passed / failed in audit.raw_days and emits the
        platform's RAW asset event for the day, which transform_warehouse waits on)
        -> check (fails the run when anything failed, so the team is alerted)

A daily data-interval timetable (``MISSIONPULSE_EXTRACT_AT``, default 00:00 UTC, or
``manual`` for none): each run is one UTC day, its data interval's start date, unless its
conf names the day (``{"day": "YYYY-MM-DD"}``: ``missionpulse run``, the distributed
check), which then wins whatever the schedule (common.days.day_of). A
platform whose extraction (expired token) or validation fails is announced as failed:
transform_warehouse leaves it out of the day's publication and publishes the others.
Reruns and backfills replace the day's partitions, never add to them.
"""

from __future__ import annotations

import sys
from typing import Any

import pendulum
from airflow.sdk import DAG, dag, get_current_context, task
from airflow.timetables.interval import CronDataIntervalTimetable

from common.alerts import freshness_deadline
from common.assets import RAW
from common.days import day_of, emit_day
from common.defaults import DEFAULT_ARGS
from common.platforms import enabled_platforms
from missionpulse.orchestration import dag_start_date, extract_cron, extract_dag_id, pool_name


@task
def prepare() -> None:
    """Warehouse up, owned schemas present, registry loaded into raw."""
    from missionpulse import pipeline

    pipeline.prepare()


@task
def plan(platform: str) -> list[dict[str, Any]]:
    """The day's active handles of the platform, in batches (one mapped task each)."""
    from missionpulse import pipeline

    return pipeline.plan_extract(platform, day_of(get_current_context()))


@task(retries=3)
def extract_batch(batch: dict[str, Any], params=None) -> dict[str, Any]:
    """Extract one batch of handles into the landing zone (files and a receipt only)."""
    from airflow.sdk.exceptions import AirflowFailException

    from extractors.common.errors import AuthError, PermissionDeniedError
    from missionpulse import pipeline

    try:
        receipt = pipeline.extract_batch(batch, (params or {}).get("faults", "none"))
    except (AuthError, PermissionDeniedError) as err:
        raise AirflowFailException(str(err)) from None  # retrying cannot help
    # the receipt is on disk for load; XCom keeps only what the UI is helped by
    return {
        "batch": receipt["number"],
        "handles": len(receipt["handles"]),
        "failed": len(receipt["failures"]),
        "requests": receipt["requests"],
    }


@task(trigger_rule="all_done")
def load(platform: str, batches: list[dict[str, Any]]) -> dict:
    """Replace the day's raw partitions from every batch's landing files (one transaction),
    or, when a batch failed, load nothing and record every handle as failed."""
    from dataclasses import asdict

    from airflow.sdk.exceptions import AirflowFailException

    from missionpulse import pipeline

    try:
        summary = pipeline.load_extract(platform, day_of(get_current_context()), batches)
    except pipeline.ExtractIncompleteError as err:
        raise AirflowFailException(str(err)) from None
    return asdict(summary)


@task
def validate(platform: str, run_id=None) -> dict:
    """Great Expectations on the day's raw batch; a blocking failure quarantines it."""
    from airflow.sdk.exceptions import AirflowFailException

    from expectations.runner import QuarantineError
    from missionpulse import pipeline

    day = day_of(get_current_context())
    try:
        results = pipeline.validate_raw(platform, day, dag_run_id=run_id)
    except QuarantineError as err:
        raise AirflowFailException(str(err)) from None
    return {"platform": platform, "suites": results}


def _failed_tasks(ti: Any) -> list[str]:
    """The tasks of this run that failed, other than ``ti`` itself."""
    from common.runs import failed_tasks

    return failed_tasks(ti)


@task(trigger_rule="all_done")
def announce(platform: str, run_id=None, ti=None) -> dict:
    """Record whether the day passed (audit.raw_days) and emit the platform's RAW event for
    the day, passed or failed: transform_warehouse waits for every platform's event."""
    from missionpulse import pipeline

    day = day_of(get_current_context())
    passed = ti.xcom_pull(task_ids="validate") is not None
    failed = _failed_tasks(ti)
    reason = None if passed else f"failed: {', '.join(failed) or 'validate did not run'}"
    status = "passed" if passed else "failed"
    pipeline.record_raw_day(platform, day, status, reason, run_id)
    emit_day(get_current_context()["outlet_events"], RAW[platform], day, status=status)
    return {"platform": platform, "day": day.isoformat(), "status": status, "reason": reason}


@task(trigger_rule="all_done")
def check(platform: str, ti=None) -> None:
    """Fail the run when any task failed: the run's state follows its leaves, and this is
    the only leaf, so without it a failed extraction would end "success" (announce ran)."""
    from airflow.sdk.exceptions import AirflowFailException

    failed = _failed_tasks(ti)
    if failed:
        raise AirflowFailException(
            f"{platform}: failed tasks {', '.join(failed)} (see their logs); the platform is "
            "left out of the day's publication, the others go on"
        )


def extract_dag(platform: str) -> DAG | None:
    """The platform's extract DAG (None when the platform is not enabled: no DAG at all).

    Call it from ``dags/extract_<platform>.py``: the DAG's file is the caller's."""
    if platform not in enabled_platforms():
        return None
    cron = extract_cron()

    @dag(
        dag_id=extract_dag_id(platform),
        schedule=None if cron is None else CronDataIntervalTimetable(cron, timezone="UTC"),
        start_date=pendulum.instance(dag_start_date()),
        catchup=False,
        max_active_runs=4,
        default_args=DEFAULT_ARGS,
        deadline=freshness_deadline(),
        params={"faults": "none"},
        tags=["missionpulse", "extract", platform],
        doc_md=__doc__,
    )
    def extract_platform() -> None:
        batches = plan(platform)
        landed = extract_batch.override(pool=pool_name(platform)).expand(batch=batches)
        loaded = load(platform, batches)
        validated = validate(platform)
        announced = announce.override(outlets=[RAW[platform]])(platform)
        prepare() >> batches
        landed >> loaded >> validated >> announced >> check(platform)

    built = extract_platform()
    built.fileloc = sys._getframe(1).f_code.co_filename
    return built
