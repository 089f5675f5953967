"""The shared HTTP client: retries, backoff, rate-limit waits, error classes, redaction."""

from __future__ import annotations

import time

import pytest
import requests
import responses

from extractors.common.errors import AuthError, BadRequestError, RetriableError
from extractors.common.http import RetryPolicy, budget_wait_seconds, retry_after_seconds
from extractors.x.client import make_client

BASE = "https://api.example.test"
TOKEN = "AAAA-super-secret-bearer-token-1234567890"


def client(sleeps: list[float], attempts: int = 4):
    c = make_client(BASE, TOKEN, retry=RetryPolicy(max_attempts=attempts, backoff_base_s=1.0))
    c._sleep = sleeps.append  # record waits instead of sleeping
    return c


@responses.activate
def test_retries_5xx_then_succeeds_with_growing_backoff() -> None:
    url = f"{BASE}/2/users/by"
    responses.get(url, status=503, json={"title": "Service Unavailable"})
    responses.get(url, status=500, json={"title": "Internal Error"})
    responses.get(url, json={"data": []})
    sleeps: list[float] = []
    c = client(sleeps)

    body, _ = c.get_json("/2/users/by", {"usernames": "a"})

    assert body == {"data": []}
    assert c.stats.requests == 3 and c.stats.retries == 2
    assert 0.5 <= sleeps[0] <= 1.0 and 1.0 <= sleeps[1] <= 2.0  # exponential, jittered


@responses.activate
def test_429_waits_for_the_reset_header() -> None:
    url = f"{BASE}/2/tweets/search/recent"
    responses.get(url, status=429, headers={"Retry-After": "7"}, json={"title": "Too Many"})
    responses.get(url, json={"meta": {"result_count": 0}})
    sleeps: list[float] = []

    client(sleeps).get_json("/2/tweets/search/recent", {"query": "q"})

    assert 7.0 <= sleeps[0] < 7.3


def test_reset_epoch_header_gives_seconds_to_wait() -> None:
    assert retry_after_seconds({"x-rate-limit-reset": "1010"}, now=1000.0) == 10.0
    assert retry_after_seconds({"x-rate-limit-reset": "990"}, now=1000.0) == 0.0
    assert retry_after_seconds({}, now=1000.0) is None


@responses.activate
def test_gives_up_after_max_attempts_naming_platform_and_endpoint() -> None:
    responses.get(f"{BASE}/2/users/by", status=502, json={"title": "Bad Gateway"})
    sleeps: list[float] = []

    with pytest.raises(RetriableError) as info:
        client(sleeps, attempts=3).get_json("/2/users/by", handle="PakinUSA")

    assert len(sleeps) == 2
    assert "x /2/users/by (handle PakinUSA): HTTP 502" in str(info.value)


@responses.activate
def test_connection_errors_are_retried() -> None:
    url = f"{BASE}/2/users/by"
    responses.get(url, body=requests.ConnectionError("connection reset by peer"))
    responses.get(url, json={"data": []})
    sleeps: list[float] = []

    body, _ = client(sleeps).get_json("/2/users/by")

    assert body == {"data": []} and len(sleeps) == 1


@responses.activate
def test_malformed_page_is_retried() -> None:
    url = f"{BASE}/2/users/by"
    responses.get(url, body='{"data": [', content_type="application/json")
    responses.get(url, json={"data": []})

    body, _ = client([]).get_json("/2/users/by")

    assert body == {"data": []}


@responses.activate
def test_401_is_fatal_with_a_hint_and_no_token() -> None:
    responses.get(
        f"{BASE}/2/users/by",
        status=401,
        json={
            "title": "Unauthorized",
            "type": "about:blank",
            "status": 401,
            "detail": "Unauthorized",
        },
    )
    sleeps: list[float] = []

    with pytest.raises(AuthError) as info:
        client(sleeps).get_json("/2/users/by")

    assert sleeps == []  # not retried
    assert "MISSIONPULSE_X_BEARER_TOKEN" in str(info.value)
    assert TOKEN not in str(info.value)


@responses.activate
def test_400_is_fatal_and_carries_the_platform_message() -> None:
    responses.get(
        f"{BASE}/2/tweets/search/recent",
        status=400,
        json={
            "errors": [{"parameters": {"start_time": ["x"]}, "message": "Invalid 'start_time'"}],
            "title": "Invalid Request",
            "detail": "One or more parameters to your request was invalid.",
        },
    )
    with pytest.raises(BadRequestError, match="Invalid 'start_time'"):
        client([]).get_json("/2/tweets/search/recent")


@responses.activate
def test_bearer_token_is_sent_in_the_header_not_the_url() -> None:
    responses.get(f"{BASE}/2/users/by", json={"data": []})

    client([]).get_json("/2/users/by", {"usernames": "a"})

    sent = responses.calls[0].request
    assert sent.headers["Authorization"] == f"Bearer {TOKEN}"
    assert TOKEN not in sent.url
    assert sent.headers["User-Agent"].startswith("MissionPulse/")


def test_budget_pauses_at_the_edge_of_the_window() -> None:
    assert (
        budget_wait_seconds(
            {"x-rate-limit-remaining": "0", "x-rate-limit-reset": "1030"}, now=1000.0
        )
        == 30.0
    )
    assert (
        budget_wait_seconds({"x-rate-limit-remaining": "3", "x-rate-limit-reset": "1030"}) is None
    )
    assert budget_wait_seconds({"x-app-usage": '{"call_count": 96, "total_time": 10}'}) == 60.0
    assert budget_wait_seconds({"x-app-usage": '{"call_count": 12, "total_time": 10}'}) is None
    assert budget_wait_seconds({"x-app-usage": "not json"}) is None


@responses.activate
def test_client_waits_for_the_reset_when_no_calls_are_left() -> None:
    url = f"{BASE}/2/users/by"
    reset = str(int(time.time()) + 20)
    responses.get(
        url, json={"data": []}, headers={"x-rate-limit-remaining": "0", "x-rate-limit-reset": reset}
    )
    sleeps: list[float] = []

    client(sleeps).get_json("/2/users/by")

    assert len(sleeps) == 1 and 15 <= sleeps[0] <= 20
