"""publish: the day's marts validated, swapped in, reported, and checked for freshness.

Scheduled on SENTIMENT (score_sentiment finished the day's build in the shadow schema),
partitioned by day. day_context -> validate_marts (the mart suites on the shadow; a
blocking failure withholds the publication) -> transform_audit (the auditors' marts, which
read the suites' records) -> publish_marts (the shadow swapped in as marts, one
transaction; withheld on any failure) -> publish_scorecard (Sundays: the week's HTML
scorecard under .missionpulse/reports/) -> check_freshness (fails the run when a platform's
data for the day is not in the publication, or when any task failed).
"""

from __future__ import annotations

from airflow.sdk import PartitionedAssetTimetable, dag, get_current_context, task

from common.assets import MARTS, SENTIMENT
from common.days import day_of, emit_day
from common.dbt import AUDIT_MARTS, dbt_group
from common.defaults import DOWNSTREAM_DAG_ARGS
from common.marts_chain import day_context, withhold_or_hand_on
from common.platforms import requested_platforms
from common.runs import failed_tasks
from missionpulse.orchestration import PUBLISH_DAG_ID


@task
def validate_marts(ti=None) -> dict:
    """Great Expectations on the day's mart rows in the shadow schema; a blocking failure
    fails loudly (recorded in audit.dq_runs) and withholds the publication."""
    from datetime import date

    from airflow.sdk.exceptions import AirflowFailException

    from missionpulse import pipeline

    ctx = ti.xcom_pull(task_ids="day_context")
    try:
        results = pipeline.validate_marts(
            date.fromisoformat(ctx["day"]), ctx["holder"], ctx["schema"]
        )
    except pipeline.MartsWithheldError as err:
        raise AirflowFailException(str(err)) from None
    return {"suites": results}


@task(trigger_rule="all_done", outlets=[MARTS])
def publish_marts(ti=None) -> dict:
    """Swap the validated shadow in as marts (one transaction) and release the lock; when
    anything before failed, release the lock instead (marts keeps its published state)."""
    from datetime import date

    from missionpulse import pipeline

    context = get_current_context()
    ctx = withhold_or_hand_on(ti, "marts")
    validated = ti.xcom_pull(task_ids="validate_marts")
    published = pipeline.publish_marts(
        date.fromisoformat(ctx["day"]), ctx["holder"], validated["suites"]
    )
    emit_day(context["outlet_events"], MARTS, day_of(context), platforms=ctx["platforms"])
    return published


@task
def publish_scorecard(ti=None) -> str | None:
    """On a Sunday's run, write the week's scorecard (HTML) for leadership."""
    from datetime import date

    from missionpulse import scorecard, warehouse

    day = date.fromisoformat(ti.xcom_pull(task_ids="day_context")["day"])
    path = scorecard.publish_weekly(warehouse.ensure_running(), day)
    return str(path) if path else None


@task(trigger_rule="all_done")
def check_freshness(ti=None, params=None) -> None:
    """Fail the run (so the team is alerted) when a platform's data for the day is not in
    the publication (its extraction or validation failed), or when any task failed: the
    run's state follows its leaves, and this is the only one."""
    from airflow.sdk.exceptions import AirflowFailException

    problems = []
    ctx = ti.xcom_pull(task_ids="day_context") or {}
    published = str(ctx.get("platforms") or "").split(",")
    missing = [p for p in requested_platforms(params) if p not in published]
    if missing:
        problems.append(
            f"not published for {ctx.get('day', 'the day')}: {', '.join(missing)} (extraction "
            "or validation failed; see the extract_<platform> DAGs). The other platforms "
            "were published."
        )
    failed = failed_tasks(ti)
    if failed:
        problems.append(f"failed tasks: {', '.join(failed)} (see their logs)")
    if problems:
        raise AirflowFailException("; ".join(problems))


@dag(
    dag_id=PUBLISH_DAG_ID,
    schedule=PartitionedAssetTimetable(assets=SENTIMENT),
    **DOWNSTREAM_DAG_ARGS,
    tags=["missionpulse", "publish", "dbt"],
    doc_md=__doc__,
)
def publish() -> None:
    transform_audit = dbt_group("transform_audit", "day_context", select=AUDIT_MARTS)
    (
        day_context()
        >> validate_marts()
        >> transform_audit
        >> publish_marts()
        >> publish_scorecard()
        >> check_freshness()
    )


publish()
