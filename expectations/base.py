"""What a suite is: the rows of one batch and the expectations they must meet."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

import pandas as pd
from great_expectations.expectations import Expectation

Severity = Literal["blocking", "warning"]


@dataclass(frozen=True)
class BatchContext:
    """What expectations may depend on: the interval, the registry's handles, when the check
    runs (nothing may be stamped after it) and the row counts of the trailing days."""

    platform: str | None
    entity: str
    interval_start: datetime
    interval_end: datetime
    known_handles: frozenset[str]
    checked_at: datetime | None = None
    trailing_rows: tuple[int, ...] = ()


@dataclass(frozen=True)
class SuiteSpec:
    name: str
    platform: str | None  # None for a mart (all platforms)
    entity: str
    # SQL returning the batch's rows; bound parameters: interval_start, interval_end.
    query: str
    build: Callable[[BatchContext], list[Expectation]]
    # Columns to coerce to numbers (None where the payload held something else).
    numeric_columns: tuple[str, ...] = ()
    timestamp_columns: tuple[str, ...] = ()
    # Adds derived columns that need more than the batch query (e.g. a published baseline).
    enrich: Callable[[Any, pd.DataFrame, BatchContext], pd.DataFrame] | None = None

    @property
    def layer(self) -> str:
        return self.name.split("__", 1)[0]


def meta(name: str, severity: Severity, why: str) -> dict[str, Any]:
    """The ``meta`` every expectation carries: a stable name, a severity, and why it exists."""
    return {"name": name, "severity": severity, "notes": why}
