"""``MISSIONPULSE_EXTRACT_AT``: when the scheduler extracts each day (the DAGs' side is in
test_dag_integrity)."""

from __future__ import annotations

import pytest

from missionpulse import orchestration


@pytest.mark.parametrize(
    ("value", "cron"),
    [
        (None, "0 0 * * *"),
        ("", "0 0 * * *"),
        ("00:00", "0 0 * * *"),
        ("03:30", "30 3 * * *"),
        ("23:59", "59 23 * * *"),
        (" 06:05 ", "5 6 * * *"),
        ("manual", None),
        ("MANUAL", None),
    ],
)
def test_extract_at_becomes_a_daily_cron(
    monkeypatch: pytest.MonkeyPatch, value: str | None, cron: str | None
) -> None:
    if value is None:
        monkeypatch.delenv(orchestration.EXTRACT_AT_ENV, raising=False)
    else:
        monkeypatch.setenv(orchestration.EXTRACT_AT_ENV, value)
    assert orchestration.extract_cron() == cron


@pytest.mark.parametrize(
    "value", ["24:00", "3:30", "03:30:00", "03:30+02:00", "0330", "noon", "*/5 * * * *", "-1:00"]
)
def test_anything_else_is_refused_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.setenv(orchestration.EXTRACT_AT_ENV, value)
    with pytest.raises(ValueError, match="MISSIONPULSE_EXTRACT_AT must be a UTC time of day"):
        orchestration.extract_cron()
