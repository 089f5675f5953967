"""Field expansion in the Graph extractors: comments come inside the posts list, nested
pages are followed when (and only when) a post has more, and the landed data is unchanged."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path
from types import ModuleType

import pytest

import extractors.facebook.extract as facebook
import extractors.instagram.extract as instagram
from extractors.common.graph import expand, expanded_items, without_rows
from extractors.common.http import RetryPolicy
from extractors.common.landing import read_records
from extractors.common.pseudonym import Pseudonymiser
from extractors.common.result import ExtractResult, HandleRef
from extractors.common.window import Window
from missionpulse.registry import load_registry
from missionpulse.simulator.server import SimulatorServer, start_in_thread
from missionpulse.simulator.tokens import issue_token
from missionpulse.simulator.truth import default_as_of
from missionpulse.simulator.world import to_ms, world_for
from missionpulse.simulator.world_graph import platform_truth

DAY = date(2025, 10, 8)
PSEUDONYM = Pseudonymiser(b"expansion-tests-key-0123456789ab")


@pytest.fixture(scope="module")
def simulator() -> Iterator[SimulatorServer]:
    server = start_in_thread()
    yield server
    server.shutdown()


def _run(
    server: SimulatorServer, package: ModuleType, tmp_path: Path, how_many: int
) -> tuple[ExtractResult, list[str]]:
    platform = package.PLATFORM
    refs = [
        HandleRef(h.mission_id, h.handle, h.platform_account_id)
        for h in load_registry().handles_for(platform, on=DAY)
    ][:how_many]
    client = package.make_client(
        server.base_url,
        issue_token(default_as_of(DAY)),
        retry=RetryPolicy(max_attempts=3, backoff_base_s=0.01),
    )
    client.media_base = server.base_url + "/__media__"
    try:
        result = package.run(Window.for_day(DAY), refs, client, tmp_path, PSEUDONYM)
    finally:
        client.close()
    reachable = [r.handle for r in refs if platform == "facebook" or r.account_id]
    return result, reachable


@pytest.mark.parametrize("package", [facebook, instagram], ids=["facebook", "instagram"])
def test_small_nested_pages_are_followed_to_exactly_the_truth(
    simulator: SimulatorServer, package: ModuleType, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(package, "PAGE_SIZE", 3)  # most posts then need their own pages
    result, reachable = _run(simulator, package, tmp_path, 12)

    expected = platform_truth(
        world_for(), package.PLATFORM, DAY, to_ms(default_as_of(DAY)), reachable
    )
    landed = {entity: manifest.rows for entity, manifest in result.manifests.items()}
    assert {k: landed[k] for k in ("profiles", "posts", "comments")} == {
        k: expected[k] for k in ("profiles", "posts", "comments")
    }


@pytest.mark.parametrize("package", [facebook, instagram], ids=["facebook", "instagram"])
def test_a_handle_costs_a_few_requests_and_posts_land_without_comment_rows(
    simulator: SimulatorServer, package: ModuleType, tmp_path: Path
) -> None:
    result, reachable = _run(simulator, package, tmp_path, 20)

    # profile, posts page(s), insights, picture; Instagram: insights per media of two days
    assert result.stats["requests"] <= 12 * len(reachable)
    for post in read_records(result.manifests["posts"]):
        comments = post["data"].get("comments")
        assert comments is None or comments["data"] == []
        if package is facebook:
            assert comments is not None and comments["summary"]["total_count"] >= 0


def test_expand_and_strip_helpers() -> None:
    assert expand("comments", "id,message", filter="stream", limit=100) == (
        "comments.filter(stream).limit(100){id,message}"
    )
    post = {"id": "1", "comments": {"data": [{"id": "c"}], "summary": {"total_count": 1}}}
    assert without_rows(post, "comments") == {
        "id": "1",
        "comments": {"data": [], "summary": {"total_count": 1}},
    }
    assert without_rows({"id": "2", "comments": {"data": []}}, "comments") == {"id": "2"}
    assert list(expanded_items(None, {"id": "3"}, "comments", handle="h")) == []  # type: ignore[arg-type]
