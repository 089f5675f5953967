"""The key behind commenters' pseudonyms: where it comes from, that it is never committed,
and that the pseudonyms the extractors land change completely when it changes.

A deployment sets ``MISSIONPULSE_PSEUDONYM_KEY`` from its secret store. Without it the
embedded default generates a random key once into ``<state dir>/secrets/pseudonym.key``
(mode 0600, folder 0700); there is no default key in the code, and the state dir is
ignored by git.
"""

from __future__ import annotations

import gzip
import hashlib
import hmac
import json
import stat
import subprocess
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from extractors import x as x_extractor
from extractors.common.pseudonym import Pseudonymiser
from extractors.common.result import HandleRef
from extractors.common.window import Window
from missionpulse import platforms, settings
from missionpulse.platforms import RUN_LAG
from missionpulse.registry import load_registry
from missionpulse.simulator.media import MEDIA_PREFIX
from missionpulse.simulator.server import SimulatorServer, start_in_thread
from missionpulse.simulator.tokens import issue_token
from missionpulse.simulator.world import world_for
from tests.security.support import small_config

DAY = datetime.now(UTC).date() - timedelta(days=2)
KEY_A = b"first-key-for-the-pseudonym-test"
KEY_B = b"second-key-for-the-pseudonym-tst"


@pytest.fixture
def state_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("MISSIONPULSE_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.delenv("MISSIONPULSE_PSEUDONYM_KEY", raising=False)
    return tmp_path / "state"


def test_without_the_variable_a_random_key_is_generated_privately(
    state_dir: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    first = platforms.pseudonymiser()
    key_file = state_dir / "secrets" / "pseudonym.key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert stat.S_IMODE(key_file.parent.stat().st_mode) == 0o700
    key = key_file.read_text().strip()
    assert len(bytes.fromhex(key)) == 32  # 256 random bits
    assert first("x", "12345") == platforms.pseudonymiser()("x", "12345")  # kept, not renewed
    # another state dir, another key: nothing in the code decides it
    monkeypatch.setenv("MISSIONPULSE_STATE_DIR", str(tmp_path / "other"))
    assert platforms.pseudonymiser()("x", "12345") != first("x", "12345")
    assert (tmp_path / "other" / "secrets" / "pseudonym.key").read_text().strip() != key


def test_the_variable_wins_and_must_be_long(
    state_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MISSIONPULSE_PSEUDONYM_KEY", KEY_A.decode())
    expected = "anon_" + hmac.new(KEY_A, b"x:12345", hashlib.sha256).hexdigest()[:24]
    assert platforms.pseudonymiser()("x", "12345") == expected
    assert not (state_dir / "secrets" / "pseudonym.key").exists()  # nothing written
    monkeypatch.setenv("MISSIONPULSE_PSEUDONYM_KEY", "short")
    with pytest.raises(ValueError, match="MISSIONPULSE_PSEUDONYM_KEY"):
        platforms.pseudonymiser()


def test_no_key_is_committed() -> None:
    root = settings.project_root()
    tracked = subprocess.run(
        ["git", "ls-files"], cwd=root, capture_output=True, text=True, check=True
    ).stdout.splitlines()
    assert tracked
    assert not [p for p in tracked if p.endswith(".key") or "/secrets/" in f"/{p}"]
    assert not [p for p in tracked if p.startswith(".missionpulse/")]
    ignored = subprocess.run(
        ["git", "check-ignore", "--no-index", "-q", ".missionpulse/secrets/pseudonym.key"],
        cwd=root,
    )
    assert ignored.returncode == 0, "the default state dir (and its key) must be git-ignored"


# --- the extractor's pseudonyms under two keys ------------------------------------------


@pytest.fixture(scope="module")
def simulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[SimulatorServer, Path]]:
    config = small_config(tmp_path_factory.mktemp("pseudonym") / "config", 3)
    server = start_in_thread(faults="none", registry=load_registry(config))
    yield server, config
    server.shutdown()


def landed_authors(
    server: SimulatorServer, config: Path, key: bytes, landing: Path, day: date
) -> list[str]:
    """Extract X for ``day`` against the simulator with ``key``; the comments' author ids."""
    registry = load_registry(config)
    window = Window.for_day(day)
    client = x_extractor.make_client(server.base_url, issue_token(window.end + RUN_LAG))
    client.media_base = server.base_url + MEDIA_PREFIX.rstrip("/")
    handles = [
        HandleRef(h.mission_id, h.handle, h.platform_account_id)
        for h in registry.handles_for("x", on=day)
    ]
    try:
        result = x_extractor.run(window, handles, client, landing, Pseudonymiser(key))
    finally:
        client.close()
    data = gzip.decompress(Path(result.manifests["comments"].data_file).read_bytes())
    return [json.loads(line)["data"]["author_id"] for line in data.splitlines()]


def test_pseudonyms_change_completely_with_the_key(
    simulator: tuple[SimulatorServer, Path], tmp_path: Path
) -> None:
    server, config = simulator
    world = world_for(load_registry(config))
    mission_ids = {a.uid for a in world.accounts("x")}
    audience = {
        c.author.uid
        for account in world.accounts("x")
        for c in world.comments_on(account, DAY)
        if c.author is not None
    }
    under_a = landed_authors(server, config, KEY_A, tmp_path / "a", DAY)
    under_b = landed_authors(server, config, KEY_B, tmp_path / "b", DAY)
    assert audience and len(under_a) == len(under_b)
    audience_a = {a for a in under_a if a not in mission_ids}
    audience_b = {b for b in under_b if b not in mission_ids}
    assert audience_a == {Pseudonymiser(KEY_A)("x", uid) for uid in audience}
    assert audience_b == {Pseudonymiser(KEY_B)("x", uid) for uid in audience}
    assert not audience_a & audience_b  # a new key links nothing to the old pseudonyms
    assert not audience & (set(under_a) | set(under_b))  # and no real id was landed
