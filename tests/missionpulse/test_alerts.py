"""Failure and deadline alerts: a real webhook, a real SMTP server, the log, redaction.

The receivers are real servers on 127.0.0.1 (tests/dags/receivers.py); nothing in
``requests`` or ``smtplib`` is mocked.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import time

import pytest

from missionpulse import alerts
from missionpulse.alerts import Alert, AlertConfigError, AlertSettings
from tests.dags.receivers import SmtpReceiver, WebhookReceiver

ALERT_ENV = (
    alerts.WEBHOOK_ENV,
    *(
        alerts.SMTP_ENV_PREFIX + name
        for name in ("HOST", "PORT", "FROM", "TO", "USER", "PASSWORD", "STARTTLS")
    ),
)

FAILED = Alert(
    event="task_failed",
    dag_id="missionpulse_daily",
    task_id="extract_facebook",
    platform="facebook",
    day="2026-11-20",
    try_number=4,
    error="AuthError: facebook /me/published_posts: token expired (code 190)",
    log_url="http://127.0.0.1:8080/dags/missionpulse_daily/runs/r1/tasks/extract_facebook",
    run_id="manual__2026-11-21T00:00:00+00:00",
)


@pytest.fixture(autouse=True)
def no_alert_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test configures the channels it means; the developer's own are ignored."""
    for name in ALERT_ENV:
        monkeypatch.delenv(name, raising=False)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_webhook_receives_a_slack_compatible_message_naming_everything(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with WebhookReceiver() as hook:
        monkeypatch.setenv(alerts.WEBHOOK_ENV, hook.url("/services/T0/B0/webhooksecret1"))
        delivered = alerts.send(FAILED)

    assert delivered == ["log", "webhook"]
    (request,) = hook.received
    assert request["path"] == "/services/T0/B0/webhooksecret1"
    assert request["content_type"] == "application/json"
    body = request["json"]
    text = body["text"]
    assert text.startswith(
        "MissionPulse task failed: missionpulse_daily.extract_facebook [facebook] day 2026-11-20"
    )
    for fact in (
        "DAG: missionpulse_daily",
        "Task: extract_facebook",
        "Platform: facebook",
        "Day: 2026-11-20",
        "Try: 4",
        "Error: AuthError: facebook /me/published_posts: token expired (code 190)",
        f"Log: {FAILED.log_url}",
    ):
        assert fact in text.splitlines(), fact
    assert body["event"] == "task_failed"
    assert (body["dag_id"], body["task_id"], body["platform"], body["day"], body["try_number"]) == (
        "missionpulse_daily",
        "extract_facebook",
        "facebook",
        "2026-11-20",
        4,
    )


def test_email_goes_through_a_real_smtp_server_with_login(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with SmtpReceiver() as smtp:
        for name, value in {
            "HOST": "127.0.0.1",
            "PORT": str(smtp.port),
            "FROM": "missionpulse@ministry.example",
            "TO": "data-team@ministry.example, oncall@ministry.example",
            "USER": "alerts",
            "PASSWORD": "smtp-password-42",
            "STARTTLS": "false",
        }.items():
            monkeypatch.setenv(alerts.SMTP_ENV_PREFIX + name, value)
        delivered = alerts.send(FAILED)

    assert delivered == ["log", "email"]
    (sent,) = smtp.messages
    assert sent["login"] == ("alerts", "smtp-password-42")
    assert sent["from"] == "missionpulse@ministry.example"
    assert sent["rcpt"] == ["data-team@ministry.example", "oncall@ministry.example"]
    message = sent["message"]
    assert " ".join(message["Subject"].split()) == (  # unfolded
        "MissionPulse task failed: missionpulse_daily.extract_facebook [facebook] day 2026-11-20"
    )
    body = smtp.body()
    assert "Task: extract_facebook" in body and "Try: 4" in body and "Day: 2026-11-20" in body
    assert "smtp-password-42" not in body


def test_without_channels_the_alert_is_only_logged(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="missionpulse.alerts"):
        delivered = alerts.send(FAILED)

    assert delivered == ["log"]
    (record,) = [r for r in caplog.records if r.name == "missionpulse.alerts"]
    assert record.levelno == logging.ERROR
    line = record.getMessage()
    assert "extract_facebook" in line and "Platform: facebook" in line and "Try: 4" in line


def test_secrets_never_leave_in_the_message_or_the_log(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("MISSIONPULSE_FACEBOOK_ACCESS_TOKEN", "EAAGfacebooktoken123")
    monkeypatch.setenv("MISSIONPULSE_YOUTUBE_API_KEY", "AIzaYouTubeKey987")
    leaky = Alert(
        event="task_failed",
        dag_id="missionpulse_daily",
        task_id="extract_instagram",
        platform="instagram",
        day="2026-11-20",
        try_number=1,
        error=(
            "HTTPError: 500 for https://graph.facebook.com/v21.0/1/media?fields=id"
            "&access_token=EAAGinstagramtoken55&after=abc; "
            "sent Authorization: Bearer xtokenABCDEF123; "
            "key EAAGfacebooktoken123 and AIzaYouTubeKey987; "
            "warehouse postgresql://loader:pg-secret-pw@db.internal:5432/missionpulse"
        ),
    )
    with WebhookReceiver() as hook, caplog.at_level(logging.INFO, logger="missionpulse.alerts"):
        monkeypatch.setenv(alerts.WEBHOOK_ENV, hook.url())
        alerts.send(leaky)

    text = hook.received[0]["json"]["text"]
    logged = "\n".join(r.getMessage() for r in caplog.records)
    for secret in (
        "EAAGinstagramtoken55",
        "xtokenABCDEF123",
        "EAAGfacebooktoken123",
        "AIzaYouTubeKey987",
        "pg-secret-pw",
    ):
        assert secret not in text, secret
        assert secret not in logged, secret
    assert "access_token=REDACTED&after=abc" in text
    assert "Bearer REDACTED" in text
    assert "postgresql://loader:REDACTED@db.internal:5432/missionpulse" in text


def test_a_webhook_that_is_down_is_logged_and_never_raises(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv(alerts.WEBHOOK_ENV, f"http://127.0.0.1:{free_port()}/hooks/hooksecret77")
    started = time.monotonic()
    with caplog.at_level(logging.INFO, logger="missionpulse.alerts"):
        delivered = alerts.send(FAILED)

    assert delivered == ["log"]
    assert time.monotonic() - started < 10
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any("unreachable" in w and "the alert is only in this log" in w for w in warnings)
    # the webhook's path is its credential: never logged
    assert not any("hooksecret77" in r.getMessage() for r in caplog.records)


def test_a_webhook_that_refuses_is_logged_with_its_status(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    with WebhookReceiver(status=500) as hook, caplog.at_level(logging.INFO):
        monkeypatch.setenv(alerts.WEBHOOK_ENV, hook.url("/hooks/hooksecret88"))
        delivered = alerts.send(FAILED)

    assert delivered == ["log"]
    assert len(hook.received) == 1
    warning = next(r.getMessage() for r in caplog.records if r.levelno == logging.WARNING)
    assert "HTTP 500" in warning and f"127.0.0.1:{hook.port}" in warning
    assert "hooksecret88" not in warning


def test_incomplete_smtp_settings_are_named_and_the_webhook_still_goes(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv(alerts.SMTP_ENV_PREFIX + "HOST", "127.0.0.1")
    with pytest.raises(AlertConfigError, match="MISSIONPULSE_ALERT_SMTP_TO"):
        AlertSettings.from_env()
    with WebhookReceiver() as hook, caplog.at_level(logging.INFO):
        monkeypatch.setenv(alerts.WEBHOOK_ENV, hook.url())
        assert alerts.send(FAILED) == ["log", "webhook"]
    assert any("MISSIONPULSE_ALERT_SMTP_FROM" in r.getMessage() for r in caplog.records)


def test_deadline_callback_names_the_dag_and_day(monkeypatch: pytest.MonkeyPatch) -> None:
    """What Airflow's triggerer awaits when a run misses its freshness deadline."""
    context = {
        "dag_run": {
            "dag_id": "missionpulse_daily",
            # the shape of Airflow's DAGRunResponse, which the scheduler hands over
            "dag_run_id": "scheduled__2026-11-20T00:00:00+00:00",
            "data_interval_start": "2026-11-20T00:00:00Z",
            "data_interval_end": "2026-11-21T00:00:00Z",
            "state": "running",
        },
        "deadline": {"id": "d1", "deadline_time": "2026-11-21T06:00:05+00:00"},
    }
    monkeypatch.setenv("AIRFLOW__API__BASE_URL", "http://127.0.0.1:8080")
    with WebhookReceiver() as hook:
        monkeypatch.setenv(alerts.WEBHOOK_ENV, hook.url())
        asyncio.run(alerts.notify_deadline_missed(context=context))

    body = hook.received[0]["json"]
    assert body["event"] == "deadline_missed"
    assert body["run_id"] == "scheduled__2026-11-20T00:00:00+00:00"
    assert body["text"].startswith("MissionPulse run late: missionpulse_daily day 2026-11-20")
    assert "had not finished by its deadline 2026-11-21T06:00:05+00:00" in body["text"]
    assert "(state running)" in body["text"]
    assert body["log_url"] == (
        "http://127.0.0.1:8080/dags/missionpulse_daily/runs/"
        "scheduled__2026-11-20T00%3A00%3A00%2B00%3A00"
    )


def test_deadline_alert_takes_the_day_as_the_tasks_do() -> None:
    """Partition key, then the conf's day, then the data interval (dags/common/days.py)."""
    triggered = {
        "dag_id": "extract_x",
        "dag_run_id": "manual__2026-11-21T00:00:00+00:00",
        # an unscheduled DAG's triggered run: an empty interval at its logical date
        "data_interval_start": "2026-11-21T00:00:00Z",
        "conf": {"faults": "none", "day": "2026-11-20"},
        "state": "queued",
    }
    alert = alerts.deadline_alert({"dag_run": triggered, "deadline": {}})
    assert alert.day == "2026-11-20" and "the run for 2026-11-20 had not" in alert.error
    keyed = {**triggered, "partition_key": "2026-11-19", "conf": {}}
    assert alerts.deadline_alert({"dag_run": keyed}).day == "2026-11-19"
    scheduled = {**triggered, "conf": None}
    assert alerts.deadline_alert({"dag_run": scheduled}).day == "2026-11-21"
    assert alerts.deadline_alert({"dag_run": {"dag_id": "publish"}}).day is None


def test_a_run_that_failed_before_its_deadline_is_not_reported_late(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """Airflow 3.3 keeps a failed run's deadline; its failure alerts already went out."""
    run = {
        "dag_id": "missionpulse_daily",
        "run_id": "scheduled__2026-11-20T00:00:00+00:00",
        "data_interval_start": "2026-11-20T00:00:00Z",
        "state": "failed",
        "end_date": "2026-11-21T01:10:00Z",
    }
    with WebhookReceiver() as hook, caplog.at_level(logging.INFO):
        monkeypatch.setenv(alerts.WEBHOOK_ENV, hook.url())
        asyncio.run(
            alerts.notify_deadline_missed(
                context={"dag_run": run, "deadline": {"deadline_time": "2026-11-21T06:00:05Z"}}
            )
        )
        assert hook.received == []
        assert any("already ended failed" in r.getMessage() for r in caplog.records)
        # ended after the deadline: late, so it is reported
        late = {**run, "end_date": "2026-11-21T07:00:00Z"}
        asyncio.run(
            alerts.notify_deadline_missed(
                context={"dag_run": late, "deadline": {"deadline_time": "2026-11-21T06:00:05Z"}}
            )
        )
    assert len(hook.received) == 1 and "(state failed)" in hook.received[0]["json"]["text"]


def test_deadline_hours_is_configurable_and_checked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MISSIONPULSE_DEADLINE_HOURS", raising=False)
    assert alerts.deadline_hours() == 6
    monkeypatch.setenv("MISSIONPULSE_DEADLINE_HOURS", "2.5")
    assert alerts.deadline_hours() == 2.5
    for bad in ("six", "0", "-1"):
        monkeypatch.setenv("MISSIONPULSE_DEADLINE_HOURS", bad)
        with pytest.raises(AlertConfigError, match="MISSIONPULSE_DEADLINE_HOURS"):
            alerts.deadline_hours()
