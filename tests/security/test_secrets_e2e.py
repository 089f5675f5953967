"""Security end to end: planted credentials leak nowhere; commenters stay pseudonymous.

One real day runs through Airflow (``missionpulse run``) the way a deployment configures
the platforms: X, Facebook and Instagram from ``MISSIONPULSE_<PLATFORM>_BASE_URL`` and token
variables, YouTube from an Airflow connection (``AIRFLOW_CONN_MISSIONPULSE_YOUTUBE``), each
with a unique canary token, and the pseudonymisation key planted in
``MISSIONPULSE_PSEUDONYM_KEY``. The API they reach is the simulator with the ``chaos``
profile (15% transient faults: 429s, 5xx, resets, cut pages, plus schema drift), in which
Instagram's token has moreover expired, so retries, redacted error texts and the
failed-authentication path all run. Then every place the run wrote is searched for the
canaries and for the audience's real ids.

The run has a warehouse, a state dir (Airflow metadata, logs, landing zone) and a small
registry (5 missions) of its own: the profile pictures' CDN hosts cannot be reached from a
real-API configuration, and each one costs a full retry cycle, so the registry is kept small;
and nothing of this run can disturb the session's shared warehouse.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import psycopg
import pytest

from extractors.common.pseudonym import Pseudonymiser
from missionpulse import db, warehouse
from missionpulse.platforms import RUN_LAG
from missionpulse.registry import load_registry
from missionpulse.simulator.faults import EXPIRED_TOKEN_PREFIX, PROFILES, FaultProfile
from missionpulse.simulator.graph_api import _person_id
from missionpulse.simulator.server import SimulatorServer, start_in_thread
from missionpulse.simulator.tokens import issue_token
from missionpulse.simulator.world import World, world_for
from missionpulse.simulator.world_youtube import (
    YouTubeWorld,
    audience_channel_id,
    audience_handle,
    channel_id_for,
)
from tests.security.support import (
    Recorder,
    dump_sections,
    files_under,
    pg_dump,
    readable_bytes,
    record_credentials,
    small_config,
    where_in_dump,
    xcom_values,
)

pytestmark = [pytest.mark.e2e, pytest.mark.integration]

PLATFORMS = ("x", "facebook", "instagram", "youtube")
EXPIRED = "instagram"  # its token has expired: the failed-authentication path
DAY = datetime.now(UTC).date() - timedelta(days=5)
MISSIONS = 5
PSEUDONYM_KEY = "canary-pseudonym-key-" + os.urandom(12).hex()
OTHER_KEY = b"another-pseudonym-key-0123456789"
TOKEN_VARIABLES = {
    "x": "MISSIONPULSE_X_BEARER_TOKEN",
    "facebook": "MISSIONPULSE_FACEBOOK_ACCESS_TOKEN",
    "instagram": "MISSIONPULSE_INSTAGRAM_ACCESS_TOKEN",
}


@dataclass
class DayRun:
    done: subprocess.CompletedProcess[str]
    state_dir: Path
    url: str
    config_dir: Path
    canaries: dict[str, str]
    seen: Recorder

    @property
    def output(self) -> str:
        return self.done.stdout + self.done.stderr


def canary(token: str) -> list[bytes]:
    """What to search for: the whole token and its last 20 characters (random, so a
    truncated or partly redacted copy is caught too)."""
    return [token.encode(), token[-20:].encode()]


@pytest.fixture(scope="module")
def isolated() -> Iterator[tuple[Path, str]]:
    """A state dir and an embedded warehouse of this module's own."""
    state_dir = Path(tempfile.mkdtemp(prefix="missionpulse-security-"))
    state_dir.chmod(0o755)  # as root the server runs as another OS user, which must traverse it
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MISSIONPULSE_STATE_DIR", str(state_dir))
        mp.delenv("MISSIONPULSE_WAREHOUSE_URL", raising=False)
        url = warehouse.start()
        try:
            db.ensure_schemas(url)
            yield state_dir, url
        finally:
            warehouse.stop()
            shutil.rmtree(state_dir, ignore_errors=True)


@pytest.fixture(scope="module")
def config_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return small_config(tmp_path_factory.mktemp("security-config") / "config", MISSIONS)


@pytest.fixture(scope="module")
def world(config_dir: Path) -> World:
    return world_for(load_registry(config_dir))


