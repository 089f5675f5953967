"""Assets the DAGs produce and consume, declared once."""

from __future__ import annotations

from airflow.sdk import Asset

PLATFORMS = ("x", "facebook", "instagram", "youtube")

RAW = {p: Asset(f"missionpulse://warehouse/raw/{p}", group="raw") for p in PLATFORMS}
MARTS = Asset("missionpulse://warehouse/marts", group="marts")
SENTIMENT = Asset("missionpulse://warehouse/ml/comment_sentiment", group="ml")
