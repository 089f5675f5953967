"""``missionpulse audit trace``: the chain behind one row of the engagement mart.

mart row -> the dbt invocation that built it and the tests that ran on it -> the data
quality runs that let its inputs through -> their load ids -> the landing files (sha256
verified against the file on disk) -> the extraction runs and their window.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

MART = "fct_mission_daily_engagement"
MART_RELATION = f"marts.{MART}"


@dataclass
class LandingCheck:
    load_id: str
    entity: str
    landing_file: str
    recorded_sha256: str
    actual_sha256: str | None
    rows: int

    @property
    def verified(self) -> bool:
        return self.actual_sha256 == self.recorded_sha256


@dataclass
class Trace:
    mission_id: str
    platform: str
    day: date
    row: dict[str, Any]
    dbt_run: dict[str, Any] | None = None
    model: dict[str, Any] | None = None
    tests: list[dict[str, Any]] = field(default_factory=list)
    dq_runs: list[dict[str, Any]] = field(default_factory=list)
    mart_dq_runs: list[dict[str, Any]] = field(default_factory=list)
    landing: list[LandingCheck] = field(default_factory=list)
    extractions: list[dict[str, Any]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return (
            self.dbt_run is not None
            and bool(self.dq_runs)
            and all(r["success"] for r in self.dq_runs)
            and bool(self.landing)
            and all(c.verified for c in self.landing)
        )


class TraceError(LookupError):
    pass


def _dicts(cur: Any) -> list[dict[str, Any]]:
    names = [d.name for d in cur.description]
    return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]


def sha256_of(path: Path) -> str | None:
    if not path.is_file():
        return None
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def trace(conn: Any, mission_id: str, platform: str, day: date) -> Trace:
    rows = _dicts(
        conn.execute(
            f"select * from {MART_RELATION} where mission_id = %s and platform = %s "
            "and activity_date = %s",
            (mission_id, platform, day),
        )
    )
    if not rows:
        raise TraceError(
            f"no row in {MART_RELATION} for mission {mission_id}, {platform}, {day}: check the "
            "mission id (marts.dim_missions), the platform and the date"
        )
    result = Trace(mission_id, platform, day, rows[0])
    built_at = result.row.get("built_at")

    # the dbt invocation that built the row: the latest successful build of the model that
    # started before the row's built_at
    models = _dicts(
        conn.execute(
            """
            select r.*, m.unique_id, m.relation_name, m.status as model_status, m.rows_affected
            from audit.dbt_model_results m join audit.dbt_runs r using (invocation_id)
            where m.unique_id like %s and m.status = 'success'
              and (%s::timestamptz is null or r.started_at <= %s::timestamptz)
            order by r.started_at desc
            limit 1
            """,
            (f"model.%.{MART}", built_at, built_at),
        )
    )
    if models:
        result.model = models[0]
        result.dbt_run = models[0]
        result.tests = _dicts(
            conn.execute(
                """
                select t.test_name, t.column_name, t.status, t.failures, t.unique_id,
                       t.invocation_id
                from audit.dbt_test_results t join audit.dbt_runs r using (invocation_id)
                where t.attached_node = %s
                  and (r.invocation_id = %s or (%s::text is not null and r.dag_run_id = %s))
                order by t.unique_id
                """,
                (
                    models[0]["unique_id"],
                    models[0]["invocation_id"],
                    models[0]["dag_run_id"],
                    models[0]["dag_run_id"],
                ),
            )
        )

    # the DQ runs that let the inputs through: those of the same DAG run, else the latest
    # run of each suite before the build (the raw suites run in the platform's extract DAG,
    # before transform_warehouse's dbt build, in another DAG run)
    dag_run_id = result.dbt_run["dag_run_id"] if result.dbt_run else None
    started = result.dbt_run["started_at"] if result.dbt_run else built_at
    result.dq_runs = _dicts(
        conn.execute(
            """
            select distinct on (suite_name) dq_run_id, dag_run_id, suite_name, entity, success,
                   rows_checked, expectations, warning_failures, load_ids, finished_at
            from audit.dq_runs
            where platform = %s and batch_date = %s
              and (dag_run_id = %s or finished_at <= %s)
            order by suite_name, dag_run_id is not distinct from %s desc, finished_at desc
            """,
            (platform, day, dag_run_id, started, dag_run_id),
        )
    )
    result.mart_dq_runs = _dicts(
        conn.execute(
            """
            select distinct on (suite_name) dq_run_id, suite_name, success, rows_checked,
                   expectations, finished_at
            from audit.dq_runs
            where suite_name = %s and batch_date = %s and (dag_run_id = %s or %s::text is null)
            order by suite_name, finished_at desc
            """,
            (f"marts__{MART}", day, dag_run_id, dag_run_id),
        )
    )

    load_ids = sorted({lid for run in result.dq_runs for lid in (run["load_ids"] or [])})
    for load in _dicts(
        conn.execute(
            "select load_id, entity, landing_file, sha256, rows from audit.raw_loads "
            "where load_id = any(%s) order by entity",
            (load_ids,),
        )
    ):
        result.landing.append(
            LandingCheck(
                load["load_id"],
                load["entity"],
                load["landing_file"],
                load["sha256"],
                sha256_of(Path(load["landing_file"])),
                load["rows"],
            )
        )
    handle = result.row.get("handle")
    result.extractions = _dicts(
        conn.execute(
            """
            select extract_run_id, handle, interval_start, interval_end, status, requests,
                   retries, rows, load_ids, recorded_at
            from audit.extract_runs
            where platform = %s and lower(handle) = lower(%s)
              and exists (select 1 from jsonb_each_text(load_ids) l where l.value = any(%s))
            order by recorded_at
            """,
            (platform, handle, load_ids),
        )
    )
    return result


def render(t: Trace) -> str:
    lines = [
        f"{MART}: mission {t.mission_id}, {t.platform}, {t.day}",
        "  row: "
        + ", ".join(
            f"{k}={t.row[k]}"
            for k in ("handle", "followers_count", "posts", "interactions", "built_at")
            if k in t.row
        ),
    ]
    if t.dbt_run:
        r = t.dbt_run
        lines += [
            f"dbt: invocation {r['invocation_id']} ({r['command']} {r['selected'] or ''}), "
            f"dag run {r['dag_run_id']}, task {r['task_id']}, dbt {r['dbt_version']}, "
            f"{r['started_at']} .. {r['finished_at']}, model {r['unique_id']} "
            f"{r['model_status']} into {r['relation_name']}",
            f"  tests on the model: {len(t.tests)}, "
            f"{sum(x['status'] == 'pass' for x in t.tests)} passed",
        ]
        lines += [
            f"    {x['status']:<5} {x['test_name']}"
            f"{' (' + x['column_name'] + ')' if x['column_name'] else ''}"
            for x in t.tests
        ]
    else:
        lines.append("dbt: NO recorded dbt invocation built this row (recorded before audit?)")
    lines.append(f"data quality runs that passed the inputs: {len(t.dq_runs)}")
    lines += [
        f"  {'pass' if r['success'] else 'FAIL'} {r['suite_name']} ({r['dq_run_id']}): "
        f"{r['expectations']} expectations on {r['rows_checked']} rows, "
        f"{r['warning_failures']} warnings, loads {', '.join(r['load_ids'] or [])}"
        for r in t.dq_runs
    ]
    lines += [
        f"  mart check: {'pass' if r['success'] else 'FAIL'} {r['suite_name']} ({r['dq_run_id']})"
        for r in t.mart_dq_runs
    ]
    lines.append(f"landing files: {len(t.landing)}")
    for c in t.landing:
        state = (
            "sha256 verified"
            if c.verified
            else (
                "MISSING" if c.actual_sha256 is None else f"MISMATCH (file has {c.actual_sha256})"
            )
        )
        lines.append(f"  {c.entity:<9} {c.load_id} {c.rows} rows {c.landing_file}")
        lines.append(f"            sha256 {c.recorded_sha256}: {state}")
    lines.append("extraction:")
    lines += [
        f"  {e['extract_run_id']} {e['handle']} window {e['interval_start']} .. "
        f"{e['interval_end']}: {e['status']}, {e['requests']} requests, {e['retries']} retries, "
        f"rows {e['rows']}"
        for e in t.extractions
    ]
    lines.append("chain complete and verified" if t.ok else "CHAIN INCOMPLETE OR NOT VERIFIED")
    return "\n".join(lines)