@pytest.fixture(scope="module")
def simulator(config_dir: Path) -> Iterator[tuple[SimulatorServer, Recorder]]:
    chaos = PROFILES["chaos"]
    profile = FaultProfile(
        chaos.name, chaos.rate, chaos.kinds, chaos.modes | {EXPIRED_TOKEN_PREFIX + EXPIRED}
    )
    server = start_in_thread(faults=profile, registry=load_registry(config_dir))
    recorder = record_credentials(server)
    yield server, recorder
    server.shutdown()


@pytest.fixture(scope="module")
def day_run(
    isolated: tuple[Path, str],
    config_dir: Path,
    simulator: tuple[SimulatorServer, Recorder],
) -> DayRun:
    state_dir, url = isolated
    server, recorder = simulator
    # Tokens the simulator reads its clock from (the day's run two hours after midnight),
    # each with a random part of its own: a canary no other token in the run shares.
    run_at = datetime(DAY.year, DAY.month, DAY.day, tzinfo=UTC) + timedelta(days=1) + RUN_LAG
    canaries = {platform: issue_token(run_at) for platform in PLATFORMS}
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("MISSIONPULSE_", "AIRFLOW_CONN_MISSIONPULSE_"))
    }
    env |= {
        "MISSIONPULSE_STATE_DIR": str(state_dir),
        "MISSIONPULSE_WAREHOUSE_URL": url,
        "MISSIONPULSE_CONFIG_DIR": str(config_dir),
        "MISSIONPULSE_PSEUDONYM_KEY": PSEUDONYM_KEY,
        "AIRFLOW_CONN_MISSIONPULSE_YOUTUBE": json.dumps(
            {"conn_type": "http", "host": server.base_url, "password": canaries["youtube"]}
        ),
    }
    for platform, variable in TOKEN_VARIABLES.items():
        env[f"MISSIONPULSE_{platform.upper()}_BASE_URL"] = server.base_url
        env[variable] = canaries[platform]
    done = subprocess.run(
        [str(Path(sys.executable).with_name("missionpulse")), "run", "--date", DAY.isoformat()],
        env=env,
        capture_output=True,
        text=True,
        timeout=1500,
    )
    return DayRun(done, state_dir, url, config_dir, canaries, recorder)


# --- the run did what the checks rely on ----------------------------------------------------


def test_each_canary_was_used_and_instagram_failed_authentication(day_run: DayRun) -> None:
    """Without this, a run that never sent the planted tokens would pass every search."""
    seen = day_run.seen.statuses
    for platform, token in day_run.canaries.items():
        assert token in seen, f"{platform}: the simulator never saw the planted token"
        statuses = seen[token]
        if platform == EXPIRED:
            assert set(statuses) <= {400, 401, 429, 500, 502, 503}, statuses
            assert statuses[400] + statuses[401] > 0, statuses
        else:
            assert statuses[200] > 0, f"{platform}: {statuses}"
    # chaos really disturbed the run: some answers were faults, and were retried
    assert sum(c[s] for c in seen.values() for s in c if s >= 429) > 0
    with psycopg.connect(day_run.url) as conn:
        failed = conn.execute(
            "select platform, count(*), min(stage), min(error) from audit.extract_runs "
            "where interval_start = %s and status = 'failed' group by platform",
            (DAY,),
        ).fetchall()
        retries = conn.execute(
            "select coalesce(sum(retries), 0) from audit.extract_runs where interval_start = %s",
            (DAY,),
        ).fetchone()
    by_platform = {platform: (count, stage, error) for platform, count, stage, error in failed}
    assert EXPIRED in by_platform, (failed, day_run.output[-3000:])
    assert by_platform[EXPIRED][1] == "auth" and by_platform[EXPIRED][2]
    assert retries is not None and retries[0] > 0
    # the run fails (one platform down) and says what to do about the token
    assert day_run.done.returncode == 1, day_run.output[-3000:]
    assert TOKEN_VARIABLES[EXPIRED] in day_run.output


# --- planted credentials -------------------------------------------------------------------


def needles(day_run: DayRun) -> dict[str, list[bytes]]:
    found = {platform: canary(token) for platform, token in day_run.canaries.items()}
    found["pseudonym key"] = [PSEUDONYM_KEY.encode()]
    return found


def test_no_canary_in_the_run_output(day_run: DayRun) -> None:
    output = day_run.output.encode()
    assert len(output) > 200
    for what, variants in needles(day_run).items():
        assert not any(v in output for v in variants), f"{what} token in the run's stdout/stderr"


