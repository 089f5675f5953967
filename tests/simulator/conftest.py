"""Fixtures for the simulator tests: one simulator for the session, sessions on its clock."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime

import pytest
import requests

from missionpulse.simulator.server import SimulatorServer, start_in_thread
from missionpulse.simulator.tokens import issue_token
from tests.simulator.support import RUN_TIME


@pytest.fixture(scope="session")
def simulator() -> Iterator[SimulatorServer]:
    server = start_in_thread()
    yield server
    server.shutdown()


@pytest.fixture
def x_session() -> Iterator[Callable[..., requests.Session]]:
    """Makes requests Sessions whose bearer token puts the API's clock at ``now``."""
    sessions: list[requests.Session] = []

    def make(now: datetime = RUN_TIME) -> requests.Session:
        session = requests.Session()
        session.headers["Authorization"] = f"Bearer {issue_token(now)}"
        sessions.append(session)
        return session

    yield make
    for session in sessions:
        session.close()
