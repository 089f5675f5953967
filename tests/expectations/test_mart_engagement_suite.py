"""The engagement mart's suite on in-memory rows (Great Expectations, no database): what
blocks a day's publication and what only warns."""

from __future__ import annotations

from datetime import UTC, datetime

import pandas as pd
import pytest

from expectations.base import BatchContext
from expectations.marts__fct_mission_daily_engagement import SUITE
from expectations.runner import run_suite

DAY = datetime(2025, 12, 18, tzinfo=UTC)
CTX = BatchContext(
    platform=None,
    entity="fct_mission_daily_engagement",
    interval_start=DAY,
    interval_end=datetime(2025, 12, 19, tzinfo=UTC),
    known_handles=frozenset({"pakembassydushanbe", "pakistaninuk"}),
)


def rows(rate_per_follower: float) -> pd.DataFrame:
    """A small YouTube channel whose video travelled (seen in the 365-day backfill: 355
    interactions, 344 subscribers, 2,041 views) beside an ordinary X account."""
    return pd.DataFrame(
        [
            {
                "mission_id": "pk-emb-dushanbe",
                "platform": "youtube",
                "activity_date": DAY.date(),
                "handle": "pakembassydushanbe",
                "is_registry_mission": True,
                "posts": 1,
                "likes": 81,
                "comments": 274,
                "shares": 0,
                "views": 2041,
                "interactions": 355,
                "followers_count": 344,
                "engagement_rate_per_follower": rate_per_follower,
                "engagement_rate_per_view": 0.174,
            },
            {
                "mission_id": "pk-hc-london",
                "platform": "x",
                "activity_date": DAY.date(),
                "handle": "pakistaninuk",
                "is_registry_mission": True,
                "posts": 3,
                "likes": 120,
                "comments": 14,
                "shares": 9,
                "views": None,
                "interactions": 143,
                "followers_count": 52000,
                "engagement_rate_per_follower": 0.00275,
                "engagement_rate_per_view": None,
            },
        ]
    )


def failures(rate_per_follower: float) -> dict[str, str]:
    return {
        o.name: o.severity for o in run_suite(SUITE, CTX, rows(rate_per_follower)) if not o.success
    }


def test_more_interactions_than_followers_warns_and_does_not_withhold_the_day() -> None:
    assert failures(355 / 344) == {"engagement_rate_per_follower_usually_at_most_1": "warning"}


@pytest.mark.parametrize("rate", [0.0, 0.5, 1.0])
def test_ordinary_rates_pass(rate: float) -> None:
    assert failures(rate) == {}


def test_a_negative_rate_blocks() -> None:
    assert failures(-0.2) == {"engagement_rate_per_follower_at_least_0": "blocking"}
