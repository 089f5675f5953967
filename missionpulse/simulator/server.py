"""The simulator's HTTP server: one local endpoint that speaks the platforms' APIs.

A ``ThreadingHTTPServer`` with keep-alive (HTTP/1.1) hands each request to the platform API
that serves its path (each API says which paths are its own, e.g. X's ``/2/...``), on the
clock carried by the request's bearer token, after the fault injector has had its say.
Logging is quiet: requests go to the ``missionpulse.simulator`` logger at DEBUG.
"""

from __future__ import annotations

import email.utils
import logging
import socket
import struct
import threading
import time
from collections.abc import Mapping, Sequence
from datetime import datetime
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Protocol
from urllib.parse import parse_qs, urlsplit

from missionpulse.simulator.bad_data import BAD_DATA
from missionpulse.simulator.bad_data import corrupt as corrupt_answer
from missionpulse.simulator.faults import (
    MALFORMED,
    RESET,
    SLOW,
    SLOW_SECONDS,
    Fault,
    FaultInjector,
    FaultProfile,
)
from missionpulse.simulator.graph_api import GraphApi
from missionpulse.simulator.media import MediaApi
from missionpulse.simulator.messages import Request, Response, json_response
from missionpulse.simulator.tokens import request_clock
from missionpulse.simulator.world import World, world_for
from missionpulse.simulator.x_api import XApi
from missionpulse.simulator.youtube_api import DAILY_QUOTA as YOUTUBE_DAILY_QUOTA
from missionpulse.simulator.youtube_api import YouTubeApi

log = logging.getLogger("missionpulse.simulator")


class PlatformApi(Protocol):
    """One platform's wire format: which paths it serves, its answers and its error bodies."""

    def handles(self, path: str) -> bool: ...

    def respond(self, request: Request, now: datetime) -> Response: ...

    def fault_response(self, fault: Fault, request: Request) -> Response: ...


class SimulatorServer(ThreadingHTTPServer):
    """The simulator; ``base_url`` is where clients point, ``shutdown()`` stops and closes it."""

    daemon_threads = True
    block_on_close = False

    def __init__(
        self, address: tuple[str, int], apis: Sequence[PlatformApi], injector: FaultInjector
    ) -> None:
        super().__init__(address, _Handler)
        self.apis = tuple(apis)
        self.injector = injector
        self.thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host!s}:{port}"

    def shutdown(self) -> None:
        if self.thread is not None:
            super().shutdown()
            self.thread.join(timeout=5)
        self.server_close()

    def handle_error(self, request: Any, client_address: Any) -> None:
        log.debug("connection from %s ended with an error", client_address, exc_info=True)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = 60
    server: SimulatorServer

    def setup(self) -> None:
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def do_GET(self) -> None:  # noqa: N802 (the name http.server dispatches to)
        self._serve()

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 (signature of the base)
        log.debug("%s %s", self.address_string(), format % args)

    def _serve(self) -> None:
        url = urlsplit(self.path)
        request = Request(
            method=self.command,
            path=url.path,
            params=parse_qs(url.query, keep_blank_values=True),
            headers={name.lower(): value for name, value in self.headers.items()},
        )
        fault = self.server.injector.draw(self.path)
        if fault is not None and fault.kind == RESET:
            self._reset()
            return
        if fault is not None and fault.kind == SLOW:
            time.sleep(SLOW_SECONDS)
            fault = None
        api = next((a for a in self.server.apis if a.handles(request.path)), None)
        if api is None:
            response = json_response(404, {"error": f"no simulated API serves {request.path}"})
        elif fault is not None and fault.kind != MALFORMED:
            response = api.fault_response(fault, request)
        else:
            response = api.respond(request, request_clock(request.credential))
            if fault is not None and response.status == 200:
                # a page cut short in transit: valid headers, truncated JSON
                response = Response(200, response.body[: len(response.body) // 2], response.headers)
            if self.server.injector.profile.has_mode(BAD_DATA):
                response = corrupt_answer(request, response)
        self._write(response)
        self.log_request(response.status, len(response.body))

    def _write(self, response: Response) -> None:
        reason = HTTPStatus(response.status).phrase
        headers = {
            "date": email.utils.formatdate(usegmt=True),
            "cache-control": "no-cache, no-store, max-age=0",
            **response.headers,
            "content-length": str(len(response.body)),
        }
        head = f"HTTP/1.1 {response.status} {reason}\r\n" + "".join(
            f"{name}: {value}\r\n" for name, value in headers.items()
        )
        self.wfile.write(head.encode("latin-1") + b"\r\n" + response.body)

    def _reset(self) -> None:
        """Drop the connection without an answer (the client sees a reset)."""
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.close_connection = True
        log.debug("reset the connection for %s", self.path)


def make_server(
    host: str = "127.0.0.1",
    port: int = 0,
    faults: str | FaultProfile = "none",
    registry: Any | None = None,
    *,
    world: World | None = None,
    fault_seed: int = 0,
    x_full_archive: bool = True,
    x_rate_limits: Mapping[str, int] | None = None,
    youtube_daily_quota: int | None = None,
) -> SimulatorServer:
    """A simulator bound to (host, port) (port 0: any free port), not yet serving.

    ``faults`` names a profile of ``faults.PROFILES`` (or is one); ``fault_seed`` varies
    which requests it disturbs. The world comes from ``world``, else from ``registry`` (a
    loaded Registry), else from the configured registry. ``x_rate_limits`` overrides
    requests per 15 minutes per endpoint (keys like ``/2/users/by``);
    ``x_full_archive=False`` refuses full-archive search, as X does without Pro access;
    ``youtube_daily_quota`` overrides the YouTube key's daily units (a quota extension).
    """
    the_world = world or world_for(registry)
    injector = FaultInjector(faults, seed=fault_seed)
    modes = injector.profile.modes
    x_api = XApi(the_world, full_archive=x_full_archive, rate_limits=x_rate_limits, modes=modes)
    graph_api = GraphApi(the_world, modes=modes)
    youtube_api = YouTubeApi(
        the_world, modes=modes, daily_quota=youtube_daily_quota or YOUTUBE_DAILY_QUOTA
    )
    apis: list[PlatformApi] = [
        x_api,
        graph_api,
        youtube_api,
        # the profile pictures behind the URLs the three APIs hand out
        MediaApi(the_world, (x_api, graph_api, youtube_api)),
    ]
    return SimulatorServer((host, port), apis, injector)


def start_in_thread(
    host: str = "127.0.0.1",
    port: int = 0,
    faults: str | FaultProfile = "none",
    registry: Any | None = None,
    **options: Any,
) -> SimulatorServer:
    """A simulator serving from a daemon thread; call ``shutdown()`` when done."""
    server = make_server(host, port, faults, registry, **options)
    server.thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.1}, name="simulator", daemon=True
    )
    server.thread.start()
    return server


def serve_forever(host: str = "127.0.0.1", port: int = 8765, faults: str = "none") -> None:
    """Serve in the foreground until interrupted (the CLI's ``simulate``)."""
    server = make_server(host, port, faults)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
