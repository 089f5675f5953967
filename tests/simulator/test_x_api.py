"""X API v2 on the wire: paths, parameters, pagination, errors, headers, clock, faults."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests

from missionpulse.simulator.faults import RESET, SERVER_ERROR, FaultProfile
from missionpulse.simulator.server import SimulatorServer, start_in_thread
from missionpulse.simulator.world import world_for
from missionpulse.simulator.x_api import comment_id, post_id
from tests.simulator.support import DAY, DAY_START, RUN_TIME, day_bounds, rfc3339

Session = Callable[..., requests.Session]
INVALID = "https://api.twitter.com/2/problems/invalid-request"


def _user(simulator: SimulatorServer, session: requests.Session, handle: str) -> dict[str, Any]:
    response = session.get(f"{simulator.base_url}/2/users/by", params={"usernames": handle})
    return response.json()["data"][0]


def _walk(
    session: requests.Session, url: str, params: dict[str, Any], token: str
) -> list[dict[str, Any]]:
    pages = []
    while True:
        response = session.get(url, params=params)
        assert response.status_code == 200, response.text
        pages.append(response.json())
        next_token = pages[-1]["meta"].get("next_token")
        if not next_token:
            return pages
        params = {**params, token: next_token}


def test_users_by_returns_found_users_and_errors_for_the_rest(
    simulator: SimulatorServer, x_session: Session
) -> None:
    response = x_session().get(
        f"{simulator.base_url}/2/users/by",
        params={"usernames": "pakinuk,PakEmbCairo,no_such_user"},
    )
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json; charset=utf-8"
    body = response.json()
    assert [set(u) for u in body["data"]] == [{"id", "name", "username"}]  # defaults only
    assert body["data"][0]["username"] == "PakinUK" and body["data"][0]["id"].isdigit()
    assert body["errors"] == [
        {
            "value": name,
            "detail": f"Could not find user with usernames: [{name}].",
            "title": "Not Found Error",
            "resource_type": "user",
            "parameter": "usernames",
            "resource_id": name,
            "type": "https://api.twitter.com/2/problems/resource-not-found",
        }
        for name in ("PakEmbCairo", "no_such_user")
    ]


def test_user_fields_wrap_links_and_keep_them_in_entities(
    simulator: SimulatorServer, x_session: Session
) -> None:
    fields = "created_at,description,entities,public_metrics,url,verified,verified_type,location"
    response = x_session().get(
        f"{simulator.base_url}/2/users/by",
        params={
            "usernames": ",".join(a.handle for a in world_for().accounts("x")[:100]),
            "user.fields": fields,
        },
    )
    users = response.json()["data"]
    assert all(set(u) >= {"created_at", "public_metrics", "verified", "url"} for u in users)
    assert all(set(u["public_metrics"]) >= {"followers_count", "tweet_count"} for u in users)
    linked = [u for u in users if "description" in u.get("entities", {})]
    assert linked and all("mofa.gov.pk" not in u["description"] for u in linked)
    expanded = {x["expanded_url"] for u in linked for x in u["entities"]["description"]["urls"]}
    assert expanded == {"https://mofa.gov.pk"}
    assert 0.6 < sum(u["verified"] for u in users) / len(users) < 1


def test_bad_parameters_get_xs_invalid_request_body(
    simulator: SimulatorServer, x_session: Session
) -> None:
    session = x_session()
    response = session.get(
        f"{simulator.base_url}/2/users/by", params={"usernames": "PakinUK", "foo": "bar"}
    )
    assert response.status_code == 400
    assert response.json() == {
        "errors": [
            {
                "parameters": {"foo": ["bar"]},
                "message": "The query parameter [foo] is not one of "
                "[usernames,expansions,tweet.fields,user.fields]",
            }
        ],
        "title": "Invalid Request",
        "detail": "One or more parameters to your request was invalid.",
        "type": INVALID,
    }
    too_many = ",".join(f"user{i}" for i in range(101))
    response = session.get(f"{simulator.base_url}/2/users/by", params={"usernames": too_many})
    assert response.status_code == 400 and response.json()["type"] == INVALID
    uid = _user(simulator, session, "PakinUK")["id"]
    for params in (
        {"max_results": 4},
        {"max_results": 101},
        {"tweet.fields": "colour"},
        {"start_time": "yesterday"},
    ):
        response = session.get(f"{simulator.base_url}/2/users/{uid}/tweets", params=params)
        assert response.status_code == 400, params
        assert response.json()["errors"][0]["parameters"] == {
            next(iter(params)): [str(next(iter(params.values())))]
        }


def test_no_authorization_gets_401(simulator: SimulatorServer) -> None:
    response = requests.get(f"{simulator.base_url}/2/users/by", params={"usernames": "PakinUK"})
    assert response.status_code == 401
    assert response.json() == {
        "title": "Unauthorized",
        "type": "about:blank",
        "status": 401,
        "detail": "Unauthorized",
    }


def test_every_answer_carries_rate_limit_headers(
    simulator: SimulatorServer, x_session: Session
) -> None:
    session = x_session()
    first = session.get(f"{simulator.base_url}/2/users/by", params={"usernames": "PakinUK"})
    second = session.get(f"{simulator.base_url}/2/users/by", params={"usernames": "PakinUSA"})
    assert int(first.headers["x-rate-limit-limit"]) >= 300
    assert (
        int(second.headers["x-rate-limit-remaining"])
        == int(first.headers["x-rate-limit-remaining"]) - 1
    )
    reset = int(first.headers["x-rate-limit-reset"])
    assert 0 < reset - datetime.now(UTC).timestamp() <= 900


def test_spending_the_window_gets_429_until_the_reset(x_session: Session) -> None:
    server = start_in_thread(x_rate_limits={"/2/users/by": 2})
    try:
        session = x_session()
        statuses = [
            session.get(f"{server.base_url}/2/users/by", params={"usernames": "PakinUK"})
            for _ in range(3)
        ]
        assert [r.status_code for r in statuses] == [200, 200, 429]
        assert statuses[2].json()["title"] == "Too Many Requests"
        assert statuses[2].headers["x-rate-limit-remaining"] == "0"
        other = x_session().get(f"{server.base_url}/2/users/by", params={"usernames": "PakinUK"})
        assert other.status_code == 200  # limits are per token
    finally:
        server.shutdown()


def test_timeline_pages_newest_first_with_next_token(
    simulator: SimulatorServer, x_session: Session
) -> None:
    session = x_session()
    user = _user(simulator, session, "PakinUSA")
    start, end = day_bounds()
    params = {
        "max_results": 5,
        "start_time": start,
        "end_time": end,
        "tweet.fields": "created_at,conversation_id,referenced_tweets",
    }
    pages = _walk(
        session, f"{simulator.base_url}/2/users/{user['id']}/tweets", params, "pagination_token"
    )
    tweets = [t for page in pages for t in page["data"]]
    assert len(pages) > 1 and all(p["meta"]["result_count"] == len(p["data"]) <= 5 for p in pages)
    assert "next_token" not in pages[-1]["meta"]
    ids = [int(t["id"]) for t in tweets]
    assert ids == sorted(ids, reverse=True) and len(set(ids)) == len(ids)
    assert all(start <= t["created_at"] < end for t in tweets)
    assert pages[0]["meta"]["newest_id"] == tweets[0]["id"]
    world = world_for()
    account = world.account_by_handle("x", "PakinUSA")
    assert account is not None
    expected = {post_id(p.ref) for p in world.posts_on(account, DAY)}
    expected |= {comment_id(c) for c in world.answers_on(account, DAY)}
    assert {t["id"] for t in tweets} == expected
    originals = _walk(
        session,
        f"{simulator.base_url}/2/users/{user['id']}/tweets",
        {**params, "exclude": "replies,retweets"},
        "pagination_token",
    )
    assert {t["id"] for p in originals for t in p["data"]} == {
        post_id(p.ref) for p in world.posts_on(account, DAY)
    }


def test_empty_timeline_and_unknown_user(simulator: SimulatorServer, x_session: Session) -> None:
    session = x_session()
    user = _user(simulator, session, "PakinUK")
    response = session.get(
        f"{simulator.base_url}/2/users/{user['id']}/tweets",
        params={"start_time": "2012-01-01T00:00:00Z", "end_time": "2012-01-02T00:00:00Z"},
    )
    assert response.json() == {"meta": {"result_count": 0}}
    response = session.get(f"{simulator.base_url}/2/users/12345/tweets")
    assert response.status_code == 200
    assert response.json()["errors"][0]["detail"] == "Could not find user with id: [12345]."


def _conversations(simulator: SimulatorServer, session: requests.Session, handle: str) -> list[str]:
    user = _user(simulator, session, handle)
    start, end = day_bounds()
    params = {"max_results": 100, "start_time": start, "end_time": end, "exclude": "replies"}
    pages = _walk(
        session, f"{simulator.base_url}/2/users/{user['id']}/tweets", params, "pagination_token"
    )
    return [t["id"] for p in pages for t in p.get("data", [])]


def test_search_with_or_query_pages_through_the_replies(
    simulator: SimulatorServer, x_session: Session
) -> None:
    session = x_session()
    conversations = _conversations(simulator, session, "PakinUK")[:6]
    query = "(" + " OR ".join(f"conversation_id:{c}" for c in conversations) + ") is:reply"
    start, _ = day_bounds()
    params = {
        "query": query,
        "start_time": start,
        "end_time": rfc3339(RUN_TIME - timedelta(minutes=1)),
        "max_results": 10,
        "tweet.fields": "author_id,conversation_id,in_reply_to_user_id,referenced_tweets",
        "expansions": "author_id",
        "user.fields": "username,created_at",
    }
    pages = _walk(session, f"{simulator.base_url}/2/tweets/search/recent", params, "next_token")
    replies = [t for p in pages for t in p["data"]]
    assert len(pages) > 1 and all(len(p["data"]) <= 10 for p in pages)
    ids = [int(t["id"]) for t in replies]
    assert ids == sorted(ids, reverse=True) and len(set(ids)) == len(ids)
    assert {t["conversation_id"] for t in replies} <= set(conversations)
    assert not set(conversations) & {
        t["id"] for t in replies
    }  # the posts themselves are not replies
    authors = {u["id"] for p in pages for u in p["includes"]["users"]}
    assert {t["author_id"] for t in replies} <= authors
    world = world_for()
    account = world.account_by_handle("x", "PakinUK")
    assert account is not None
    start_ms, end_ms = (
        int(m.timestamp() * 1000) for m in (DAY_START, RUN_TIME - timedelta(minutes=1))
    )
    expected = {
        comment_id(c)
        for post in world.posts_on(account, DAY)
        if post_id(post.ref) in conversations
        for c in world.comments_of(post)
        if start_ms <= c.created_ms < end_ms
    }
    assert {t["id"] for t in replies} == expected
    assert all(
        t["text"].startswith("@") and t["referenced_tweets"][0]["type"] == "replied_to"
        for t in replies
    )


def test_search_refuses_what_x_refuses(simulator: SimulatorServer, x_session: Session) -> None:
    session = x_session()
    url = f"{simulator.base_url}/2/tweets/search/recent"
    too_old = session.get(
        url, params={"query": "conversation_id:1", "start_time": "2025-09-30T00:00:00Z"}
    )
    assert too_old.status_code == 400
    assert too_old.json()["errors"][0]["message"] == (
        "Invalid 'start_time':'2025-09-30T00:00Z'. "
        "'start_time' must be on or after 2025-10-02T02:00Z"
    )
    too_new = session.get(url, params={"query": "conversation_id:1", "end_time": rfc3339(RUN_TIME)})
    assert too_new.status_code == 400
    assert (
        "must be a minimum of 10 seconds prior to the request time"
        in too_new.json()["errors"][0]["message"]
    )
    too_long = session.get(
        url, params={"query": " OR ".join(["conversation_id:1975712731684390982"] * 14)}
    )
    assert too_long.status_code == 400 and too_long.json()["type"] == INVALID
    assert (
        session.get(url, params={"query": "conversation_id:1", "max_results": "5"}).status_code
        == 400
    )
    assert session.get(url, params={"query": "has:media conversation_id:1"}).status_code == 400
    nothing = session.get(url, params={"query": "conversation_id:1000000000000000000"})
    assert nothing.json() == {"meta": {"result_count": 0}}


def test_full_archive_search_needs_pro_access(x_session: Session) -> None:
    server = start_in_thread(x_full_archive=False)
    try:
        response = x_session().get(
            f"{server.base_url}/2/tweets/search/all", params={"query": "from:PakinUK"}
        )
        assert response.status_code == 403
        assert response.json()["reason"] == "client-not-enrolled"
    finally:
        server.shutdown()


def test_archive_search_reaches_past_the_week(
    simulator: SimulatorServer, x_session: Session
) -> None:
    session = x_session(RUN_TIME + timedelta(days=30))
    start, end = day_bounds()
    params: dict[str, Any] = {"query": "to:PakinUK", "start_time": start, "end_time": end}
    recent = session.get(f"{simulator.base_url}/2/tweets/search/recent", params=params)
    assert recent.status_code == 400
    pages = _walk(session, f"{simulator.base_url}/2/tweets/search/all", params, "next_token")
    assert sum(p["meta"]["result_count"] for p in pages) > 0


def test_the_tokens_clock_hides_the_future(simulator: SimulatorServer, x_session: Session) -> None:
    start, end = day_bounds()
    noon = datetime(2025, 10, 8, 12, 0, tzinfo=UTC)
    fields: dict[str, Any] = {
        "start_time": start,
        "end_time": end,
        "max_results": 100,
        "exclude": "replies",
        "tweet.fields": "created_at,public_metrics",
    }
    early, late = x_session(noon), x_session(RUN_TIME)
    uid = _user(simulator, late, "PakinUSA")["id"]
    seen_early = early.get(f"{simulator.base_url}/2/users/{uid}/tweets", params=fields).json()
    seen_late = late.get(f"{simulator.base_url}/2/users/{uid}/tweets", params=fields).json()
    assert all(t["created_at"] < "2025-10-08T12:00" for t in seen_early.get("data", []))
    assert seen_late["meta"]["result_count"] > seen_early["meta"].get("result_count", 0)
    before = {t["id"]: t["public_metrics"] for t in seen_early.get("data", [])}
    after = {t["id"]: t["public_metrics"] for t in seen_late["data"]}
    assert before and all(
        after[i]["impression_count"] >= m["impression_count"] for i, m in before.items()
    )
    assert any(after[i]["reply_count"] > m["reply_count"] for i, m in before.items())


def test_reply_count_matches_the_replies_visible(
    simulator: SimulatorServer, x_session: Session
) -> None:
    session = x_session()
    uid = _user(simulator, session, "PakinUK")["id"]
    start, end = day_bounds()
    posts = session.get(
        f"{simulator.base_url}/2/users/{uid}/tweets",
        params={
            "start_time": start,
            "end_time": end,
            "exclude": "replies",
            "tweet.fields": "public_metrics",
        },
    ).json()["data"][:3]
    for post in posts:
        pages = _walk(
            session,
            f"{simulator.base_url}/2/tweets/search/recent",
            {
                "query": f"conversation_id:{post['id']}",
                "start_time": start,
                "max_results": 100,
                "tweet.fields": "in_reply_to_user_id",
            },
            "next_token",
        )
        direct = [t for p in pages for t in p.get("data", []) if t["in_reply_to_user_id"] == uid]
        assert post["public_metrics"]["reply_count"] == len(direct)


@pytest.mark.parametrize("kind", [SERVER_ERROR, RESET])
def test_faults_strike_once_then_the_retry_succeeds(kind: str, x_session: Session) -> None:
    server = start_in_thread(faults=FaultProfile("always", 1.0, ((kind, 1.0),)))
    try:
        session = x_session()
        url = f"{server.base_url}/2/users/by"
        if kind == RESET:
            with pytest.raises(requests.ConnectionError):
                session.get(url, params={"usernames": "PakinUK"})
        else:
            assert session.get(url, params={"usernames": "PakinUK"}).status_code in (500, 502, 503)
        assert session.get(url, params={"usernames": "PakinUK"}).status_code == 200
    finally:
        server.shutdown()


def test_the_timeline_reaches_only_the_latest_3200_posts(
    simulator: SimulatorServer, x_session: Session
) -> None:
    long_ago = DAY - timedelta(days=500)
    start, end = day_bounds(long_ago)
    then = x_session(RUN_TIME - timedelta(days=500))
    uid = _user(simulator, then, "PakinUSA")["id"]
    params = {"start_time": start, "end_time": end, "max_results": "100"}
    url = f"{simulator.base_url}/2/users/{uid}/tweets"
    assert then.get(url, params=params).json()["meta"]["result_count"] > 0
    assert x_session().get(url, params=params).json() == {"meta": {"result_count": 0}}
