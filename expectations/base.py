"""What a suite is: the rows of one batch and the expectations they must meet."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from great_expectations.expectations import Expectation

Severity = Literal["blocking", "warning"]


@dataclass(frozen=True)
class BatchContext:
    """What expectations may depend on: the interval and the registry's handles."""

    platform: str
    entity: str
    interval_start: datetime
    interval_end: datetime
    known_handles: frozenset[str]


@dataclass(frozen=True)
class SuiteSpec:
    name: str
    platform: str
    entity: str
    # SQL returning the batch's rows; bound parameters: interval_start.
    query: str
    build: Callable[[BatchContext], list[Expectation]]
    # Columns to coerce to numbers (None where the payload held something else).
    numeric_columns: tuple[str, ...] = ()
    timestamp_columns: tuple[str, ...] = ()


def meta(name: str, severity: Severity, why: str) -> dict[str, Any]:
    """The ``meta`` every expectation carries: a stable name, a severity, and why it exists."""
    return {"name": name, "severity": severity, "notes": why}
