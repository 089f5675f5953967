"""A lock holder's DAG run that a rerun replaced is recognised as gone, so the rerun takes
the marts publication lock over instead of waiting hours for the dead run's heartbeat."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import httpx
from airflow.sdk.api.client import ServerResponseError

SPEC = importlib.util.spec_from_file_location(
    "dag_common_runs", Path(__file__).resolve().parents[2] / "dags" / "common" / "runs.py"
)
assert SPEC and SPEC.loader
runs = importlib.util.module_from_spec(SPEC)
SPEC.loader.exec_module(runs)


def _api_error(status: int, detail: dict[str, str]) -> ServerResponseError:
    request = httpx.Request("GET", "http://in-process/execution/dag-runs/d/r/state")
    response = httpx.Response(status, json={"detail": detail}, request=request)
    err = ServerResponseError.from_response(response)
    assert err is not None
    return err


def test_the_execution_apis_404_is_gone_though_its_text_says_nothing() -> None:
    err = _api_error(404, {"reason": "not_found", "message": "Dag run ... was not found"})
    assert str(err) == "Server returned error"  # what the check used to read, in vain
    assert runs.run_is_gone(err)


def test_other_errors_are_not_taken_for_a_gone_run() -> None:
    assert not runs.run_is_gone(_api_error(500, {"reason": "database", "message": "timeout"}))
    assert not runs.run_is_gone(ConnectionError("api server unreachable"))
    assert runs.run_is_gone(RuntimeError("DagRun not found"))  # a plain message still counts
