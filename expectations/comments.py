"""Expectations every platform's raw comments share, for a batch query with these columns:
``comment_id``, ``handle``, ``created_at``, ``text``."""

from __future__ import annotations

import great_expectations.expectations as gxe
from great_expectations.expectations import Expectation

from expectations import common
from expectations.base import BatchContext, SuiteSpec, meta


def comment_expectations(ctx: BatchContext, *, text_required: bool = False) -> list[Expectation]:
    """Keys present and unique, created in the interval (and not in the future), known
    handles; text required where the platform always sends it."""
    expectations: list[Expectation] = [
        *common.key("comment_id", "comment"),
        *common.created_in_window(ctx),
        common.handle_known(ctx),
        *common.row_count_band(ctx),
    ]
    if text_required:
        expectations.append(common.text_not_empty())
    else:
        expectations.append(
            gxe.ExpectColumnValueLengthsToBeBetween(
                column="text",
                min_value=1,
                mostly=0.9,
                meta=meta("text_present", "warning", "comments without text cannot be scored"),
            )
        )
    return expectations


def comments_suite(platform: str, text_path: str, *, text_required: bool = False) -> SuiteSpec:
    """The suite of ``raw.<platform>__comments``; ``text_path`` is the payload's text (SQL)."""
    return SuiteSpec(
        name=f"raw__{platform}__comments",
        platform=platform,
        entity="comments",
        query=f"""
            select
                comment_id,
                handle,
                created_at,
                coalesce({text_path}, '') as text,
                _load_id
            from raw.{platform}__comments
            where _interval_start = %(interval_start)s
        """,
        build=lambda ctx: comment_expectations(ctx, text_required=text_required),
        timestamp_columns=("created_at",),
    )
