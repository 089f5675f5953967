"""The suites the pipeline runs, by layer: every ``raw__<platform>__<entity>`` and
``marts__<mart>`` module of this package that defines ``SUITE``.

Adding a suite is adding one module; nothing here needs editing.
"""

from __future__ import annotations

import importlib
import pkgutil
from functools import cache

import expectations
from expectations.base import SuiteSpec

LAYERS = ("raw", "marts")


@cache
def all_suites() -> tuple[SuiteSpec, ...]:
    suites = []
    for module in sorted(pkgutil.iter_modules(expectations.__path__), key=lambda m: m.name):
        if module.name.split("__", 1)[0] not in LAYERS or "__" not in module.name:
            continue
        suite = getattr(importlib.import_module(f"expectations.{module.name}"), "SUITE", None)
        if isinstance(suite, SuiteSpec):
            if suite.name != module.name:
                raise ValueError(f"expectations/{module.name}.py defines suite {suite.name!r}")
            suites.append(suite)
    return tuple(suites)


def raw_suites(platform: str) -> list[SuiteSpec]:
    return [s for s in all_suites() if s.layer == "raw" and s.platform == platform]


def mart_suites() -> list[SuiteSpec]:
    return [s for s in all_suites() if s.layer == "marts"]


def suite(name: str) -> SuiteSpec:
    for candidate in all_suites():
        if candidate.name == name:
            return candidate
    raise KeyError(f"no suite {name!r}; suites: {', '.join(s.name for s in all_suites())}")


RAW_SUITES: tuple[SuiteSpec, ...] = tuple(s for s in all_suites() if s.layer == "raw")