def test_no_canary_in_any_file_of_the_state_dir(day_run: DayRun) -> None:
    """Logs (the run's and Airflow's task logs), landing files (decompressed), the Airflow
    metadata DB, Cosmos' and dbt's files, the warehouse's server log: every file the run
    wrote, except the warehouse's data files (searched through pg_dump below)."""
    data_dir = day_run.state_dir / "warehouse" / "data"
    searched: dict[str, int] = {}
    leaks: list[str] = []
    for path in files_under(day_run.state_dir, skip=[data_dir]):
        data = readable_bytes(path)
        kind = path.relative_to(day_run.state_dir).parts[0]
        searched[kind] = searched.get(kind, 0) + 1
        for what, variants in needles(day_run).items():
            if any(v in data for v in variants):
                leaks.append(f"{what} token in {path}")
    assert not leaks, "\n".join(leaks)
    # the search really covered what the run writes: landing files, the Airflow metadata,
    # and the run's log, which holds every task's log lines (dag.test runs the tasks in
    # the run's process; Airflow's own task log folder gets whatever a task writes there)
    assert list((day_run.state_dir / "landing").rglob("*.jsonl.gz")), searched
    assert (day_run.state_dir / "airflow" / "airflow.db").is_file(), searched
    run_log = (day_run.state_dir / "logs" / "runs" / f"{DAY.isoformat()}.log").read_text()
    for task in ("extract_x", "extract_instagram", "extract_youtube", "score_sentiment"):
        assert task in run_log, f"no log lines of {task} in the run log"
    assert "retry" in run_log  # chaos: retried requests, logged with their (redacted) error


def test_no_canary_in_airflow_xcoms(day_run: DayRun) -> None:
    values = xcom_values(day_run.state_dir / "airflow" / "airflow.db")
    assert values  # the tasks do pass XComs (summaries, the warehouse URL, ...)
    for what, variants in needles(day_run).items():
        assert not any(v in value for value in values for v in variants), f"{what} in XComs"


def test_no_canary_in_any_table(day_run: DayRun) -> None:
    dump = pg_dump(day_run.url)
    tables = {table for table, _ in dump_sections(dump)}
    assert {"audit.extract_runs", "audit.dq_results"} <= tables
    assert any(t.startswith("raw.") for t in tables) and any(t.startswith("marts.") for t in tables)
    for what, variants in needles(day_run).items():
        for variant in variants:
            assert variant not in dump, f"{what} token in {where_in_dump(dump, variant)}"


def test_error_texts_name_platform_and_handle_but_not_the_token(day_run: DayRun) -> None:
    with psycopg.connect(day_run.url) as conn:
        errors = conn.execute(
            "select platform, handle, error from audit.extract_runs "
            "where interval_start = %s and error is not null",
            (DAY,),
        ).fetchall()
        dq = conn.execute("select coalesce(string_agg(r::text, ' '), '') from audit.dq_results r")
        dq_text = dq.fetchone()[0]  # type: ignore[index]
    assert errors
    for platform, handle, error in errors:
        assert platform in error.lower() or handle in error, error
        for what, variants in needles(day_run).items():
            assert not any(v.decode() in error for v in variants), f"{what} in {error}"
    for what, variants in needles(day_run).items():
        assert not any(v.decode() in dq_text for v in variants), f"{what} in audit.dq_results"


# --- pseudonymised commenters --------------------------------------------------------------


def audience(world: World, day: date) -> dict[str, dict[str, set[str]]]:
    """The simulator's truth: per platform, the real ids, names and usernames of the
    audience members who commented on ``day``, as that platform's API shows them."""
    people: dict[str, dict[str, set[str]]] = {
        p: {"ids": set(), "names": set(), "usernames": set()} for p in PLATFORMS
    }
    for platform in ("x", "facebook", "instagram"):
        for account in world.accounts(platform):
            for comment in world.comments_on(account, day):
                if comment.author is None:
                    continue
                user = comment.author
                person_id = user.uid if platform == "x" else _person_id(platform, user)
                people[platform]["ids"].add(person_id)
                people[platform]["names"].add(user.name)
                people[platform]["usernames"].add(user.username)
    youtube = YouTubeWorld(world)
    for channel in youtube.channels():
        for video_comment in youtube.comments_on(channel, day):
            if video_comment.author is None:
                continue
            people["youtube"]["ids"].add(audience_channel_id(video_comment.author))
            people["youtube"]["names"].add(video_comment.author.name)
            people["youtube"]["usernames"].add(audience_handle(video_comment.author))
    return people


