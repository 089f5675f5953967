"""Expectations every platform's raw posts share, for a batch query with these columns:
``post_id``, ``handle``, ``created_at``, ``text`` and one column per metric."""

from __future__ import annotations

from collections.abc import Sequence

import great_expectations.expectations as gxe
from great_expectations.expectations import Expectation

from expectations.base import BatchContext, meta


def post_expectations(ctx: BatchContext, metrics: Sequence[str]) -> list[Expectation]:
    """Keys present and unique, created in the interval, known handles, whole metrics."""
    expectations: list[Expectation] = [
        gxe.ExpectColumnValuesToNotBeNull(
            column="post_id",
            meta=meta("post_id_not_null", "blocking", "every post must be identifiable"),
        ),
        gxe.ExpectColumnValuesToBeUnique(
            column="post_id",
            meta=meta("post_id_unique", "blocking", "a post counted twice inflates engagement"),
        ),
        gxe.ExpectColumnValuesToNotBeNull(
            column="created_at",
            meta=meta("created_at_parses", "blocking", "posts are counted by creation day"),
        ),
        gxe.ExpectColumnValuesToBeBetween(
            column="created_at",
            min_value=ctx.interval_start,
            max_value=ctx.interval_end,
            strict_max=True,
            meta=meta(
                "created_at_in_interval", "blocking", "a post outside the day belongs elsewhere"
            ),
        ),
        gxe.ExpectColumnValuesToBeInSet(
            column="handle",
            value_set=sorted(ctx.known_handles),
            meta=meta("handle_in_registry", "blocking", "only the registry's handles are ours"),
        ),
        gxe.ExpectColumnValuesToNotBeNull(
            column="text",
            mostly=0.95,
            meta=meta("text_present", "warning", "posts without text cannot be reviewed"),
        ),
    ]
    for metric in metrics:
        expectations += [
            gxe.ExpectColumnValuesToNotBeNull(
                column=metric,
                meta=meta(f"{metric}_is_number", "blocking", "metrics must be whole numbers"),
            ),
            gxe.ExpectColumnValuesToBeBetween(
                column=metric,
                min_value=0,
                meta=meta(f"{metric}_non_negative", "blocking", "counts cannot be negative"),
            ),
        ]
    return expectations
