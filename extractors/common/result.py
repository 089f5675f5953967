"""What every platform's ``run(window, ...)`` takes and returns.

Each platform package (``extractors.<platform>``) exposes:

- ``ENTITIES``: ``{entity: EntitySpec}`` of the raw tables it lands;
- ``make_client(base_url, token) -> ApiClient``;
- ``run(window, handles, client, landing_root, pseudonym, *, now=None) -> ExtractResult``,
  which lands one file per entity and never raises for one handle's failure (it records
  it), only for failures that would hit every handle (authentication, permissions).
  An extractor that must know the missions beyond its batch of ``handles`` also takes
  ``missions`` (every handle of the platform active that day): X, whose replies by any
  mission keep their user id.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from extractors.common.landing import Manifest
from extractors.common.window import Window


@dataclass(frozen=True)
class HandleRef:
    mission_id: str
    handle: str
    # The account id the registry already knows (page id, channel id), when it does.
    account_id: str | None = None


@dataclass(frozen=True)
class HandleFailure:
    platform: str
    handle: str
    window: str
    stage: str
    error: str


@dataclass
class ExtractResult:
    platform: str
    window: Window
    manifests: dict[str, Manifest] = field(default_factory=dict)
    failures: list[HandleFailure] = field(default_factory=list)
    stats: dict[str, Any] = field(default_factory=dict)
    rows_by_handle: dict[str, dict[str, int]] = field(default_factory=dict)

    @property
    def failed_handles(self) -> list[str]:
        return sorted({f.handle for f in self.failures})

    def fail(self, handle: str, stage: str, error: str) -> None:
        self.failures.append(
            HandleFailure(self.platform, handle, self.window.label(), stage, error)
        )

    def count_rows(self, entity: str, records: Iterable[dict[str, Any]]) -> None:
        for record in records:
            per_handle = self.rows_by_handle.setdefault(record["request"]["handle"], {})
            per_handle[entity] = per_handle.get(entity, 0) + 1


def envelope(
    handle: str, endpoint: str, observed_at: datetime, data: dict[str, Any]
) -> dict[str, Any]:
    """A landed record: the API object as returned plus where and when it was observed."""
    return {
        "request": {"handle": handle, "endpoint": endpoint},
        "observed_at": observed_at.isoformat(),
        "data": data,
    }
