"""Helpers for the security checks: a small ministry's config, a recording simulator,
an isolated warehouse, and searches of every place a run writes to."""

from __future__ import annotations

import csv
import gzip
import re
import shutil
import sqlite3
import subprocess
import threading
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from missionpulse import warehouse
from missionpulse.simulator.messages import Request, Response
from missionpulse.simulator.server import SimulatorServer

PROJECT_CONFIG = Path(__file__).resolve().parents[2] / "config"


def small_config(target: Path, missions: int) -> Path:
    """A copy of the project's config/ whose registry keeps only the first ``missions``
    missions and their handles (the policy and its reference avatar unchanged)."""
    shutil.copytree(PROJECT_CONFIG, target)
    registry = target / "registry"
    with (registry / "missions.csv").open(newline="") as handle:
        rows = list(csv.reader(handle))
    header, kept = rows[0], rows[1 : missions + 1]
    with (registry / "missions.csv").open("w", newline="") as handle:
        csv.writer(handle, lineterminator="\n").writerows([header, *kept])
    ids = {row[0] for row in kept}
    with (registry / "handles.csv").open(newline="") as handle:
        handle_rows = list(csv.reader(handle))
    with (registry / "handles.csv").open("w", newline="") as handle:
        csv.writer(handle, lineterminator="\n").writerows(
            [handle_rows[0], *(row for row in handle_rows[1:] if row[0] in ids)]
        )
    return target


@dataclass
class Recorder:
    """What the simulator was asked with: each credential and the statuses it got back."""

    statuses: dict[str, Counter[int]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def note(self, request: Request, response: Response) -> None:
        credential = request.credential or ""
        with self.lock:
            self.statuses.setdefault(credential, Counter())[response.status] += 1


class _RecordingApi:
    """A platform API of the simulator that notes every request's credential."""

    def __init__(self, api: Any, recorder: Recorder) -> None:
        self._api, self._recorder = api, recorder

    def handles(self, path: str) -> bool:
        return bool(self._api.handles(path))

    def respond(self, request: Request, now: datetime) -> Response:
        response: Response = self._api.respond(request, now)
        self._recorder.note(request, response)
        return response

    def fault_response(self, fault: Any, request: Request) -> Response:
        response: Response = self._api.fault_response(fault, request)
        self._recorder.note(request, response)
        return response


def record_credentials(server: SimulatorServer) -> Recorder:
    recorder = Recorder()
    server.apis = tuple(_RecordingApi(api, recorder) for api in server.apis)
    return recorder


def pg_dump(url: str, *extra: str) -> bytes:
    """The whole database as SQL text (data of every schema), as pg_dump writes it."""
    return subprocess.run(
        [str(warehouse.find_bindir() / "pg_dump"), "--no-owner", *extra, url],
        capture_output=True,
        check=True,
        timeout=300,
    ).stdout


def dump_sections(dump: bytes) -> Iterator[tuple[str, bytes]]:
    """(table, data) for each ``COPY <table> ... FROM stdin`` block of a plain pg_dump."""
    for match in re.finditer(rb"^COPY (\S+) .*? FROM stdin;\n(.*?)^\\\.$", dump, re.M | re.S):
        yield match.group(1).decode(), match.group(2)


def where_in_dump(dump: bytes, needle: bytes) -> list[str]:
    """The tables whose data holds ``needle`` (or 'schema/DDL' if only the definitions do)."""
    tables = [table for table, data in dump_sections(dump) if needle in data]
    return tables or (["schema/DDL"] if needle in dump else [])


def files_under(root: Path, skip: Iterable[Path] = ()) -> Iterator[Path]:
    skipped = [s.resolve() for s in skip]
    for path in sorted(root.rglob("*")):
        if path.is_file() and not any(path.resolve().is_relative_to(s) for s in skipped):
            yield path


def readable_bytes(path: Path) -> bytes:
    """A file's bytes, decompressed when it is gzip (landing files are .jsonl.gz)."""
    data = path.read_bytes()
    if data[:2] == b"\x1f\x8b":
        data = gzip.decompress(data)
    return data


def xcom_values(airflow_db: Path) -> list[bytes]:
    """Every XCom value in the Airflow metadata DB (SQLite), as bytes."""
    with sqlite3.connect(f"file:{airflow_db}?mode=ro", uri=True) as conn:
        rows = conn.execute("select value from xcom").fetchall()
    return [value if isinstance(value, bytes) else str(value).encode() for (value,) in rows]
