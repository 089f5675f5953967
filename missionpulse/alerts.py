"""Tell the data team when a run needs them: a failed task, or a day whose run is late.

An :class:`Alert` names the DAG, the task, the platform (for platform-specific tasks), the
day, the try, the error and, when there is one, the address of the task's log. :func:`send`
delivers it to every channel the deployment configured in its environment:

- a webhook (``MISSIONPULSE_ALERT_WEBHOOK_URL``): a JSON POST whose ``text`` field is the
  whole message (what Slack and Teams incoming webhooks show) beside the same facts as
  separate fields for other receivers;
- e-mail over SMTP (``MISSIONPULSE_ALERT_SMTP_HOST``, ``_PORT``, ``_FROM``, ``_TO``
  (comma-separated), optional ``_USER`` / ``_PASSWORD``, ``_STARTTLS`` default true).

The message is always written to the ``missionpulse.alerts`` log as well, so the task log
shows it whatever else is configured. A channel that fails (webhook down, SMTP refused) is
logged and skipped: an alert never fails, hides or delays its task's own failure beyond a
short timeout. Credentials never leave in a message: platform tokens, the pseudonym key,
passwords in URLs and secret query parameters are redacted, and the webhook's own address
(whose path is its secret) is never logged.

No Airflow import here: ``dags/common/alerts.py`` turns Airflow's context into an Alert.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import re
import smtplib
import sys
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from email.message import EmailMessage
from typing import Any
from urllib.parse import quote, urlsplit

import requests

from extractors.common.redact import SECRET_PARAMS, redact_text

log = logging.getLogger("missionpulse.alerts")

WEBHOOK_ENV = "MISSIONPULSE_ALERT_WEBHOOK_URL"
SMTP_ENV_PREFIX = "MISSIONPULSE_ALERT_SMTP_"
# Seconds: connecting, then waiting for the answer. A channel that is down costs at most this.
WEBHOOK_TIMEOUT = (3.0, 5.0)
SMTP_TIMEOUT = 10.0
# Environment variables whose values are credentials, redacted from every message.
SECRET_ENV = (
    "MISSIONPULSE_X_BEARER_TOKEN",
    "MISSIONPULSE_FACEBOOK_ACCESS_TOKEN",
    "MISSIONPULSE_INSTAGRAM_ACCESS_TOKEN",
    "MISSIONPULSE_YOUTUBE_API_KEY",
    "MISSIONPULSE_PSEUDONYM_KEY",
    f"{SMTP_ENV_PREFIX}PASSWORD",
    WEBHOOK_ENV,
)
MAX_ERROR_CHARS = 2000

_SECRET_QUERY = re.compile(
    r"(?i)\b(" + "|".join(sorted(SECRET_PARAMS)) + r")=([^&\s\"'<>]+)",
)
_URL_PASSWORD = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://[^:/@\s]+):([^@\s]+)@")


class AlertConfigError(ValueError):
    """The alert settings in the environment are incomplete or malformed."""


@dataclass(frozen=True)
class Alert:
    """What went wrong, where, and for which day."""

    event: str  # "task_failed" or "deadline_missed"
    dag_id: str
    day: str | None = None
    task_id: str | None = None
    platform: str | None = None
    try_number: int | None = None
    error: str | None = None
    log_url: str | None = None
    run_id: str | None = None

    @property
    def title(self) -> str:
        where = self.dag_id + (f".{self.task_id}" if self.task_id else "")
        platform = f" [{self.platform}]" if self.platform else ""
        if self.event == "deadline_missed":
            return f"MissionPulse run late: {where}{platform} day {self.day or '?'}"
        return f"MissionPulse task failed: {where}{platform} day {self.day or '?'}"

    def text(self) -> str:
        """The whole message, one fact a line (the ``text`` of the webhook, the e-mail body)."""
        lines = [self.title, f"DAG: {self.dag_id}"]
        if self.task_id:
            lines.append(f"Task: {self.task_id}")
        if self.platform:
            lines.append(f"Platform: {self.platform}")
        lines.append(f"Day: {self.day or 'unknown'}")
        if self.run_id:
            lines.append(f"Run: {self.run_id}")
        if self.try_number is not None:
            lines.append(f"Try: {self.try_number}")
        if self.error:
            lines.append(f"Error: {self.error}")
        if self.log_url:
            lines.append(f"Log: {self.log_url}")
        return "\n".join(lines)


@dataclass(frozen=True)
class SmtpSettings:
    host: str
    port: int
    sender: str
    recipients: tuple[str, ...]
    user: str | None = None
    password: str | None = field(default=None, repr=False)
    starttls: bool = True


@dataclass(frozen=True)
class AlertSettings:
    webhook_url: str | None = field(default=None, repr=False)  # the URL is a secret
    smtp: SmtpSettings | None = None

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> AlertSettings:
        env = os.environ if env is None else env
        return cls(webhook_url=_webhook(env), smtp=_smtp(env))


def _webhook(env: Mapping[str, str]) -> str | None:
    return (env.get(WEBHOOK_ENV) or "").strip() or None


def _smtp(env: Mapping[str, str]) -> SmtpSettings | None:
    def get(name: str) -> str:
        return (env.get(SMTP_ENV_PREFIX + name) or "").strip()

    host = get("HOST")
    if not host:
        return None
    sender, recipients = get("FROM"), tuple(r.strip() for r in get("TO").split(",") if r.strip())
    if not sender or not recipients:
        raise AlertConfigError(
            f"{SMTP_ENV_PREFIX}HOST is set but {SMTP_ENV_PREFIX}FROM or {SMTP_ENV_PREFIX}TO is "
            "empty: set both (TO is comma-separated), or unset HOST to alert by webhook/log only"
        )
    starttls = get("STARTTLS").lower() not in ("0", "false", "no", "off")
    try:
        port = int(get("PORT") or (587 if starttls else 25))
    except ValueError:
        raise AlertConfigError(
            f"{SMTP_ENV_PREFIX}PORT must be a number, got {get('PORT')!r}"
        ) from None
    return SmtpSettings(
        host, port, sender, recipients, get("USER") or None, get("PASSWORD") or None, starttls
    )


def redact(text: str, env: Mapping[str, str] | None = None) -> str:
    """``text`` without the deployment's credentials: bearer tokens, the values of the
    token variables, passwords in URLs, and secret query parameters (``access_token=``)."""
    env = os.environ if env is None else env
    secrets = tuple(env.get(name, "") for name in SECRET_ENV)
    text = redact_text(text, secrets)
    text = _URL_PASSWORD.sub(lambda m: f"{m.group(1)}:REDACTED@", text)
    return _SECRET_QUERY.sub(lambda m: f"{m.group(1)}=REDACTED", text)


def _redacted(alert: Alert) -> Alert:
    error = alert.error
    if error is not None:
        error = redact(error)
        if len(error) > MAX_ERROR_CHARS:
            error = error[:MAX_ERROR_CHARS] + " [...]"
    log_url = redact(alert.log_url) if alert.log_url else alert.log_url
    return Alert(**{**asdict(alert), "error": error, "log_url": log_url})


def send(alert: Alert, alert_settings: AlertSettings | None = None) -> list[str]:
    """Log ``alert`` and deliver it to every configured channel; never raises.

    Returns the channels that accepted it (``"log"`` always, then ``"webhook"``/``"email"``).
    """
    alert = _redacted(alert)
    log.error("%s", alert.text().replace("\n", " | "))
    delivered = ["log"]
    try:
        config = alert_settings or AlertSettings.from_env()
    except AlertConfigError as err:
        log.warning("alert not sent by e-mail: %s", err)
        config = AlertSettings(webhook_url=_webhook(os.environ))
    if config.webhook_url and _post_webhook(config.webhook_url, alert):
        delivered.append("webhook")
    if config.smtp and _send_email(config.smtp, alert):
        delivered.append("email")
    return delivered


def _post_webhook(url: str, alert: Alert) -> bool:
    target = _describe_url(url)
    payload = {"text": alert.text(), **{k: v for k, v in asdict(alert).items() if v is not None}}
    try:
        response = requests.post(
            url,
            data=json.dumps(payload),
            headers={"Content-Type": "application/json", "User-Agent": "missionpulse-alerts"},
            timeout=WEBHOOK_TIMEOUT,
        )
    except requests.RequestException as err:
        log.warning(
            "alert webhook %s unreachable (%s); the alert is only in this log",
            target,
            type(err).__name__,
        )
        return False
    if response.status_code >= 300:
        log.warning(
            "alert webhook %s answered HTTP %s; the alert is only in this log (check %s)",
            target,
            response.status_code,
            WEBHOOK_ENV,
        )
        return False
    return True


def _describe_url(url: str) -> str:
    """Scheme and host of a webhook URL: its path and query are its credentials."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.hostname}" + (f":{parts.port}" if parts.port else "")


