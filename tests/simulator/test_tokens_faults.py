"""Clock tokens and fault injection."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from missionpulse.simulator.faults import PROFILES, RATE_LIMIT, FaultInjector, FaultProfile
from missionpulse.simulator.tokens import clock_of, issue_token, request_clock


def test_a_token_carries_its_clock_and_looks_like_a_bearer_token() -> None:
    now = datetime(2025, 10, 9, 2, 0, tzinfo=UTC)
    token = issue_token(now)
    assert token.startswith("AAAA") and " " not in token
    assert clock_of(token) == now
    assert issue_token(now) != token  # a fresh nonce: separate rate-limit buckets
    assert clock_of(issue_token(datetime(2025, 10, 9, 2, 0))) == now  # naive means UTC


@pytest.mark.parametrize(
    "token", ["AAAAAAAAAAAAAAAAAAAAAMLheAAAAAAA0%2BuSeid", "abc", "AAAA!!", ""]
)
def test_a_foreign_token_means_the_real_time(token: str) -> None:
    assert clock_of(token) is None
    assert abs(request_clock(token) - datetime.now(UTC)) < timedelta(seconds=5)


def test_no_profile_never_faults() -> None:
    injector = FaultInjector("none")
    assert all(injector.draw(f"/2/users/{i}/tweets") is None for i in range(500))


def test_faults_are_deterministic_and_never_twice_in_a_row_for_a_url() -> None:
    urls = [f"/2/tweets/search/recent?query=conversation_id:{i}" for i in range(300)]

    def run(seed: int) -> list[str | None]:
        injector = FaultInjector("flaky", seed=seed)
        drawn = []
        for url in urls:
            for _ in range(4):  # a client retrying the same URL
                fault = injector.draw(url)
                drawn.append(fault.kind if fault else None)
        return drawn

    first = run(seed=1)
    assert first == run(seed=1)
    assert first != run(seed=2)
    for start in range(0, len(first), 4):
        attempts = first[start : start + 4]
        assert all(not (a and b) for a, b in zip(attempts, attempts[1:], strict=False))
    share = sum(1 for kind in first[::4] if kind) / len(urls)
    assert 0.05 <= share <= 0.16
    assert {"server_error", "slow", "reset", "malformed"} == {kind for kind in first if kind}


def test_profiles_are_chosen_by_name_and_can_be_defined() -> None:
    assert set(PROFILES) >= {"none", "rate-limit", "flaky"}
    with pytest.raises(ValueError, match="unknown fault profile 'chaos-monkey'"):
        FaultInjector("chaos-monkey")
    always = FaultInjector(FaultProfile("always", 1.0, ((RATE_LIMIT, 1.0),)))
    kinds = [always.draw("/2/users/by?usernames=a") for _ in range(4)]
    assert [k.kind if k else None for k in kinds] == [RATE_LIMIT, None, RATE_LIMIT, None]
