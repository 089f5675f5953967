"""Profile pictures: the CDN URLs the APIs return are served, emblem or not as the truth says."""

from __future__ import annotations

import io
from collections.abc import Callable
from datetime import datetime

import pytest
import requests
from PIL import Image

from extractors.common.avatar import hamming, phash_hex
from missionpulse.registry import load_registry
from missionpulse.simulator.faults import RATE_LIMIT, SERVER_ERROR, Fault
from missionpulse.simulator.media import MEDIA_PREFIX, MediaApi, media_path
from missionpulse.simulator.messages import Request
from missionpulse.simulator.server import SimulatorServer
from missionpulse.simulator.tokens import issue_token
from missionpulse.simulator.truth import truth
from missionpulse.simulator.world import world_for
from tests.simulator.support import DAY, RUN_TIME
from tests.simulator.test_graph_api import IG_USER_ID, PAGE_ID, graph

PLATFORMS = ("x", "facebook", "instagram", "youtube")


def _reference() -> str:
    return phash_hex(load_registry().policy.avatar_reference_image.read_bytes())


def _media_api(simulator: SimulatorServer) -> MediaApi:
    return next(api for api in simulator.apis if isinstance(api, MediaApi))


def _get(simulator: SimulatorServer, url: str) -> requests.Response:
    return requests.get(simulator.base_url + media_path(url), timeout=10)


def test_every_served_picture_is_near_the_emblem_exactly_when_the_truth_says_so(
    simulator: SimulatorServer,
) -> None:
    reference = _reference()
    limit = load_registry().policy.avatar_max_hamming_distance
    media = _media_api(simulator)
    seen: dict[str, list[int]] = {"conforming": [], "other": []}
    for avatar in media._avatars().values():
        request = Request("GET", media_path(avatar.url), {}, {})
        response = media.respond(request, RUN_TIME)
        assert response.status == 200 and response.headers["content-type"] == "image/jpeg"
        distance = hamming(reference, phash_hex(response.body))
        seen["conforming" if avatar.account.avatar_conforming else "other"].append(distance)
    assert max(seen["conforming"]) <= limit
    assert min(seen["other"]) > 2 * limit  # far: a different picture, not a bad re-encoding
    total = len(seen["conforming"]) + len(seen["other"])
    assert 0.7 < len(seen["conforming"]) / total < 0.9


def test_the_truth_lists_each_profiles_avatar() -> None:
    world = world_for()
    for platform in PLATFORMS:
        found = truth(DAY)
        avatars = found["avatars"][platform]
        assert len(avatars["handles"]) == found["platforms"][platform]["profiles"]
        assert avatars["conforming"] == sum(avatars["handles"].values())
        for handle, conforming in avatars["handles"].items():
            account = world.account_by_handle(platform, handle)
            assert account is not None and account.avatar_conforming == conforming


def test_x_profile_image_url_is_served(
    simulator: SimulatorServer, x_session: Callable[..., requests.Session]
) -> None:
    body = (
        x_session()
        .get(
            f"{simulator.base_url}/2/users/by",
            params={"usernames": "PakinUSA", "user.fields": "profile_image_url"},
            timeout=10,
        )
        .json()
    )
    url = body["data"][0]["profile_image_url"]
    assert url.startswith("https://pbs.twimg.com/profile_images/")
    response = _get(simulator, url)
    assert response.status_code == 200 and response.headers["content-type"] == "image/jpeg"
    assert phash_hex(response.content)  # a readable image


def test_facebook_page_picture_and_instagram_profile_picture_are_served(
    simulator: SimulatorServer,
) -> None:
    page = graph(simulator.base_url, PAGE_ID, fields="picture{url}").json()
    assert set(page["picture"]) == {"data"} and set(page["picture"]["data"]) == {"url"}
    user = graph(simulator.base_url, IG_USER_ID, fields="profile_picture_url").json()
    for url in (page["picture"]["data"]["url"], user["profile_picture_url"]):
        assert url.startswith("https://scontent.xx.fbcdn.net/")
        assert _get(simulator, url).status_code == 200


def test_youtube_channel_thumbnails_are_served_at_their_sizes(simulator: SimulatorServer) -> None:
    channel = requests.get(
        f"{simulator.base_url}/youtube/v3/channels",
        params={"part": "snippet", "forHandle": "@PakCGNewYork", "key": issue_token(RUN_TIME)},
        timeout=10,
    ).json()["items"][0]
    for thumbnail in channel["snippet"]["thumbnails"].values():
        response = _get(simulator, thumbnail["url"])
        assert response.status_code == 200
        with Image.open(io.BytesIO(response.content)) as image:
            assert image.size == (thumbnail["width"], thumbnail["height"])


def test_unknown_pictures_are_404_and_faults_look_like_a_cdns(simulator: SimulatorServer) -> None:
    missing = requests.get(
        f"{simulator.base_url}{MEDIA_PREFIX}pbs.twimg.com/profile_images/1/nothing_normal.jpg",
        timeout=10,
    )
    assert missing.status_code == 404
    media = _media_api(simulator)
    request = Request("GET", f"{MEDIA_PREFIX}pbs.twimg.com/x.jpg", {}, {})
    throttled = media.fault_response(Fault(RATE_LIMIT, 7), request)
    assert throttled.status == 429 and throttled.headers["retry-after"] == "1"
    assert media.fault_response(Fault(SERVER_ERROR, 2), request).status >= 500


@pytest.mark.parametrize("platform", PLATFORMS)
def test_pictures_do_not_depend_on_the_clock(simulator: SimulatorServer, platform: str) -> None:
    media = _media_api(simulator)
    avatar = next(a for a in media._avatars().values() if a.account.platform == platform)
    request = Request("GET", media_path(avatar.url), {}, {})
    first = media.respond(request, RUN_TIME)
    assert media.respond(request, datetime(2026, 1, 1)).body == first.body
