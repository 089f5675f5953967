"""What a task can learn about its own DAG run."""

from __future__ import annotations

from typing import Any


def failed_tasks(ti: Any, only: tuple[str, ...] = ()) -> list[str]:
    """The tasks of ``ti``'s run that failed or could not run because of a failure, other
    than ``ti`` itself; with ``only``, those whose group (or id) is one of ``only``."""
    states = ti.get_task_states(dag_id=ti.dag_id, run_ids=[ti.run_id]).get(ti.run_id, {})
    return sorted(
        task_id
        for task_id, state in states.items()
        if state in ("failed", "upstream_failed")
        and task_id != ti.task_id
        and (not only or task_id.split(".")[0] in only)
    )


def run_is_gone(err: BaseException) -> bool:
    """Whether ``err``, raised when asking Airflow for a DAG run's state, says the run does
    not exist (HTTP 404, reason ``not_found``). The execution API's client raises
    ``ServerResponseError('Server returned error')``: the 404 is on its response and the
    reason in its ``detail``, not in its text."""
    response = getattr(err, "response", None)
    if getattr(response, "status_code", None) == 404:
        return True
    detail = getattr(err, "detail", None)
    text = f"{err} {detail}".lower()
    return "not_found" in text or "not found" in text
