"""The shared Graph API client: error classes, retry sequences, paging, insights, redaction."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest
import requests
import responses

from extractors.common.errors import (
    AuthError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitedError,
    RetriableError,
)
from extractors.common.graph import (
    InsightsFetcher,
    InvalidParameterError,
    classify_error,
    graph_path,
    items,
    make_graph_client,
    regain_seconds,
    split_next,
)
from extractors.common.http import ApiClient, RetryPolicy

BASE = "https://graph.example.test"
TOKEN = "EAAG-super-secret-page-token-1234567890"
PAGE = f"{BASE}/v21.0/1234567890"


def client(sleeps: list[float], attempts: int = 4) -> ApiClient:
    c = make_graph_client(
        "facebook", BASE, TOKEN, retry=RetryPolicy(max_attempts=attempts, backoff_base_s=1.0)
    )
    c._sleep = sleeps.append  # record waits instead of sleeping
    return c


def graph_error(code: int, message: str, subcode: int | None = None) -> dict[str, Any]:
    error: dict[str, Any] = {"message": message, "type": "OAuthException", "code": code}
    if subcode is not None:
        error["error_subcode"] = subcode
    return {"error": {**error, "fbtrace_id": "AbCdEfGh123"}}


def usage(minutes: int) -> dict[str, str]:
    entry = {"type": "pages", "call_count": 100, "estimated_time_to_regain_access": minutes}
    return {"X-Business-Use-Case-Usage": json.dumps({"1234567890": [entry]})}


@responses.activate
@pytest.mark.parametrize(
    "code,status,headers,wait",
    [
        (4, 403, {}, (0.5, 1.0)),  # no usage header: exponential backoff
        (17, 400, usage(1), (60.0, 60.3)),  # the platform's own estimate, in minutes
        (32, 400, usage(0), (0.0, 0.3)),
        (613, 400, usage(2), (120.0, 120.3)),
        (80001, 400, usage(0), (0.0, 0.3)),
    ],
)
def test_throttling_codes_are_retried_after_the_platforms_wait(
    code: int, status: int, headers: dict[str, str], wait: tuple[float, float]
) -> None:
    responses.get(PAGE, status=status, json=graph_error(code, "limit reached"), headers=headers)
    responses.get(PAGE, json={"id": "1234567890", "name": "Embassy"})
    sleeps: list[float] = []
    c = client(sleeps)

    body, _ = c.get_json(graph_path("1234567890"), {"fields": "id,name"}, handle="Embassy")

    assert body["name"] == "Embassy"
    assert c.stats.retries == 1 and c.stats.errors == {"RateLimitedError": 1}
    assert wait[0] <= sleeps[0] <= wait[1]


@responses.activate
def test_unknown_and_transient_errors_are_retried_then_given_up_with_a_clear_message() -> None:
    responses.get(PAGE, status=500, json=graph_error(1, "An unknown error occurred"))
    responses.get(PAGE, status=500, json=graph_error(2, "Service temporarily unavailable"))
    responses.get(PAGE, status=500, json=graph_error(2, "Service temporarily unavailable"))
    sleeps: list[float] = []

    with pytest.raises(RetriableError) as info:
        client(sleeps, attempts=3).get_json(graph_path("1234567890"), handle="Embassy")

    assert len(sleeps) == 2
    text = str(info.value)
    assert "facebook /v21.0/1234567890 (handle Embassy): HTTP 500" in text
    assert "code 2" in text and "fbtrace_id AbCdEfGh123" in text


@responses.activate
def test_an_expired_token_is_fatal_names_the_variable_and_never_the_token(
    caplog: pytest.LogCaptureFixture,
) -> None:
    body = graph_error(190, "Error validating access token: Session has expired", subcode=463)
    responses.get(PAGE, status=400, json=body)
    sleeps: list[float] = []

    with caplog.at_level(logging.DEBUG), pytest.raises(AuthError) as info:
        client(sleeps).get_json(graph_path("1234567890"), handle="Embassy")

    assert sleeps == []  # not retried
    assert "MISSIONPULSE_FACEBOOK_ACCESS_TOKEN" in str(info.value)
    assert "subcode 463" in str(info.value)
    assert TOKEN not in str(info.value) and TOKEN not in caplog.text


@responses.activate
def test_connection_errors_with_the_url_in_them_are_redacted(
    caplog: pytest.LogCaptureFixture,
) -> None:
    responses.get(PAGE, body=requests.ConnectionError(f"cannot reach {PAGE}?access_token={TOKEN}"))
    responses.get(PAGE, json={"id": "1234567890"})
    sleeps: list[float] = []

    with caplog.at_level(logging.WARNING):
        client(sleeps).get_json(graph_path("1234567890"), handle="Embassy")

    assert "retry 1/3" in caplog.text and "REDACTED" in caplog.text
    assert TOKEN not in caplog.text


@pytest.mark.parametrize(
    "code,subcode,expected",
    [
        (10, None, PermissionDeniedError),
        (200, None, PermissionDeniedError),
        (299, None, PermissionDeniedError),
        (100, None, InvalidParameterError),
        (100, 33, NotFoundError),
        (803, None, NotFoundError),
        (104, None, AuthError),
        (80002, None, RateLimitedError),
    ],
)
def test_error_codes_map_to_the_typed_errors(
    code: int, subcode: int | None, expected: type[Exception]
) -> None:
    error = classify_error(
        "instagram", 400, graph_error(code, "x", subcode), {}, "/v21.0/1", "pakinusa"
    )
    assert type(error) is expected


def test_errors_without_a_graph_body_fall_back_on_the_status() -> None:
    assert isinstance(classify_error("facebook", 502, None, {}, "/x", None), RetriableError)
    assert not classify_error("facebook", 400, "<html>", {}, "/x", None).retriable


def test_regain_seconds_reads_the_business_use_case_header() -> None:
    assert regain_seconds(usage(3)) == 180.0
    assert regain_seconds({"x-business-use-case-usage": "not json"}) is None
    assert regain_seconds({}) is None


def test_next_links_lose_their_credentials() -> None:
    path, params = split_next(
        f"{BASE}/v21.0/123/published_posts?fields=id&limit=2&access_token={TOKEN}&after=QVFI"
    )
    assert path == "/v21.0/123/published_posts"
    assert params == {"fields": "id", "limit": "2", "after": "QVFI"}


@responses.activate
def test_paging_follows_next_and_stops_only_when_it_is_absent() -> None:
    url = f"{PAGE}/published_posts"
    first = {
        "data": [{"id": "1"}, {"id": "2"}],
        "paging": {
            "cursors": {"before": "A", "after": "B"},
            "next": f"{url}?limit=2&after=B&access_token={TOKEN}",
        },
    }
    last = {"data": [{"id": "3"}], "paging": {"cursors": {"before": "C", "after": "D"}}}
    responses.get(url, json=first)
    responses.get(url, json=last)
    c = client([])

    found = [
        item["id"]
        for item in items(
            c, graph_path("1234567890", "published_posts"), {"limit": 2}, handle="Embassy"
        )
    ]

    assert found == ["1", "2", "3"]
    assert len(responses.calls) == 2  # an `after` cursor alone does not mean more
    second = responses.calls[1].request.url or ""
    assert "after=B" in second and second.count("access_token=") == 1


@responses.activate
def test_a_refused_metric_is_skipped_and_remembered(caplog: pytest.LogCaptureFixture) -> None:
    insights = f"{PAGE}/insights"
    refused = graph_error(100, "(#100) The value must be a valid insights metric")

    def answer(request: requests.PreparedRequest) -> tuple[int, dict[str, str], str]:
        metrics = (request.params or {}).get("metric", "")  # type: ignore[attr-defined]
        if "page_impressions" in metrics:
            return 400, {}, json.dumps(refused)
        data = [
            {"name": name, "period": "day", "values": [{"value": 7, "end_time": "t"}]}
            for name in metrics.split(",")
        ]
        return 200, {}, json.dumps({"data": data})

    responses.add_callback(responses.GET, insights, callback=answer)
    fetcher = InsightsFetcher(client([]), {"views": "page_impressions", "follows": "page_follows"})

    with caplog.at_level(logging.WARNING):
        first = fetcher.fetch("1234567890", {"period": "day"}, handle="Embassy")
        second = fetcher.fetch("1234567890", {"period": "day"}, handle="Embassy")

    assert set(first) == set(second) == {"follows"}
    assert list(fetcher.refused) == ["views"] and "page_impressions" in fetcher.refused["views"]
    assert len(responses.calls) == 4  # both, then one by one; then only the accepted one
    assert "refuses insights metric page_impressions" in caplog.text
    assert TOKEN not in caplog.text
