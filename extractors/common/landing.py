"""The landing zone: every extracted payload kept as it came, before any loading.

Layout: ``<root>/<platform>/<entity>/dt=YYYY-MM-DD/<load_id>.jsonl.gz`` plus
``<load_id>.manifest.json`` (rows, sha256 of the gzip file, window, request counts).
Files are written to a temporary name and renamed, so a killed run never leaves a
half-written file under its final name; the gzip header carries no timestamp, so the same
records give the same bytes and the same checksum.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from extractors.common.window import Window


@dataclass(frozen=True)
class Manifest:
    platform: str
    entity: str
    load_id: str
    interval_start: str
    interval_end: str
    rows: int
    sha256: str
    data_file: str
    created_at: str
    stats: Mapping[str, Any]

    @property
    def path(self) -> Path:
        return Path(self.data_file)

    @classmethod
    def read(cls, path: Path) -> Manifest:
        return cls(**json.loads(path.read_text(encoding="utf-8")))


def new_load_id(platform: str, entity: str, window: Window) -> str:
    """Unique, sortable id of one landing file: platform, entity, day, time and a nonce."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
    return f"{platform}-{entity}-{window.day:%Y%m%d}-{stamp}-{uuid.uuid4().hex[:8]}"


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def partition_dir(root: Path, platform: str, entity: str, window: Window) -> Path:
    return root / platform / entity / f"dt={window.day.isoformat()}"


def write_batch(
    root: Path,
    platform: str,
    entity: str,
    window: Window,
    records: Iterable[Mapping[str, Any]],
    stats: Mapping[str, Any] | None = None,
) -> Manifest:
    """Write one entity's records for a window and return the manifest (also on disk)."""
    folder = partition_dir(root, platform, entity, window)
    folder.mkdir(parents=True, exist_ok=True)
    load_id = new_load_id(platform, entity, window)
    data_path = folder / f"{load_id}.jsonl.gz"
    tmp_path = folder / f".{load_id}.jsonl.gz.tmp"
    rows = 0
    with (
        tmp_path.open("wb") as raw,
        gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0) as gz,
    ):
        for record in records:
            line = json.dumps(record, ensure_ascii=False, separators=(",", ":"), sort_keys=True)
            gz.write(line.encode("utf-8") + b"\n")
            rows += 1
    _fsync_rename(tmp_path, data_path)
    manifest = Manifest(
        platform=platform,
        entity=entity,
        load_id=load_id,
        interval_start=window.start.isoformat(),
        interval_end=window.end.isoformat(),
        rows=rows,
        sha256=sha256_of(data_path),
        data_file=str(data_path),
        created_at=datetime.now(UTC).isoformat(),
        stats=dict(stats or {}),
    )
    manifest_path = folder / f"{load_id}.manifest.json"
    tmp_manifest = folder / f".{load_id}.manifest.json.tmp"
    tmp_manifest.write_text(json.dumps(asdict(manifest), indent=2, sort_keys=True), "utf-8")
    _fsync_rename(tmp_manifest, manifest_path)
    return manifest


def read_records(manifest: Manifest) -> list[dict[str, Any]]:
    """The records of a landing file, after checking its checksum and row count."""
    actual = sha256_of(manifest.path)
    if actual != manifest.sha256:
        raise ValueError(
            f"landing file {manifest.path} does not match its manifest "
            f"(sha256 {actual[:12]}… != {manifest.sha256[:12]}…): it was changed after "
            "extraction; re-extract the day"
        )
    with gzip.open(manifest.path, "rt", encoding="utf-8") as handle:
        records = [json.loads(line) for line in handle if line.strip()]
    if len(records) != manifest.rows:
        raise ValueError(
            f"landing file {manifest.path} has {len(records)} rows, manifest says "
            f"{manifest.rows}; re-extract the day"
        )
    return records


def _fsync_rename(tmp: Path, final: Path) -> None:
    with tmp.open("rb") as handle:
        os.fsync(handle.fileno())
    os.replace(tmp, final)
