"""X extracted in batches: a reply by a mission whose handle is in another batch is still a
mission's reply (kept, not pseudonymised), as when the whole day was one batch."""

from __future__ import annotations

import gzip
import json
from collections.abc import Mapping
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest

from extractors import x as x_extractor
from extractors.common.pseudonym import Pseudonymiser
from extractors.common.result import HandleRef
from extractors.common.window import Window
from extractors.x.extract import run

DAY = date(2026, 11, 20)
KEY = b"batches-key-for-the-x-extractor!"
USERS = {  # lower-cased username -> X user id
    "embassya": "100",
    "consulateb": "200",  # another batch, no platform_account_id in the registry
    "consulatec": "300",  # another batch, id known to the registry (no lookup)
}


class CannedX:
    """The few X v2 answers the run asks for: EmbassyA's one post and four replies to it."""

    def __init__(self) -> None:
        self.lookups: list[list[str]] = []

    def answer(self, path: str, params: Mapping[str, Any]) -> dict[str, Any]:
        if path == "/2/users/by":
            names = params["usernames"].split(",")
            self.lookups.append(names)
            return {
                "data": [
                    {"id": USERS[n.lower()], "username": n} for n in names if n.lower() in USERS
                ],
                "errors": [
                    {"value": n, "detail": "not found"} for n in names if n.lower() not in USERS
                ],
            }
        if path == "/2/users/100/tweets":
            return {"data": [post("10", "100", "10")]}
        if path.startswith("/2/tweets/search/"):
            return {
                "data": [
                    post("11", "200", "10", reply_to="100"),  # a mission of another batch
                    post("12", "300", "10", reply_to="200"),  # another, replying to the first
                    post("13", "999", "10", reply_to="100"),  # the audience
                    post("14", "100", "10", reply_to="999"),  # the batch's own mission
                ]
            }
        raise AssertionError(f"unexpected request {path}")


def post(tweet_id: str, author: str, conversation: str, reply_to: str | None = None) -> dict:
    tweet = {
        "id": tweet_id,
        "author_id": author,
        "conversation_id": conversation,
        "created_at": "2026-11-20T10:00:00.000Z",
        "text": "hello",
    }
    if reply_to:
        tweet["in_reply_to_user_id"] = reply_to
    return tweet


@pytest.fixture
def canned(monkeypatch: pytest.MonkeyPatch) -> CannedX:
    api = CannedX()

    def get_json(
        self: Any, path: str, params: Mapping[str, Any] | None = None, *, handle: str | None = None
    ) -> tuple[dict[str, Any], Mapping[str, str]]:
        self.stats.requests_by_handle[handle or ""] += 1
        return api.answer(path, dict(params or {})), {}

    monkeypatch.setattr("extractors.common.http.ApiClient.get_json", get_json)
    return api


def landed_comments(result: Any) -> list[dict[str, Any]]:
    data = gzip.decompress(Path(result.manifests["comments"].data_file).read_bytes())
    return [json.loads(line)["data"] for line in data.splitlines()]


def test_replies_of_missions_in_other_batches_keep_their_ids(
    canned: CannedX, tmp_path: Path
) -> None:
    pseudonym = Pseudonymiser(KEY)
    batch = [HandleRef("m-a", "EmbassyA")]
    missions = [
        *batch,
        HandleRef("m-b", "ConsulateB"),
        HandleRef("m-c", "ConsulateC", "300"),
        HandleRef("m-d", "GoneD"),  # not on X: its own batch records the failure
    ]
    client = x_extractor.make_client("http://x.invalid", "token")
    now = datetime(2026, 11, 21, 6, tzinfo=UTC)

    result = run(
        Window.for_day(DAY), batch, client, tmp_path, pseudonym, now=now, missions=missions
    )

    ids = {c["id"]: (c["author_id"], c["in_reply_to_user_id"]) for c in landed_comments(result)}
    assert ids["11"] == ("200", "100")
    assert ids["12"] == ("300", "200")
    assert ids["13"] == (pseudonym("x", "999"), "100")
    assert ids["14"] == ("100", pseudonym("x", "999"))
    # ConsulateC's id came from the registry; only the handles without one were looked up
    assert canned.lookups == [["EmbassyA"], ["ConsulateB", "GoneD"]]
    assert [f.handle for f in result.failures] == []  # GoneD is not this batch's failure


def test_without_the_other_batches_their_missions_would_be_audience(
    canned: CannedX, tmp_path: Path
) -> None:
    """What the batch lands when it knows only its own handles: the test above fails
    without ``missions`` (the ids of ConsulateB and ConsulateC are pseudonymised)."""
    pseudonym = Pseudonymiser(KEY)
    client = x_extractor.make_client("http://x.invalid", "token")
    now = datetime(2026, 11, 21, 6, tzinfo=UTC)

    result = run(
        Window.for_day(DAY), [HandleRef("m-a", "EmbassyA")], client, tmp_path, pseudonym, now=now
    )

    authors = {c["id"]: c["author_id"] for c in landed_comments(result)}
    assert authors["11"] == pseudonym("x", "200") and authors["12"] == pseudonym("x", "300")
