"""What score_sentiment and publish share: the day's context, and the rule that a failed
step releases the marts publication lock (withholds) rather than leaving it held.

transform_warehouse took the lock for the day (its run id is the holder) and built the
shadow; the DAGs after it carry on under the same holder, read back from the warehouse
(audit.marts_publish_lock), so they need nothing from another DAG's XCom.
"""

from __future__ import annotations

from typing import Any

from airflow.sdk import get_current_context, task

from common.days import day_of, day_window
from common.platforms import requested_platforms
from common.runs import failed_tasks


@task
def day_context(triggering_asset_events=None, params=None) -> dict:
    """The day, its platforms (those transform_warehouse built: the triggering events say,
    else audit.raw_days), and the lock holder and shadow schema of the day's build."""
    from airflow.sdk.exceptions import AirflowFailException

    from missionpulse import marts_publish, pipeline

    day = day_of(get_current_context())
    try:
        staged = pipeline.staged_for(day)
    except marts_publish.PublishError as err:
        raise AirflowFailException(str(err)) from None
    platforms = None
    for events in (triggering_asset_events or {}).values():
        for event in events:
            if (event.extra or {}).get("platforms"):
                platforms = str(event.extra["platforms"])
    if platforms is None:
        platforms = ",".join(pipeline.publishable_platforms(day, requested_platforms(params)))
    return {**day_window(day), "platforms": platforms, **staged}


def withhold_or_hand_on(ti: Any, what: str) -> dict[str, Any]:
    """The day's context when every task of this run succeeded; otherwise release the
    publication lock (marts keeps its published state, the shadow stays for inspection)
    and fail the run, naming what failed."""
    from airflow.sdk.exceptions import AirflowFailException

    from missionpulse import pipeline

    ctx = ti.xcom_pull(task_ids="day_context")
    failed = failed_tasks(ti)
    if ctx is not None and not failed:
        return dict(ctx)
    day = day_of(get_current_context())
    reason = f"{ti.dag_id} failed: {', '.join(failed) or 'day_context'}"
    if ctx is not None:
        pipeline.withhold_marts(day, ctx["holder"], reason)
    raise AirflowFailException(
        f"{what} for {day} not published: {reason}; marts keeps its previous published state, "
        f"the day's build stays in schema {ctx['schema'] if ctx else '(none)'}"
    )
