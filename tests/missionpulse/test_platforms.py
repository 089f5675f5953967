"""Where the pipeline finds each platform: environment, Airflow connection, or simulator."""

from __future__ import annotations

import json
from datetime import date

import pytest

from extractors.common.window import Window
from missionpulse.platforms import airflow_connection, connection

WINDOW = Window.for_day(date(2026, 11, 20))


def test_environment_names_the_real_api_and_token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MISSIONPULSE_YOUTUBE_BASE_URL", "https://www.googleapis.com/")
    monkeypatch.setenv("MISSIONPULSE_YOUTUBE_API_KEY", "key-1234567890")

    found = connection("youtube", WINDOW)

    assert (found.base_url, found.token, found.simulated) == (
        "https://www.googleapis.com",
        "key-1234567890",
        False,
    )
    assert "key-1234567890" not in repr(found)


def test_an_airflow_connection_serves_when_the_environment_is_silent(
    monkeypatch: pytest.MonkeyPatch, tmp_path
) -> None:
    monkeypatch.setenv("AIRFLOW_HOME", str(tmp_path))
    monkeypatch.delenv("MISSIONPULSE_X_BASE_URL", raising=False)
    monkeypatch.setenv(
        "AIRFLOW_CONN_MISSIONPULSE_X",
        json.dumps({"conn_type": "http", "host": "api.x.com", "password": "bearer-abcdef"}),
    )

    found = airflow_connection("x")

    assert found is not None
    assert (found.base_url, found.token, found.simulated) == (
        "https://api.x.com",
        "bearer-abcdef",
        False,
    )


def test_without_configuration_the_simulator_is_used(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MISSIONPULSE_FACEBOOK_BASE_URL", raising=False)
    monkeypatch.delenv("AIRFLOW_CONN_MISSIONPULSE_FACEBOOK", raising=False)
    monkeypatch.setenv("MISSIONPULSE_SIMULATOR_URL", "http://127.0.0.1:9")

    found = connection("facebook", WINDOW)

    assert found.simulated and found.base_url == "http://127.0.0.1:9"
    assert found.token  # a simulator token whose clock is the day's run time