def _send_email(smtp: SmtpSettings, alert: Alert) -> bool:
    message = EmailMessage()
    message["Subject"] = alert.title
    message["From"] = smtp.sender
    message["To"] = ", ".join(smtp.recipients)
    message.set_content(alert.text() + "\n")
    try:
        with smtplib.SMTP(smtp.host, smtp.port, timeout=SMTP_TIMEOUT) as client:
            if smtp.starttls:
                client.starttls()
            if smtp.user and smtp.password:
                client.login(smtp.user, smtp.password)
            client.send_message(message)
    except (OSError, smtplib.SMTPException) as err:
        log.warning(
            "alert e-mail via %s:%s failed (%s: %s); the alert is only in this log",
            smtp.host,
            smtp.port,
            type(err).__name__,
            redact(str(err)),
        )
        return False
    return True


# --- Airflow's deadline alerts ---------------------------------------------------------------


def deadline_alert(context: Mapping[str, Any] | None) -> Alert:
    """The alert for a missed deadline, from the context Airflow hands the callback
    (``dag_run``: the run as JSON; ``deadline``: its id and time)."""
    run = dict((context or {}).get("dag_run") or {})
    deadline = dict((context or {}).get("deadline") or {})
    day = _run_day(run)
    return Alert(
        event="deadline_missed",
        dag_id=str(run.get("dag_id") or "?"),
        day=day,
        run_id=run.get("dag_run_id") or run.get("run_id"),
        error=(
            f"the run for {day or 'this day'} had not finished by its deadline "
            f"{deadline.get('deadline_time', '?')} (state {run.get('state', '?')}); "
            "look for a stuck or queued task, or a platform API that is down"
        ),
        log_url=_run_url(run),
    )


