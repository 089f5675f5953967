"""Expectations for marts, for a query that returns the day's rows of one mart.

A mart suite is one module ``marts__<mart>.py`` defining ``SUITE`` (see
:func:`mart_suite`): the registry finds it, the DAG's ``validate_marts`` task runs it after
dbt. Its query names the mart as ``{marts}.<mart>``: the runner validates the run's shadow
schema (:func:`on_schema`), which is published as ``marts`` only when every mart suite
passes (``missionpulse.marts_publish``). Failures are blocking unless marked warning.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import replace

import great_expectations.expectations as gxe
from great_expectations.expectations import Expectation

from expectations import common
from expectations.base import BatchContext, SuiteSpec, meta


def keys(columns: Sequence[str]) -> list[Expectation]:
    """Each key column present, and the combination unique (blocking)."""
    expectations: list[Expectation] = [
        gxe.ExpectColumnValuesToNotBeNull(
            column=c, meta=meta(f"{c}_not_null", "blocking", "part of the mart's key")
        )
        for c in columns
    ]
    if len(columns) == 1:
        expectations.append(
            gxe.ExpectColumnValuesToBeUnique(
                column=columns[0],
                meta=meta(f"{columns[0]}_unique", "blocking", "one row per key"),
            )
        )
    else:
        expectations.append(
            gxe.ExpectCompoundColumnsToBeUnique(
                column_list=list(columns),
                meta=meta("key_unique", "blocking", f"one row per {', '.join(columns)}"),
            )
        )
    return expectations


def non_negative(columns: Sequence[str]) -> list[Expectation]:
    return [
        gxe.ExpectColumnValuesToBeBetween(
            column=c,
            min_value=0,
            meta=meta(f"{c}_non_negative", "blocking", "counts cannot be negative"),
        )
        for c in columns
    ]


def in_set(column: str, values: Sequence[object], severity: str = "blocking") -> Expectation:
    return gxe.ExpectColumnValuesToBeInSet(
        column=column,
        value_set=list(values),
        meta=meta(f"{column}_known", severity, f"{column} must be one of {list(values)[:6]}"),  # type: ignore[arg-type]
    )


def mart_suite(
    mart: str,
    query: str,
    build: Callable[[BatchContext], list[Expectation]],
    *,
    numeric_columns: tuple[str, ...] = (),
) -> SuiteSpec:
    """``marts__<mart>``; ``query`` reads ``{marts}.<mart>`` and may use
    %(interval_start)s / %(interval_end)s."""
    if MARTS_PLACEHOLDER not in query:
        raise ValueError(f"marts__{mart}: the query must read {MARTS_PLACEHOLDER}.{mart}")
    return SuiteSpec(
        name=f"marts__{mart}",
        platform=None,
        entity=mart,
        query=query,
        build=build,
        numeric_columns=numeric_columns,
    )


MARTS_PLACEHOLDER = "{marts}"
_SCHEMA = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


def on_schema(suite: SuiteSpec, schema: str) -> SuiteSpec:
    """The mart suite reading ``schema`` (a shadow being validated, or ``marts`` itself)."""
    if not _SCHEMA.match(schema):
        raise ValueError(f"not a plain schema name: {schema!r}")
    return replace(suite, query=suite.query.replace(MARTS_PLACEHOLDER, schema))


PLATFORMS = ("x", "facebook", "instagram", "youtube")
row_count_band = common.row_count_band
rate_between = common.rate_between
at_least = common.at_least
usually_at_most = common.usually_at_most
