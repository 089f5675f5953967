"""The suites the pipeline runs, by layer."""

from __future__ import annotations

from expectations import (
    raw__facebook__posts,
    raw__instagram__posts,
    raw__x__posts,
    raw__youtube__posts,
)
from expectations.base import SuiteSpec

RAW_SUITES: tuple[SuiteSpec, ...] = (
    raw__x__posts.SUITE,
    raw__facebook__posts.SUITE,
    raw__instagram__posts.SUITE,
    raw__youtube__posts.SUITE,
)


def raw_suites(platform: str) -> list[SuiteSpec]:
    return [s for s in RAW_SUITES if s.platform == platform]
