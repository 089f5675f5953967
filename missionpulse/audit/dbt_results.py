"""Keep every dbt invocation's results in ``audit``, passes included.

Cosmos runs each dbt command in a temporary copy of the project and deletes it, with its
``target/run_results.json``, when the task ends; dbt's ``--store-failures`` keeps only the
failing tests of the last run. :func:`record_invocation` is the Cosmos ``callback`` (see
``dags/common/dbt.py``): Cosmos calls it with the temporary project folder after
dbt has run and *before* it raises on a failed test or model, so failed invocations are
recorded too. One ``audit.dbt_runs`` row per invocation, one ``audit.dbt_model_results``
row per model built and one ``audit.dbt_test_results`` row per test, rows are never
replaced by later runs.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

BUILT_TYPES = ("model", "snapshot", "seed")


def _load(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text()) if path.is_file() else {}


def _timing(result: dict[str, Any]) -> tuple[str | None, str | None]:
    steps = result.get("timing") or []
    starts = [s.get("started_at") for s in steps if s.get("started_at")]
    ends = [s.get("completed_at") for s in steps if s.get("completed_at")]
    return (min(starts) if starts else None, max(ends) if ends else None)


def rows_from_artifacts(
    run_results: dict[str, Any], manifest: dict[str, Any]
) -> tuple[dict[str, Any], list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    """(the invocation, its model rows, its test rows) from dbt's two artifacts."""
    meta = run_results.get("metadata") or {}
    args = run_results.get("args") or {}
    nodes = {**(manifest.get("nodes") or {}), **(manifest.get("unit_tests") or {})}
    invocation_id = str(meta.get("invocation_id"))
    results = run_results.get("results") or []
    starts, ends = zip(*(_timing(r) for r in results), strict=False) if results else ((), ())
    run_vars = args.get("vars") or {}
    if isinstance(run_vars, str):
        run_vars = {"raw": run_vars}
    invocation = {
        "invocation_id": invocation_id,
        "command": str(args.get("which") or "unknown"),
        "selected": " ".join(args.get("select") or []) or None,
        "dbt_version": meta.get("dbt_version"),
        "success": all(r.get("status") in ("success", "pass", "skipped") for r in results),
        "started_at": min((s for s in starts if s), default=meta.get("generated_at")),
        "finished_at": max((e for e in ends if e), default=meta.get("generated_at")),
        "elapsed_s": run_results.get("elapsed_time"),
        "run_vars": run_vars,
    }
    models, tests = [], []
    for r in results:
        unique_id = str(r.get("unique_id"))
        node = nodes.get(unique_id) or {}
        kind = node.get("resource_type") or unique_id.split(".", 1)[0]
        failures = r.get("failures")
        if kind in ("test", "unit_test"):
            attached = node.get("attached_node") or next(
                iter((node.get("depends_on") or {}).get("nodes") or []), None
            )
            test_meta = node.get("test_metadata") or {}
            tests.append(
                (
                    invocation_id,
                    unique_id,
                    (test_meta.get("name") or node.get("name") or unique_id)
                    if kind == "test"
                    else f"unit_test:{node.get('name') or unique_id.rsplit('.', 1)[-1]}",
                    attached,
                    node.get("column_name") or (test_meta.get("kwargs") or {}).get("column_name"),
                    (node.get("config") or {}).get("severity"),
                    str(r.get("status")),
                    failures if isinstance(failures, int) else None,
                    r.get("message"),
                    r.get("execution_time"),
                )
            )
        elif kind in BUILT_TYPES:
            rows = (r.get("adapter_response") or {}).get("rows_affected")
            models.append(
                (
                    invocation_id,
                    unique_id,
                    kind,
                    r.get("relation_name") or node.get("relation_name"),
                    str(r.get("status")),
                    rows if isinstance(rows, int) else None,
                    r.get("message"),
                    r.get("execution_time"),
                )
            )
    return invocation, models, tests


def record_artifacts(
    conn: Any,
    target_dir: Path,
    *,
    dag_run_id: str | None = None,
    task_id: str | None = None,
) -> str | None:
    """Write one invocation's results (``target_dir``: dbt's target folder); returns its id."""
    run_results = _load(target_dir / "run_results.json")
    if not run_results:
        log.warning(
            "no run_results.json in %s: nothing recorded for this dbt invocation", target_dir
        )
        return None
    invocation, models, tests = rows_from_artifacts(
        run_results, _load(target_dir / "manifest.json")
    )
    with conn.transaction():
        conn.execute(
            """
            insert into audit.dbt_runs
              (invocation_id, dag_run_id, task_id, command, selected, dbt_version, success,
               started_at, finished_at, elapsed_s, run_vars)
            values (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
            on conflict (invocation_id) do nothing
            """,
            (
                invocation["invocation_id"],
                dag_run_id,
                task_id,
                invocation["command"],
                invocation["selected"],
                invocation["dbt_version"],
                invocation["success"],
                invocation["started_at"],
                invocation["finished_at"],
                invocation["elapsed_s"],
                json.dumps(invocation["run_vars"], default=str),
            ),
        )
        with conn.cursor() as cur:
            cur.executemany(
                """
                insert into audit.dbt_model_results
                  (invocation_id, unique_id, resource_type, relation_name, status,
                   rows_affected, message, execution_s)
                values (%s, %s, %s, %s, %s, %s, %s, %s)
                on conflict do nothing
                """,
                models,
            )
            cur.executemany(
                """
                insert into audit.dbt_test_results
                  (invocation_id, unique_id, test_name, attached_node, column_name, severity,
                   status, failures, message, execution_s)
                values (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
                on conflict do nothing
                """,
                tests,
            )
    return str(invocation["invocation_id"])


def record_invocation(project_dir: str, context: Any = None, **_: Any) -> None:
    """The Cosmos callback: record the invocation that just ran in ``project_dir``.

    Never raises: losing an audit row must not hide dbt's own outcome, which Cosmos
    reports right after this returns; a failure to record is logged as an error.
    """
    from missionpulse import db, warehouse

    dag_run_id = task_id = None
    if context:
        dag_run_id = context.get("run_id")
        ti = context.get("ti") or context.get("task_instance")
        task_id = getattr(ti, "task_id", None)
    try:
        with db.connect(warehouse.ensure_running()) as conn:
            invocation = record_artifacts(
                conn, Path(project_dir) / "target", dag_run_id=dag_run_id, task_id=task_id
            )
        if invocation is not None:  # None: no run_results.json, already logged as a warning
            log.info("dbt invocation %s recorded in audit.dbt_runs", invocation)
    except Exception:  # noqa: BLE001 (see the docstring)
        log.exception("could not record the dbt invocation of %s in audit", task_id)
