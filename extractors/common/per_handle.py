"""Extract a platform handle by handle and land one file per entity.

A platform module supplies what to do for one handle; this module does the rest the same
way for every platform: a handle that fails is recorded (at the stage it reached) and none
of its records are landed, so the loader keeps that handle's previous rows instead of
mixing old and new; the other handles go on. Authentication and permission failures stop
the platform, because every other handle would fail the same way.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from extractors.common.errors import AuthError, ExtractError, PermissionDeniedError
from extractors.common.http import ApiClient
from extractors.common.landing import write_batch
from extractors.common.result import ExtractResult, HandleRef
from extractors.common.window import Window

log = logging.getLogger(__name__)

Records = list[dict[str, Any]]


@dataclass
class Progress:
    """How far one handle's extraction got (named in its failure record)."""

    stage: str = "profile"


HandleExtractor = Callable[[HandleRef, Progress], Mapping[str, Records]]


def extract_handles(
    platform: str,
    window: Window,
    handles: Sequence[HandleRef],
    client: ApiClient,
    landing_root: Path,
    entities: Sequence[str],
    extract_one: HandleExtractor,
    extra_stats: Callable[[], Mapping[str, Any]] = dict,
) -> ExtractResult:
    """Run ``extract_one`` for every handle and land each entity's records (even none)."""
    result = ExtractResult(platform, window)
    batches: dict[str, Records] = {entity: [] for entity in entities}
    for ref in handles:
        progress = Progress()
        try:
            found = extract_one(ref, progress)
        except (AuthError, PermissionDeniedError):
            raise  # every other handle would fail the same way: stop the platform
        except ExtractError as err:
            result.fail(ref.handle, progress.stage, client.redact(str(err)))
            continue
        for entity, records in found.items():
            batches[entity].extend(records)
    for entity, records in batches.items():
        result.count_rows(entity, records)
    result.stats = client.stats.as_dict() | dict(extra_stats())
    for entity, records in batches.items():
        result.manifests[entity] = write_batch(
            landing_root, platform, entity, window, records, result.stats
        )
    log.info(
        "%s %s: %s, %d requests (%d retries), %d failed handles",
        platform,
        window.label(),
        ", ".join(f"{len(records)} {entity}" for entity, records in batches.items()),
        client.stats.requests,
        client.stats.retries,
        len(result.failed_handles),
    )
    return result