def own_ids(world: World) -> dict[str, set[str]]:
    ids = {p: {a.uid for a in world.accounts(p)} for p in PLATFORMS}
    ids["youtube"] |= {channel_id_for(a) for a in world.accounts("youtube")}
    return ids


def words(data: bytes) -> set[str]:
    return set(re.findall(r"[A-Za-z0-9_@.-]+", data.decode(errors="replace")))


def test_no_audience_id_in_the_warehouse(day_run: DayRun, world: World) -> None:
    truth = audience(world, DAY)
    for platform in ("x", "facebook", "youtube"):
        assert len(truth[platform]["ids"]) > 10, platform  # the day had commenters
    dump = pg_dump(day_run.url)
    present = words(dump)
    for platform, people in truth.items():
        leaked = sorted(people["ids"] & present)
        where = where_in_dump(dump, leaked[0].encode()) if leaked else []
        assert not leaked, f"{platform}: {len(leaked)} ids stored: {leaked[:3]} in {where}"


def test_no_audience_id_in_the_landing_zone(day_run: DayRun, world: World) -> None:
    truth = audience(world, DAY)
    files = list((day_run.state_dir / "landing").rglob("*.jsonl.gz"))
    assert files
    present: set[str] = set()
    for path in files:
        present |= words(readable_bytes(path))
    for platform, people in truth.items():
        leaked = sorted(people["ids"] & present)
        assert not leaked, f"{platform}: audience ids landed, e.g. {leaked[:3]}"


def test_stored_authors_are_keyed_hashes_of_the_real_ids(day_run: DayRun, world: World) -> None:
    """Every audience author in raw is HMAC(key from the environment, platform:id) of a real
    commenter of the day; the same ids under another key give pseudonyms found nowhere."""
    truth = audience(world, DAY)
    mine, other = Pseudonymiser(PSEUDONYM_KEY.encode()), Pseudonymiser(OTHER_KEY)
    missions = own_ids(world)
    with psycopg.connect(day_run.url) as conn:
        for platform in ("x", "facebook", "youtube"):
            stored = {
                author
                for (author,) in conn.execute(
                    f"select distinct author_id from raw.{platform}__comments "
                    "where _interval_start = %s and author_id is not null",
                    (datetime(DAY.year, DAY.month, DAY.day, tzinfo=UTC),),
                ).fetchall()
            }
            audience_authors = stored - missions[platform]
            expected = {mine(platform, person) for person in truth[platform]["ids"]}
            under_other_key = {other(platform, person) for person in truth[platform]["ids"]}
            assert audience_authors, platform
            assert audience_authors == expected, (
                platform,
                sorted(audience_authors - expected)[:3],
                sorted(expected - audience_authors)[:3],
            )
            assert not audience_authors & under_other_key
            assert all(re.fullmatch(r"anon_[0-9a-f]{24}", a) for a in audience_authors)


def test_marts_have_no_personal_identifier_columns(day_run: DayRun) -> None:
    with psycopg.connect(day_run.url) as conn:
        columns = conn.execute(
            "select table_name, column_name from information_schema.columns "
            "where table_schema = 'marts'"
        ).fetchall()
    assert len({t for t, _ in columns}) > 5
    # an author/commenter/person column, a user id or name; platform_user_id (the mission's
    # own account, in dim_handles) and counts such as audience_comments are not personal
    personal = re.compile(
        r"(^|_)(author|authors|commenter|commenters|person|member)(_|$)|^user_|username|"
        r"user_name|email|^from_"
    )
    flagged = [f"marts.{t}.{c}" for t, c in columns if personal.search(c)]
    assert not flagged, f"columns that may hold personal identifiers: {flagged}"


def test_marts_hold_no_audience_identifier_values(day_run: DayRun, world: World) -> None:
    """Audience ids, usernames, names and their pseudonyms: none in any marts table."""
    dump = pg_dump(day_run.url, "--schema=marts")
    present = words(dump)
    truth = audience(world, DAY)
    for platform, people in truth.items():
        leaked = sorted((people["ids"] | people["usernames"]) & present)
        where = where_in_dump(dump, leaked[0].encode()) if leaked else []
        assert not leaked, f"{platform}: audience ids or usernames {leaked[:3]} in {where}"
        names = [n for n in people["names"] if n.encode() in dump]
        assert not names, f"{platform}: audience names in marts, e.g. {names[:3]}"
    pseudonyms = [w for w in present if re.fullmatch(r"anon_[0-9a-f]{24}", w)]
    assert not pseudonyms, f"commenter pseudonyms in marts, e.g. {pseudonyms[:3]}"
