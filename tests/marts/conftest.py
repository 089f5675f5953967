"""Fixtures for the mart tests: dbt run against the session warehouse on small raw data.

The tests insert a few X profiles and posts (days in March 2025, far from the days the
end-to-end tests run) straight into raw, mark those partitions validated in audit.dq_runs
as the pipeline would, load the registry and policy with the pipeline's own loader, and
run dbt as a subprocess (the same project and profile the daily DAG uses through Cosmos),
with its own target and log folders.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest

from extractors.common.window import Window
from missionpulse import pipeline, settings
from missionpulse.registry import load_registry

ROOT = Path(__file__).resolve().parents[2]
DBT_PROJECT = ROOT / "dbt_project"

DbtRunner = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture(scope="session")
def dbt(warehouse_url: str, tmp_path_factory: pytest.TempPathFactory) -> DbtRunner:
    """Runs a dbt command against the session warehouse; fails the test with dbt's output."""
    work = tmp_path_factory.mktemp("dbt")
    env = {
        **os.environ,
        **pipeline.dbt_env(warehouse_url),
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "False",
    }

    def run(*args: str, check: bool = True, **dbt_vars: str) -> subprocess.CompletedProcess[str]:
        command = [str(Path(sys.executable).with_name("dbt")), *args]
        command += [
            "--project-dir",
            str(DBT_PROJECT),
            "--profiles-dir",
            str(DBT_PROJECT / "profiles"),
        ]
        command += ["--target-path", str(work / "target"), "--log-path", str(work / "logs")]
        if dbt_vars:
            command += ["--vars", json.dumps(dbt_vars)]
        done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)
        if check and done.returncode != 0:
            pytest.fail(f"dbt {' '.join(args)} exited {done.returncode}:\n{done.stdout[-6000:]}")
        return done

    return run


@pytest.fixture(scope="session")
def config_copy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the shipped config/ that a test may edit (restore it when done)."""
    target = tmp_path_factory.mktemp("config") / "config"
    shutil.copytree(settings.config_dir(), target)
    return target


@pytest.fixture(scope="session")
def load_config(warehouse_url: str) -> Callable[[Path], None]:
    """Loads a config folder's registry and policy into raw, as the pipeline's prepare does."""

    def load(config_dir: Path) -> None:
        with pytest.MonkeyPatch.context() as mp:
            mp.setenv("MISSIONPULSE_CONFIG_DIR", str(config_dir))  # the digest names it too
            pipeline.load_registry_tables(warehouse_url, load_registry(config_dir))

    return load


class RawX:
    """Writes X profiles and posts into raw as validated partitions (one day at a time)."""

    def __init__(self, conn: psycopg.Connection[Any]) -> None:
        self.conn = conn

    def day(
        self,
        day: date,
        profiles: list[dict[str, Any]],
        posts: list[tuple[str, str, int]] = (),  # type: ignore[assignment]
    ) -> None:
        window = Window.for_day(day)
        start, end = window.start, window.end
        load_id = f"test-x-{day:%Y%m%d}"
        with self.conn.transaction():
            for table in ("x__profiles", "x__posts"):
                self.conn.execute(f"delete from raw.{table} where _interval_start = %s", (start,))
            for n, profile in enumerate(profiles):
                self.conn.execute(
                    "insert into raw.x__profiles (_interval_start, _interval_end, _load_id,"
                    " _row_number, handle, user_id, payload) values (%s, %s, %s, %s, %s, %s, %s)",
                    (
                        start,
                        end,
                        load_id,
                        n,
                        profile["username"],
                        profile["id"],
                        json.dumps(
                            {
                                "data": {k: v for k, v in profile.items() if k != "avatar"},
                                "observed_at": (end + timedelta(hours=1)).isoformat(),
                                "avatar": profile.get("avatar"),
                            }
                        ),
                    ),
                )
            for n, (handle, user_id, likes) in enumerate(posts):
                created = start + timedelta(hours=9, minutes=n)
                self.conn.execute(
                    "insert into raw.x__posts (_interval_start, _interval_end, _load_id,"
                    " _row_number, handle, post_id, author_id, created_at, payload)"
                    " values (%s, %s, %s, %s, %s, %s, %s, %s, %s)",
                    (
                        start,
                        end,
                        load_id,
                        n,
                        handle,
                        f"{day:%Y%m%d}{n:04d}",
                        user_id,
                        created,
                        json.dumps(
                            {
                                "data": {
                                    "text": "hello",
                                    "public_metrics": {
                                        "like_count": likes,
                                        "reply_count": 0,
                                        "retweet_count": 0,
                                        "quote_count": 0,
                                        "impression_count": 10 * likes,
                                    },
                                },
                                "observed_at": (end + timedelta(hours=1)).isoformat(),
                            }
                        ),
                    ),
                )
            self.conn.execute(
                "delete from audit.dq_runs where dq_run_id = %s", (f"test-x-{day:%Y%m%d}",)
            )
            self.conn.execute(
                "insert into audit.dq_runs (dq_run_id, suite_name, platform, entity, batch_date,"
                " success, blocking_failures, warning_failures, expectations, rows_checked,"
                " started_at, finished_at, summary)"
                " values (%s, 'raw__x__profiles', 'x', 'profiles', %s, true, 0, 0, 1, %s,"
                " now(), now(), 'test fixture')",
                (f"test-x-{day:%Y%m%d}", day, len(profiles)),
            )


@pytest.fixture(scope="module")
def raw_x(warehouse_url: str) -> Iterator[RawX]:
    pipeline.ensure_raw_tables(warehouse_url)
    with psycopg.connect(warehouse_url, autocommit=True) as conn:
        yield RawX(conn)
