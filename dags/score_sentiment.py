"""score_sentiment: the day's audience comments scored, and the sentiment marts built.

Scheduled on STAGED (transform_warehouse built the day's marts in the shadow schema),
partitioned by day. day_context (the day, its platforms, and the lock holder and shadow
from audit.marts_publish_lock) -> score (the shipped PyTorch model; ml.comment_sentiment)
-> transform_sentiment (the sentiment marts, dbt through Cosmos into the shadow) ->
hand_off (emits SENTIMENT for the day; on any failure withholds the publication and fails).
"""

from __future__ import annotations

from airflow.sdk import PartitionedAssetTimetable, dag, get_current_context, task

from common.assets import SENTIMENT, STAGED
from common.days import day_of, emit_day
from common.dbt import AFTER_SCORING, dbt_group
from common.defaults import DOWNSTREAM_DAG_ARGS
from common.marts_chain import day_context, withhold_or_hand_on
from missionpulse.orchestration import SENTIMENT_DAG_ID


@task
def score(ti=None) -> dict:
    """Score the day's audience comments with the shipped PyTorch model."""
    from datetime import date

    from missionpulse import pipeline

    ctx = ti.xcom_pull(task_ids="day_context")
    return pipeline.score_comments(date.fromisoformat(ctx["day"]), ctx["platforms"].split(","))


@task(trigger_rule="all_done", outlets=[SENTIMENT])
def hand_off(ti=None) -> dict:
    """SENTIMENT for the day when everything passed; else withhold and fail."""
    context = get_current_context()
    ctx = withhold_or_hand_on(ti, "the sentiment marts")
    emit_day(context["outlet_events"], SENTIMENT, day_of(context), platforms=ctx["platforms"])
    return ctx


@dag(
    dag_id=SENTIMENT_DAG_ID,
    schedule=PartitionedAssetTimetable(assets=STAGED),
    **DOWNSTREAM_DAG_ARGS,
    tags=["missionpulse", "sentiment", "ml", "dbt"],
    doc_md=__doc__,
)
def score_sentiment() -> None:
    transform_sentiment = dbt_group("transform_sentiment", "day_context", select=AFTER_SCORING)
    day_context() >> score() >> transform_sentiment >> hand_off()


score_sentiment()
