"""The pool slots per platform come from the environment and are checked."""

from __future__ import annotations

import pytest

from missionpulse import orchestration


def test_pool_slots_default_global_and_per_platform(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("MISSIONPULSE_POOL_SLOTS", "MISSIONPULSE_X_POOL_SLOTS"):
        monkeypatch.delenv(name, raising=False)
    assert orchestration.pool_name("x") == "missionpulse_x"
    assert orchestration.pool_slots("x") == 1
    monkeypatch.setenv("MISSIONPULSE_POOL_SLOTS", "3")
    assert orchestration.pool_slots("x") == 3
    monkeypatch.setenv("MISSIONPULSE_X_POOL_SLOTS", "5")
    assert (orchestration.pool_slots("x"), orchestration.pool_slots("youtube")) == (5, 3)


@pytest.mark.parametrize("bad", ["0", "-2", "two", "1.5"])
def test_bad_pool_slots_are_named(monkeypatch: pytest.MonkeyPatch, bad: str) -> None:
    monkeypatch.setenv("MISSIONPULSE_FACEBOOK_POOL_SLOTS", bad)
    with pytest.raises(ValueError, match="MISSIONPULSE_FACEBOOK_POOL_SLOTS must be a whole"):
        orchestration.pool_slots("facebook")
