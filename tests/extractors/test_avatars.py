"""Profile pictures: each landed profile carries its picture's hashes, or why there are none."""

from __future__ import annotations

import importlib
import io
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
import requests
import responses
from PIL import Image

from extractors.common.avatar import AvatarFetcher, hamming, phash_hex, sha256_hex
from extractors.common.http import ApiClient, RetryPolicy
from extractors.common.landing import read_records
from extractors.common.pseudonym import Pseudonymiser
from extractors.common.result import HandleRef
from extractors.common.window import Window
from extractors.x import make_client as make_x_client
from missionpulse.registry import load_registry
from missionpulse.simulator.server import SimulatorServer, start_in_thread
from missionpulse.simulator.tokens import issue_token
from missionpulse.simulator.truth import default_as_of
from missionpulse.simulator.world import world_for

DAY = date(2025, 10, 8)
PSEUDONYM = Pseudonymiser(b"avatar-tests-key-0123456789abcdef")
CDN_URL = "https://pbs.twimg.com/profile_images/1/abc_normal.jpg"
SECRET = "bearer-secret-never-sent-to-a-cdn"
PLATFORMS = ("x", "facebook", "instagram", "youtube")


@pytest.fixture(scope="module")
def simulator() -> Iterator[SimulatorServer]:
    server = start_in_thread()
    yield server
    server.shutdown()


def _run(simulator: SimulatorServer, platform: str, tmp_path: Path, media_base: str) -> list[dict]:
    package = importlib.import_module(f"extractors.{platform}")
    refs = [
        HandleRef(h.mission_id, h.handle, h.platform_account_id)
        for h in load_registry().handles_for(platform, on=DAY)
    ][:12]
    client = package.make_client(simulator.base_url, issue_token(default_as_of(DAY)))
    client.media_base = media_base
    client._sleep = lambda seconds: None
    try:
        result = package.run(Window.for_day(DAY), refs, client, tmp_path, PSEUDONYM)
    finally:
        client.close()
    assert not [f for f in result.failures if f.stage != "profile"]  # only gone handles fail
    profiles = read_records(result.manifests["profiles"])
    assert profiles and result.stats["avatar_downloads"] + result.stats["avatar_errors"] == len(
        {p["avatar"]["url"] for p in profiles}
    )
    return profiles


@pytest.mark.parametrize("platform", PLATFORMS)
def test_a_run_lands_each_profiles_picture_hashes(
    simulator: SimulatorServer, platform: str, tmp_path: Path
) -> None:
    profiles = _run(simulator, platform, tmp_path, simulator.base_url + "/__media__")

    reference = phash_hex(load_registry().policy.avatar_reference_image.read_bytes())
    world = world_for()
    for profile in profiles:
        avatar = profile["avatar"]
        assert set(avatar) == {"url", "sha256", "phash", "error"}
        assert avatar["error"] is None and avatar["url"].startswith("https://")
        assert len(avatar["phash"]) == 16 and len(avatar["sha256"]) == 64
        account = world.account_by_handle(platform, profile["request"]["handle"])
        assert account is not None
        distance = hamming(avatar["phash"], reference)
        assert distance <= 10 if account.avatar_conforming else distance > 20


def test_the_url_is_the_one_the_api_gave(simulator: SimulatorServer, tmp_path: Path) -> None:
    for profile in _run(simulator, "x", tmp_path, simulator.base_url + "/__media__"):
        assert profile["avatar"]["url"] == profile["data"]["profile_image_url"]


def test_a_missing_picture_is_recorded_and_the_handle_still_lands(
    simulator: SimulatorServer, tmp_path: Path
) -> None:
    profiles = _run(simulator, "facebook", tmp_path, simulator.base_url + "/__media__/gone")
    for profile in profiles:
        avatar = profile["avatar"]
        assert avatar["phash"] is None and avatar["sha256"] is None
        assert "HTTP 404" in avatar["error"] and profile["data"]["id"]


def _client() -> ApiClient:
    client = make_x_client(
        "https://api.x.com", SECRET, retry=RetryPolicy(max_attempts=3, backoff_base_s=0.01)
    )
    client._sleep = lambda seconds: None
    return client


def _jpeg() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (48, 48), (10, 120, 30)).save(out, format="JPEG")
    return out.getvalue()


@responses.activate
def test_a_failing_cdn_is_retried_then_recorded_without_credentials() -> None:
    responses.get(CDN_URL, status=503, body="busy")
    client = _client()

    avatar = AvatarFetcher(client).describe(CDN_URL, "PakinUSA")

    assert avatar["phash"] is None and "HTTP 503" in avatar["error"]
    assert SECRET not in avatar["error"]
    assert client.stats.requests == 3 and client.stats.retries == 2
    for call in responses.calls:
        assert "Authorization" not in call.request.headers and SECRET not in call.request.url


@responses.activate
def test_a_picture_cut_short_is_fetched_again_and_each_url_once() -> None:
    image = _jpeg()
    responses.get(CDN_URL, body=image[: len(image) // 2], content_type="image/jpeg")
    responses.get(CDN_URL, body=image, content_type="image/jpeg")
    client = _client()
    fetcher = AvatarFetcher(client)

    first = fetcher.describe(CDN_URL, "PakinUSA")
    again = fetcher.describe(CDN_URL, "PakinUSA")

    assert (
        first
        == again
        == {
            "url": CDN_URL,
            "sha256": sha256_hex(image),
            "phash": phash_hex(image),
            "error": None,
        }
    )
    assert client.stats.requests == 2 and client.stats.retries == 1
    assert fetcher.stats() == {"avatar_downloads": 1, "avatar_errors": 0}


def test_a_profile_without_a_picture_says_so() -> None:
    avatar = AvatarFetcher(_client()).describe(None, "PakinUSA")
    assert avatar == {
        "url": None,
        "sha256": None,
        "phash": None,
        "error": "the profile carries no picture URL",
    }


def test_the_media_base_maps_cdn_urls_and_is_off_by_default() -> None:
    client = _client()
    assert client.media_url(CDN_URL) == CDN_URL
    client.media_base = "http://127.0.0.1:9/__media__/"
    assert client.media_url(CDN_URL + "?v=2") == (
        "http://127.0.0.1:9/__media__/pbs.twimg.com/profile_images/1/abc_normal.jpg?v=2"
    )
    assert requests.utils.urlparse(client.media_url(CDN_URL)).netloc == "127.0.0.1:9"
