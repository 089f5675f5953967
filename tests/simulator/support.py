"""Constants and helpers shared by the simulator tests."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

# A Wednesday: the tests' usual day, seen at the daily run's time (next day, 02:00 UTC).
DAY = date(2025, 10, 8)
DAY_START = datetime(2025, 10, 8, tzinfo=UTC)
RUN_TIME = datetime(2025, 10, 9, 2, 0, tzinfo=UTC)


def rfc3339(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def day_bounds(day: date = DAY) -> tuple[str, str]:
    """``start_time`` and ``end_time`` of a UTC day."""
    start = datetime(day.year, day.month, day.day, tzinfo=UTC)
    return rfc3339(start), rfc3339(start + timedelta(days=1))
