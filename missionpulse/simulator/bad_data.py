"""The ``bad-data`` fault profile: answers that are well-formed HTTP but carry bad data.

Transient faults test the extractors; these test the data-quality gate. Every answer is
served with status 200 in the platform's own wire format, and some of the objects in it
are corrupted in one of the :data:`CATALOGUE`'s kinds. Which objects is decided by a
stable hash of the object's id and the kind, so a run is reproducible and every kind turns
up on every day that has data. Each kind names the expectation that must catch it (suite
and expectation name, see ``expectations/``); ``tests/expectations/test_bad_data.py``
checks each one, and ``tests/pipeline/test_bad_data_e2e.py`` that none reaches the marts.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from missionpulse.simulator.faults import BAD_DATA
from missionpulse.simulator.messages import Request, Response, json_response
from missionpulse.simulator.world import stable_int

__all__ = ["BAD_DATA", "CATALOGUE", "KINDS", "corrupt", "corrupt_objects"]


@dataclass(frozen=True)
class Anomaly:
    kind: str
    suite: str
    expectation: str
    what: str


CATALOGUE: tuple[Anomaly, ...] = (
    Anomaly("null_id", "raw__x__posts", "post_id_not_null", "a post without an id"),
    Anomaly("duplicate_id", "raw__x__posts", "post_id_unique", "the same post twice in a page"),
    Anomaly("negative_count", "raw__x__posts", "like_count_non_negative", "likes below zero"),
    Anomaly("wrong_type", "raw__x__posts", "retweet_count_is_number", "a count sent as '1.2K'"),
    Anomaly(
        "unknown_handle", "raw__x__posts", "author_in_registry", "a post by an account not ours"
    ),
    Anomaly(
        "truncated_payload", "raw__x__posts", "payload_complete", "a post cut short (no metrics)"
    ),
    Anomaly(
        "future_timestamp", "raw__x__comments", "created_at_not_in_future", "a reply from 2027+"
    ),
    Anomaly(
        "outside_window", "raw__x__comments", "created_at_in_interval", "a reply of another day"
    ),
    Anomaly("empty_text", "raw__x__comments", "text_not_empty", "a reply with no text"),
    Anomaly(
        "unparseable_timestamp", "raw__x__comments", "created_at_parses", "created_at='yesterday'"
    ),
    Anomaly(
        "followers_jump",
        "raw__x__profiles",
        "followers_plausible_change",
        "followers x40 overnight",
    ),
    Anomaly(
        "negative_count_facebook",
        "raw__facebook__posts",
        "reaction_count_non_negative",
        "a Page post with negative reactions",
    ),
    Anomaly(
        "negative_count_instagram",
        "raw__instagram__posts",
        "like_count_non_negative",
        "a media with negative likes",
    ),
    Anomaly(
        "wrong_type_youtube",
        "raw__youtube__posts",
        "view_count_is_number",
        "a video whose viewCount is not a number",
    ),
)
KINDS = {a.kind: a for a in CATALOGUE}

UNKNOWN_AUTHOR_ID = "999999999999999999"

Corruption = Callable[[dict[str, Any]], None]


def _picked(kind: str, key: object, one_in: int) -> bool:
    return stable_int("bad-data", kind, key) % one_in == 0


def _shift(value: Any, delta: timedelta) -> Any:
    try:
        moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return value
    return (moment + delta).isoformat().replace("+00:00", "Z")


# what each kind does to one object of the wire format ------------------------------------


def null_id(obj: dict[str, Any]) -> None:
    obj["id"] = None


def negative_count(obj: dict[str, Any]) -> None:
    obj.setdefault("public_metrics", {})["like_count"] = -7


def wrong_type(obj: dict[str, Any]) -> None:
    obj.setdefault("public_metrics", {})["retweet_count"] = "1.2K"


def unknown_handle(obj: dict[str, Any]) -> None:
    obj["author_id"] = UNKNOWN_AUTHOR_ID


def truncated_payload(obj: dict[str, Any]) -> None:
    for name in ("public_metrics", "lang", "edit_history_tweet_ids"):
        obj.pop(name, None)


def future_timestamp(obj: dict[str, Any]) -> None:
    obj["created_at"] = _shift(obj.get("created_at"), timedelta(days=400))


def outside_window(obj: dict[str, Any]) -> None:
    obj["created_at"] = _shift(obj.get("created_at"), -timedelta(days=3))


def empty_text(obj: dict[str, Any]) -> None:
    obj["text"] = ""


def unparseable_timestamp(obj: dict[str, Any]) -> None:
    obj["created_at"] = "yesterday"


def followers_jump(obj: dict[str, Any]) -> None:
    metrics = obj.setdefault("public_metrics", {})
    metrics["followers_count"] = int(metrics.get("followers_count") or 1000) * 40 + 1000


def negative_count_facebook(obj: dict[str, Any]) -> None:
    obj.setdefault("reactions", {}).setdefault("summary", {})["total_count"] = -3


def negative_count_instagram(obj: dict[str, Any]) -> None:
    obj["like_count"] = -11


def wrong_type_youtube(obj: dict[str, Any]) -> None:
    obj.setdefault("statistics", {})["viewCount"] = "about 2,000"


CORRUPTIONS: dict[str, Corruption] = {
    "null_id": null_id,
    "negative_count": negative_count,
    "wrong_type": wrong_type,
    "unknown_handle": unknown_handle,
    "truncated_payload": truncated_payload,
    "future_timestamp": future_timestamp,
    "outside_window": outside_window,
    "empty_text": empty_text,
    "unparseable_timestamp": unparseable_timestamp,
    "followers_jump": followers_jump,
    "negative_count_facebook": negative_count_facebook,
    "negative_count_instagram": negative_count_instagram,
    "wrong_type_youtube": wrong_type_youtube,
}


# which objects of which answers ---------------------------------------------------------

# (path pattern, key of the object list, [(kind, one in N objects)])
_X_POSTS = (
    ("null_id", 9),
    ("negative_count", 9),
    ("wrong_type", 9),
    ("unknown_handle", 9),
    ("truncated_payload", 9),
)
_X_COMMENTS = (
    ("future_timestamp", 40),
    ("outside_window", 40),
    ("empty_text", 40),
    ("unparseable_timestamp", 40),
)
_RULES: tuple[tuple[re.Pattern[str], str, tuple[tuple[str, int], ...]], ...] = (
    (re.compile(r"/2/users/[^/]+/tweets"), "data", _X_POSTS),
    (re.compile(r"/2/tweets/search/(recent|all)"), "data", _X_COMMENTS),
    (re.compile(r"/2/users/by"), "data", (("followers_jump", 3),)),
    (
        re.compile(r"/v[\d.]+/[^/]+/(published_posts|posts)"),
        "data",
        (("negative_count_facebook", 5),),
    ),
    (re.compile(r"/v[\d.]+/[^/]+/media"), "data", (("negative_count_instagram", 5),)),
    (re.compile(r"/youtube/v3/videos"), "items", (("wrong_type_youtube", 5),)),
)
DUPLICATE_ONE_IN = 9


def corrupt_objects(path: str, payload: dict[str, Any]) -> list[str]:
    """Corrupt the objects of one decoded answer in place; returns the kinds applied."""
    applied: list[str] = []
    for pattern, key, kinds in _RULES:
        if not pattern.fullmatch(path):
            continue
        objects = payload.get(key)
        if not isinstance(objects, list):
            continue
        copies = []
        for obj in objects:
            if not isinstance(obj, dict):
                continue
            key_id = obj.get("id")
            # one kind per object: each is caught for its own reason
            kind = next((k for k, one_in in kinds if _picked(k, key_id, one_in)), None)
            if kind is not None:
                CORRUPTIONS[kind](obj)
                applied.append(kind)
            elif pattern is _RULES[0][0] and _picked("duplicate_id", key_id, DUPLICATE_ONE_IN):
                copies.append(json.loads(json.dumps(obj)))
                applied.append("duplicate_id")
        objects.extend(copies)
    return applied


def corrupt(request: Request, response: Response) -> Response:
    """The answer with bad data in it (only successful JSON answers are touched)."""
    if response.status != 200:
        return response
    try:
        payload = json.loads(response.body)
    except ValueError:
        return response
    if not isinstance(payload, dict) or not corrupt_objects(request.path, payload):
        return response
    headers = {k: v for k, v in response.headers.items() if k.lower() != "content-length"}
    return json_response(200, payload, headers)
