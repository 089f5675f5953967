"""Which platforms the DAGs run: those enabled and with an extractor package installed."""

from __future__ import annotations

import importlib.util
import os

ALL_PLATFORMS = ("x", "facebook", "instagram", "youtube")


def enabled_platforms() -> list[str]:
    """``MISSIONPULSE_PLATFORMS`` (comma-separated) or all four, keeping those with code."""
    wanted = os.environ.get("MISSIONPULSE_PLATFORMS")
    names = [p.strip() for p in wanted.split(",")] if wanted else list(ALL_PLATFORMS)
    return [p for p in names if p in ALL_PLATFORMS and _has_extractor(p)]


def _has_extractor(platform: str) -> bool:
    try:
        return importlib.util.find_spec(f"extractors.{platform}") is not None
    except ModuleNotFoundError:
        return False


def requested_platforms(params: dict | None) -> list[str]:
    """The enabled platforms a run covers: param ``platforms`` ("all" or comma-separated)."""
    enabled = enabled_platforms()
    wanted = str((params or {}).get("platforms") or "all")
    if wanted == "all":
        return enabled
    return [p for p in enabled if p in {w.strip() for w in wanted.split(",")}]
