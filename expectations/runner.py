"""Run a suite on one batch of the warehouse and record every result in ``audit``.

The batch is read with SQL into a DataFrame and validated by Great Expectations 1.x. One
``audit.dq_runs`` row per validation and one ``audit.dq_results`` row per expectation are
written in the same transaction, passes included, so auditors see what was checked, not
only what failed.
"""

from __future__ import annotations

import json
import logging
import math
import os
import uuid
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from functools import cache
from typing import Any

import pandas as pd

from expectations.base import BatchContext, SuiteSpec

log = logging.getLogger(__name__)

EXAMPLES = 5


@dataclass(frozen=True)
class ExpectationOutcome:
    name: str
    expectation_type: str
    column: str | None
    severity: str
    success: bool
    observed_value: Any
    unexpected_count: int | None
    unexpected_examples: list[Any]


@dataclass
class DqOutcome:
    dq_run_id: str
    suite: str
    platform: str | None
    entity: str
    batch_date: str
    rows: int
    results: list[ExpectationOutcome] = field(default_factory=list)
    validated_schema: str | None = None  # the schema read (a mart suite: the run's shadow)

    @property
    def blocking_failures(self) -> list[ExpectationOutcome]:
        return [r for r in self.results if not r.success and r.severity == "blocking"]

    @property
    def warnings(self) -> list[ExpectationOutcome]:
        return [r for r in self.results if not r.success and r.severity == "warning"]

    @property
    def success(self) -> bool:
        return not self.blocking_failures

    def describe(self) -> str:
        head = (
            f"{self.suite} on {self.platform or self.validated_schema or 'marts'}/{self.entity} "
            f"{self.batch_date}: "
            f"{len(self.results)} expectations, {self.rows} rows, "
            f"{len(self.blocking_failures)} blocking and {len(self.warnings)} warning failures"
        )
        lines = [head]
        for r in self.blocking_failures + self.warnings:
            lines.append(
                f"  [{r.severity}] {r.name} ({r.expectation_type}"
                f"{', column ' + r.column if r.column else ''}): "
                f"{r.unexpected_count} unexpected, e.g. {r.unexpected_examples[:EXAMPLES]}"
            )
        return "\n".join(lines)


class QuarantineError(RuntimeError):
    """A blocking expectation failed: the batch stays in ``raw`` and is not published."""

    def __init__(self, outcomes: list[DqOutcome]) -> None:
        self.outcomes = outcomes
        failed = [o for o in outcomes if not o.success]
        text = "\n".join(o.describe() for o in failed)
        super().__init__(
            "Data quality failed; the day is quarantined and not published "
            "(the rows stay in raw for inspection; fix the source or the registry and rerun "
            "the day):\n" + text
        )


@cache
def _context() -> Any:
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    return context


def _frame(conn: Any, suite: SuiteSpec, ctx: BatchContext) -> pd.DataFrame:
    with conn.cursor() as cur:
        cur.execute(
            suite.query, {"interval_start": ctx.interval_start, "interval_end": ctx.interval_end}
        )
        columns = [d.name for d in cur.description]
        frame = pd.DataFrame(cur.fetchall(), columns=columns)
    if suite.enrich is not None:
        frame = suite.enrich(conn, frame, ctx)
    return coerce(suite, frame)


def coerce(suite: SuiteSpec, frame: pd.DataFrame) -> pd.DataFrame:
    """Numbers and timestamps as the suite declares them (None where the payload held
    something else, which the ``*_is_number`` / ``*_parses`` expectations report)."""
    for column in suite.numeric_columns:
        frame[column] = pd.to_numeric(frame[column], errors="coerce")
    for column in suite.timestamp_columns:
        frame[column] = pd.to_datetime(frame[column], utc=True, errors="coerce")
    return frame


TRAILING_DAYS = 7


def trailing_rows(conn: Any, suite: SuiteSpec, day: date) -> tuple[int, ...]:
    """Rows of the suite's last passing batch on each of the trailing days (audit history)."""
    rows = conn.execute(
        """
        select distinct on (batch_date) rows_checked
        from audit.dq_runs
        where suite_name = %s and success
          and batch_date >= %s::date - %s and batch_date < %s::date
        order by batch_date, finished_at desc
        """,
        (suite.name, day, TRAILING_DAYS, day),
    ).fetchall()
    return tuple(int(r) for (r,) in rows)


