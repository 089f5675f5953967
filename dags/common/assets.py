"""Assets the DAGs produce and consume, declared once.

Every event carries the UTC day it is about as its partition key (``YYYY-MM-DD``): the
downstream DAGs are scheduled with ``PartitionedAssetTimetable`` and get one run per day,
once every asset they wait on has an event for that day, even when backfilled days arrive
interleaved.
"""

from __future__ import annotations

from airflow.sdk import Asset

PLATFORMS = ("x", "facebook", "instagram", "youtube")

# extract_<platform>: the platform's raw data for a day (extra: status passed / failed)
RAW = {p: Asset(f"missionpulse://warehouse/raw/{p}", group="raw") for p in PLATFORMS}
# transform_warehouse: the day's marts built in the shadow schema, not yet published
STAGED = Asset("missionpulse://warehouse/marts_shadow", group="marts")
# score_sentiment: the day's comments scored and the sentiment marts built in the shadow
SENTIMENT = Asset("missionpulse://warehouse/ml/comment_sentiment", group="ml")
# publish: the day's marts validated and swapped in
MARTS = Asset("missionpulse://warehouse/marts", group="marts")
