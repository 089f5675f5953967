"""Fault profiles end to end through Airflow: chaos still lands exactly the truth; an
expired token fails its platform clearly while the others publish, and leaks nowhere."""

from __future__ import annotations

import gzip
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import psycopg
import pytest

from missionpulse import warehouse
from missionpulse.simulator.server import SimulatorServer, start_in_thread
from missionpulse.simulator.truth import truth

pytestmark = [pytest.mark.e2e, pytest.mark.integration]

PLATFORMS = ("x", "facebook", "instagram", "youtube")
CHAOS_DAY = datetime.now(UTC).date() - timedelta(days=3)
EXPIRED_DAY = datetime.now(UTC).date() - timedelta(days=4)
PLANTED_TOKEN = "EAAplantedFacebookToken0123456789abcdefXYZ"


def run(
    day: date, state_dir: Path, env: dict[str, str], *extra: str
) -> subprocess.CompletedProcess:
    return subprocess.run(
        [
            str(Path(sys.executable).with_name("missionpulse")),
            "run",
            "--date",
            day.isoformat(),
            *extra,
        ],
        env={**os.environ, "MISSIONPULSE_STATE_DIR": str(state_dir), **env},
        capture_output=True,
        text=True,
        timeout=1200,
    )


def run_log_errors(state_dir: Path, day: date) -> str:
    """The error lines of a day's run log, for assertion messages."""
    log = state_dir / "logs" / "runs" / f"{day.isoformat()}.log"
    if not log.exists():
        return f"(no run log at {log})"
    marks = ("[error", "Error", "Traceback", "FAILED", "failed", "skipped", "Skipping task")
    lines = [
        line
        for line in log.read_text(errors="replace").splitlines()
        if any(m in line for m in marks)
    ]
    return "\n".join(lines[-80:])


def raw_counts(url: str, day: date) -> dict[str, dict[str, int]]:
    start = datetime(day.year, day.month, day.day, tzinfo=UTC)
    with psycopg.connect(url) as conn:
        return {
            platform: {
                entity: conn.execute(
                    f"select count(*) from raw.{platform}__{entity} where _interval_start = %s",
                    (start,),
                ).fetchone()[0]
                for entity in ("profiles", "posts", "comments")
            }
            for platform in PLATFORMS
        }


def expected(day: date) -> dict[str, dict[str, int]]:
    platforms = truth(day)["platforms"]
    return {p: {e: platforms[p][e] for e in ("profiles", "posts", "comments")} for p in PLATFORMS}


def test_chaos_lands_exactly_the_truth(test_state_dir: Path, warehouse_url: str) -> None:
    done = run(
        CHAOS_DAY,
        test_state_dir,
        {"MISSIONPULSE_WAREHOUSE_URL": warehouse_url},
        "--faults",
        "chaos",
    )

    assert done.returncode == 0, run_log_errors(test_state_dir, CHAOS_DAY)
    assert raw_counts(warehouse_url, CHAOS_DAY) == expected(CHAOS_DAY)
    with psycopg.connect(warehouse_url) as conn:
        retries = conn.execute(
            "select platform, sum(retries) from audit.extract_runs where interval_start = %s "
            "group by platform",
            (CHAOS_DAY,),
        ).fetchall()
    assert sum(r for _, r in retries) > 0  # faults were injected and survived


@pytest.fixture(scope="module")
def expired_simulator() -> Iterator[SimulatorServer]:
    server = start_in_thread(faults="expired-token")
    yield server
    server.shutdown()


def test_expired_token_fails_its_platform_and_the_others_publish(
    test_state_dir: Path, warehouse_url: str, expired_simulator: SimulatorServer
) -> None:
    env = {
        "MISSIONPULSE_WAREHOUSE_URL": warehouse_url,
        "MISSIONPULSE_SIMULATOR_URL": expired_simulator.base_url,
        # Facebook as a real deployment configures it: base URL and token from the environment
        "MISSIONPULSE_FACEBOOK_BASE_URL": expired_simulator.base_url,
        "MISSIONPULSE_FACEBOOK_ACCESS_TOKEN": PLANTED_TOKEN,
    }

    done = run(EXPIRED_DAY, test_state_dir, env)

    output = done.stdout + done.stderr
    assert done.returncode == 1
    assert "extract_facebook" in output
    assert "MISSIONPULSE_FACEBOOK_ACCESS_TOKEN" in output  # says what to do
    got, want = raw_counts(warehouse_url, EXPIRED_DAY), expected(EXPIRED_DAY)
    for platform in ("x", "instagram", "youtube"):
        assert got[platform] == want[platform], platform
    assert got["facebook"] == {"profiles": 0, "posts": 0, "comments": 0}
    with psycopg.connect(warehouse_url) as conn:
        published = dict(
            conn.execute(
                "select platform, count(*) from marts.fct_mission_daily_engagement "
                "where activity_date = %s group by platform",
                (EXPIRED_DAY,),
            ).fetchall()
        )
    assert "facebook" not in published and {"x", "instagram", "youtube"} <= set(published), (
        run_log_errors(test_state_dir, EXPIRED_DAY)
    )
    assert PLANTED_TOKEN not in output


def test_the_planted_token_is_nowhere(
    test_state_dir: Path, warehouse_url: str, expired_simulator: SimulatorServer
) -> None:
    # runs after the expired-token day: search every file the runs wrote, and the warehouse
    needle = PLANTED_TOKEN.encode()
    for path in test_state_dir.rglob("*"):
        if not path.is_file() or "warehouse" in path.parts:
            continue
        data = path.read_bytes()
        if path.suffix == ".gz":
            data = gzip.decompress(data)
        assert needle not in data, path
    dump = subprocess.run(
        [str(warehouse.find_bindir() / "pg_dump"), "--data-only", warehouse_url],
        capture_output=True,
        check=True,
    ).stdout
    assert len(dump) > 1_000_000 and needle not in dump