def run_suite(
    suite: SuiteSpec, ctx: BatchContext, frame: pd.DataFrame, run_name: str = "adhoc"
) -> list[ExpectationOutcome]:
    """Validate a prepared frame with Great Expectations (no database): the outcomes."""
    import great_expectations as gx

    context = _context()
    name = f"batch-{suite.name}-{uuid.uuid4().hex[:10]}"
    source = context.data_sources.add_or_update_pandas(name)
    batch_definition = source.add_dataframe_asset(suite.name).add_batch_definition_whole_dataframe(
        "batch"
    )
    gx_suite = gx.ExpectationSuite(name=suite.name, expectations=suite.build(ctx))
    batch = batch_definition.get_batch(batch_parameters={"dataframe": frame})
    try:
        result = batch.validate(
            gx_suite,
            result_format={"result_format": "SUMMARY", "partial_unexpected_count": EXAMPLES},
        )
    finally:
        context.data_sources.delete(name)
    RESULTS.append((suite.name, run_name, ctx.interval_start.date().isoformat(), result))
    return _outcomes(result)


# (suite, run name, batch date, GX result) of this process's validations, for Data Docs
# (expectations.docs): dag.test runs a whole day in one process
RESULTS: list[tuple[str, str, str, Any]] = []


def _jsonable(value: Any) -> Any:
    """Plain JSON (NaN and infinities become null: PostgreSQL's jsonb refuses them)."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if value is pd.NaT:
        return None
    return str(value)  # timestamps, decimals, numpy scalars


def _outcomes(result: Any) -> list[ExpectationOutcome]:
    outcomes = []
    for item in result.results:
        config = item.expectation_config
        info = item.result or {}
        kwargs = config.kwargs or {}
        outcomes.append(
            ExpectationOutcome(
                name=str((config.meta or {}).get("name") or config.type),
                expectation_type=config.type,
                column=kwargs.get("column"),
                severity=str((config.meta or {}).get("severity", "blocking")),
                success=bool(item.success),
                observed_value=_jsonable(info.get("observed_value")),
                unexpected_count=info.get("unexpected_count"),
                unexpected_examples=_jsonable(info.get("partial_unexpected_list") or []),
            )
        )
    return outcomes


def validate_batch(
    conn: Any,
    suite: SuiteSpec,
    ctx: BatchContext,
    *,
    dag_run_id: str | None = None,
    validated_schema: str | None = None,
) -> DqOutcome:
    """Validate one (suite, interval) batch and record it; returns the outcome.

    ``validated_schema`` (recorded in ``audit.dq_runs.validated_schema``, a column that
    ``missionpulse.marts_publish.ensure_tables`` adds) names the schema the suite read."""
    started = datetime.now(UTC)
    ctx = replace(
        ctx,
        checked_at=ctx.checked_at or started,
        trailing_rows=ctx.trailing_rows or trailing_rows(conn, suite, ctx.interval_start.date()),
    )
    frame = _frame(conn, suite, ctx)
    run_id = f"dq-{suite.name}-{ctx.interval_start:%Y%m%d}-{uuid.uuid4().hex[:10]}"
    results = run_suite(suite, ctx, frame, run_id)
    outcome = DqOutcome(
        dq_run_id=run_id,
        suite=suite.name,
        platform=suite.platform,
        entity=suite.entity,
        batch_date=ctx.interval_start.date().isoformat(),
        rows=len(frame),
        results=results,
        validated_schema=validated_schema,
    )
    load_ids = sorted(set(frame["_load_id"])) if "_load_id" in frame else []
    _record(conn, outcome, dag_run_id, load_ids, started, validated_schema)
    (log.info if outcome.success else log.error)(outcome.describe())
    return outcome


def _record(
    conn: Any,
    outcome: DqOutcome,
    dag_run_id: str | None,
    load_ids: list[str],
    started: datetime,
    validated_schema: str | None = None,
) -> None:
    with conn.transaction():
        conn.execute(
            """
            insert into audit.dq_runs
              (dq_run_id, dag_run_id, suite_name, platform, entity, batch_date, load_ids,
               success, blocking_failures, warning_failures, expectations, rows_checked,
               started_at, finished_at, summary)
            values (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, now(), %s)
            """,
            (
                outcome.dq_run_id,
                dag_run_id,
                outcome.suite,
                outcome.platform,
                outcome.entity,
                outcome.batch_date,
                load_ids,
                outcome.success,
                len(outcome.blocking_failures),
                len(outcome.warnings),
                len(outcome.results),
                outcome.rows,
                started,
                outcome.describe(),
            ),
        )
        if validated_schema is not None:
            conn.execute(
                "update audit.dq_runs set validated_schema = %s where dq_run_id = %s",
                (validated_schema, outcome.dq_run_id),
            )
        with conn.cursor() as cur:
            cur.executemany(
                """
                insert into audit.dq_results
                  (dq_run_id, expectation_type, expectation_name, column_name, severity,
                   success, observed_value, unexpected_count, unexpected_examples)
                values (%s, %s, %s, %s, %s, %s, %s, %s, %s)
                """,
                [
                    (
                        outcome.dq_run_id,
                        r.expectation_type,
                        r.name,
                        r.column,
                        r.severity,
                        r.success,
                        json.dumps(r.observed_value),
                        r.unexpected_count,
                        json.dumps(r.unexpected_examples),
                    )
                    for r in outcome.results
                ],
            )