def _run_day(run: Mapping[str, Any]) -> str | None:
    """The day a run (as JSON) processes, in the order the tasks take it
    (``dags/common/days.py``): its partition key, the day in its conf (``missionpulse run``,
    ``backfill`` and the distributed check trigger with one; a triggered run of an
    unscheduled DAG, ``MISSIONPULSE_EXTRACT_AT=manual``, has an empty interval at its
    logical date, the day after), else its data interval's start."""
    given_conf = run.get("conf")
    conf: Mapping[str, Any] = given_conf if isinstance(given_conf, Mapping) else {}
    for given in (run.get("partition_key"), conf.get("day"), run.get("data_interval_start")):
        if given:
            return str(given)[:10]
    return None


def _run_url(run: Mapping[str, Any]) -> str | None:
    run_id = run.get("dag_run_id") or run.get("run_id")
    base = _api_base_url()
    if not base or not run.get("dag_id") or not run_id:
        return None
    return f"{base.rstrip('/')}/dags/{run['dag_id']}/runs/{quote(str(run_id))}"


def _api_base_url() -> str | None:
    """The Airflow UI's address, as Airflow's own log links build it (``[api] base_url``)."""
    base = os.environ.get("AIRFLOW__API__BASE_URL")
    if base:
        return base
    # configured in airflow.cfg rather than the environment: ask the Airflow this process
    # runs in (the triggerer); never import (and so configure) Airflow just for a link
    airflow_conf = getattr(sys.modules.get("airflow.configuration"), "conf", None)
    if airflow_conf is None:
        return None
    try:
        return str(airflow_conf.get("api", "base_url", fallback="")) or None
    except Exception:  # a link is a nicety: the alert goes out without one
        return None


def finished_before_deadline(context: Mapping[str, Any] | None) -> bool:
    """Whether the run had already ended (failed: Airflow 3.3 drops a run's deadline only
    when it succeeds, apache/airflow#60927) when its deadline passed."""
    run = dict((context or {}).get("dag_run") or {})
    deadline = dict((context or {}).get("deadline") or {})
    ended, due = run.get("end_date"), deadline.get("deadline_time")
    if not ended or not due:
        return False
    try:
        return _as_datetime(ended) <= _as_datetime(due)
    except (TypeError, ValueError):
        return False


def _as_datetime(value: Any) -> datetime:
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


async def notify_deadline_missed(context: dict[str, Any] | None = None, **_: Any) -> None:
    """Airflow's deadline callback (``AsyncCallback``, run by the triggerer). A run that
    failed in time has had its failure alerts already: it is only logged."""
    if finished_before_deadline(context):
        run = dict((context or {}).get("dag_run") or {})
        log.info(
            "deadline passed for %s run %s, which had already ended %s: no late alert",
            run.get("dag_id"),
            run.get("run_id"),
            run.get("state"),
        )
        return
    await asyncio.to_thread(send, deadline_alert(context))


def deadline_hours() -> float:
    """``MISSIONPULSE_DEADLINE_HOURS``: how long after its data interval ends a day's run
    may take before the team is alerted (default 6)."""
    raw = os.environ.get("MISSIONPULSE_DEADLINE_HOURS", "6")
    try:
        hours = float(raw)
    except ValueError:
        raise AlertConfigError(
            f"MISSIONPULSE_DEADLINE_HOURS must be a number of hours, got {raw!r}"
        ) from None
    if hours <= 0:
        raise AlertConfigError(f"MISSIONPULSE_DEADLINE_HOURS must be positive, got {raw!r}")
    return hours
