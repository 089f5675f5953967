"""The data interval a run extracts: ``[start, end)`` in UTC."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta


@dataclass(frozen=True)
class Window:
    start: datetime
    end: datetime

    def __post_init__(self) -> None:
        if self.start.tzinfo is None or self.end.tzinfo is None:
            raise ValueError("window bounds must be timezone-aware (UTC)")
        if self.end <= self.start:
            raise ValueError(f"empty window: {self.start.isoformat()} .. {self.end.isoformat()}")

    @classmethod
    def for_day(cls, day: date) -> Window:
        start = datetime.combine(day, time(0), tzinfo=UTC)
        return cls(start, start + timedelta(days=1))

    @property
    def day(self) -> date:
        return self.start.astimezone(UTC).date()

    def contains(self, moment: datetime) -> bool:
        return self.start <= moment < self.end

    def label(self) -> str:
        return (
            self.day.isoformat()
            if self.end - self.start == timedelta(days=1)
            else (f"{self.start.isoformat()}..{self.end.isoformat()}")
        )


def rfc3339(moment: datetime) -> str:
    """Second-precision UTC timestamp in the ``YYYY-MM-DDTHH:MM:SSZ`` form the APIs accept."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_rfc3339(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(UTC)
