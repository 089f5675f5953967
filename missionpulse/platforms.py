"""How the pipeline reaches each platform: the real API or the local simulator.

A real deployment sets ``MISSIONPULSE_<PLATFORM>_BASE_URL`` and the platform's token
(``MISSIONPULSE_X_BEARER_TOKEN`` for X), or defines the Airflow connection
``missionpulse_<platform>`` (host: the API's base URL, password: the token), e.g. from its
secrets backend. Without either the platform is simulated: the
simulator named by ``MISSIONPULSE_SIMULATOR_URL`` if set, otherwise one started inside this
process. For the simulator the pipeline asks for a token whose clock is the moment the
day's run would happen in production (the end of the interval plus ``RUN_LAG``), so a
backfill sees each day as the daily run would have seen it.

Profile pictures are fetched from the CDN URL the API returned. A real deployment fetches
that URL itself; for the simulator, ``media_base`` names where the simulator serves the same
bytes (``https://<cdn-host>/<path>`` is fetched as ``<media_base>/<cdn-host>/<path>``).
"""

from __future__ import annotations

import os
import secrets
import threading
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from extractors.common.pseudonym import Pseudonymiser
from extractors.common.window import Window
from missionpulse import settings

RUN_LAG = timedelta(hours=2)

TOKEN_VARIABLES = {
    "x": "MISSIONPULSE_X_BEARER_TOKEN",
    "facebook": "MISSIONPULSE_FACEBOOK_ACCESS_TOKEN",
    "instagram": "MISSIONPULSE_INSTAGRAM_ACCESS_TOKEN",
    "youtube": "MISSIONPULSE_YOUTUBE_API_KEY",
}


@dataclass(frozen=True)
class PlatformConnection:
    platform: str
    base_url: str
    token: str
    simulated: bool
    # Where to fetch the CDN URLs the API returns (None: the URLs themselves); see above.
    media_base: str | None = None

    def __repr__(self) -> str:  # never show the token
        return (
            f"PlatformConnection(platform={self.platform!r}, base_url={self.base_url!r}, "
            f"simulated={self.simulated})"
        )


_simulators: dict[str, object] = {}
_simulators_lock = threading.Lock()


def simulator_url(faults: str = "none") -> str:
    """The simulator to use: ``MISSIONPULSE_SIMULATOR_URL``, or one started in-process."""
    external = os.environ.get("MISSIONPULSE_SIMULATOR_URL")
    if external:
        return external.rstrip("/")
    from missionpulse.simulator.server import start_in_thread

    with _simulators_lock:
        server = _simulators.get(faults)
        if server is None:
            server = start_in_thread(faults=faults)
            _simulators[faults] = server
        return str(server.base_url)  # type: ignore[attr-defined]


def connection(platform: str, window: Window, faults: str = "none") -> PlatformConnection:
    base = os.environ.get(f"MISSIONPULSE_{platform.upper()}_BASE_URL")
    if base:
        return PlatformConnection(
            platform, base.rstrip("/"), os.environ.get(TOKEN_VARIABLES[platform], ""), False
        )
    configured = airflow_connection(platform)
    if configured is not None:
        return configured
    from missionpulse.simulator.media import MEDIA_PREFIX
    from missionpulse.simulator.tokens import issue_token

    base = simulator_url(faults)
    return PlatformConnection(
        platform,
        base,
        issue_token(window.end + RUN_LAG),
        True,
        media_base=base + MEDIA_PREFIX.rstrip("/"),
    )


def airflow_connection(platform: str) -> PlatformConnection | None:
    """The Airflow connection ``missionpulse_<platform>`` (host: base URL, password: token),
    when Airflow is configured and has one; None otherwise."""
    try:
        from airflow.sdk import BaseHook
    except ImportError:
        return None
    try:
        conn = BaseHook.get_connection(f"missionpulse_{platform}")
    except Exception:  # not defined, or no Airflow configured in this process
        return None
    if not conn.host:
        return None
    base = conn.host if "://" in conn.host else f"https://{conn.host}"
    return PlatformConnection(platform, base.rstrip("/"), conn.password or "", False)


def pseudonymiser() -> Pseudonymiser:
    """Keyed pseudonyms for audience ids: key from ``MISSIONPULSE_PSEUDONYM_KEY``.

    On the embedded default a random key is generated once and kept (mode 0600) under
    ``.missionpulse/secrets/``; a real deployment sets the variable from its secret store.
    """
    key = os.environ.get("MISSIONPULSE_PSEUDONYM_KEY")
    if key:
        return Pseudonymiser(key.encode())
    path = settings.state_dir() / "secrets" / "pseudonym.key"
    if not path.exists():
        _write_secret(path, secrets.token_hex(32))
    return Pseudonymiser(path.read_text().strip().encode())


def _write_secret(path: Path, value: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(value)
