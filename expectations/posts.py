"""Expectations every platform's raw posts share, for a batch query with these columns:
``post_id``, ``handle``, ``created_at``, ``text`` and one column per metric (plus
``is_complete`` / ``author_handle`` where the suite asks for those checks)."""

from __future__ import annotations

from collections.abc import Sequence

import great_expectations.expectations as gxe
from great_expectations.expectations import Expectation

from expectations import common
from expectations.base import BatchContext, meta


def post_expectations(
    ctx: BatchContext,
    metrics: Sequence[str],
    *,
    text_required: bool = False,
    complete: bool = False,
    author: bool = False,
) -> list[Expectation]:
    """Keys present and unique, created in the interval, known handles, whole metrics."""
    expectations: list[Expectation] = [
        *common.key("post_id", "post"),
        *common.created_in_window(ctx),
        common.handle_known(ctx),
        gxe.ExpectColumnValuesToNotBeNull(
            column="text",
            mostly=0.95,
            meta=meta("text_present", "warning", "posts without text cannot be reviewed"),
        ),
        *common.counts(metrics),
        *common.row_count_band(ctx),
    ]
    if text_required:
        expectations.append(common.text_not_empty())
    if complete:
        expectations.append(common.payload_complete())
    if author:
        expectations.append(
            gxe.ExpectColumnValuesToBeInSet(
                column="author_handle",
                value_set=sorted(ctx.known_handles),
                meta=meta(
                    "author_in_registry",
                    "blocking",
                    "a post by an account that is not one of the registry's handles",
                ),
            )
        )
    return expectations
