"""The audit trail: dbt results kept for every invocation (passes and failures), the trace
of a mart row down to verified landing files, and the auditors' HTML report."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import psycopg
import pytest

from expectations.runner import QuarantineError
from extractors.common.landing import write_batch
from extractors.common.load import load_manifest
from extractors.common.window import Window
from extractors.x.extract import ENTITIES
from missionpulse import pipeline
from missionpulse.audit import trace as trace_module
from missionpulse.audit.dbt_results import record_artifacts, rows_from_artifacts
from missionpulse.audit.report import build_report
from missionpulse.audit.trace import render, trace
from tests.warehouse_support import forget_days

MODEL = "model.missionpulse.fct_mission_daily_engagement"


def artifacts(invocation: str, test_status: str = "fail") -> tuple[dict, dict]:
    started = datetime.now(UTC) - timedelta(minutes=1)
    timing = [
        {
            "name": "execute",
            "started_at": started.isoformat(),
            "completed_at": (started + timedelta(seconds=2)).isoformat(),
        }
    ]
    run_results = {
        "metadata": {
            "dbt_version": "1.11.16",
            "invocation_id": invocation,
            "generated_at": started.isoformat(),
        },
        "args": {
            "which": "build",
            "select": ["fct_mission_daily_engagement"],
            "vars": {"start_date": "2026-08-01", "end_date": "2026-08-02"},
        },
        "elapsed_time": 2.5,
        "results": [
            {
                "unique_id": MODEL,
                "status": "success",
                "timing": timing,
                "execution_time": 1.2,
                "adapter_response": {"rows_affected": 400},
                "message": "SELECT 400",
                "relation_name": '"db"."marts"."fct_mission_daily_engagement"',
                "failures": None,
            },
            {
                "unique_id": "test.missionpulse.not_null_fct_mission_id.abc",
                "status": "pass",
                "timing": timing,
                "execution_time": 0.1,
                "failures": 0,
                "message": None,
            },
            {
                "unique_id": "test.missionpulse.accepted_values_fct_platform.def",
                "status": test_status,
                "timing": timing,
                "execution_time": 0.1,
                "failures": 3,
                "message": "Got 3 results, configured to fail if != 0",
            },
        ],
    }
    manifest = {
        "nodes": {
            MODEL: {"resource_type": "model", "relation_name": "marts.fct"},
            "test.missionpulse.not_null_fct_mission_id.abc": {
                "resource_type": "test",
                "attached_node": MODEL,
                "column_name": "mission_id",
                "test_metadata": {"name": "not_null", "kwargs": {"column_name": "mission_id"}},
                "config": {"severity": "ERROR"},
            },
            "test.missionpulse.accepted_values_fct_platform.def": {
                "resource_type": "test",
                "depends_on": {"nodes": [MODEL]},
                "test_metadata": {"name": "accepted_values", "kwargs": {"column_name": "platform"}},
                "config": {"severity": "ERROR"},
            },
        }
    }
    return run_results, manifest


def write_target(root: Path, invocation: str, test_status: str = "fail") -> Path:
    target = root / invocation / "target"
    target.mkdir(parents=True)
    run_results, manifest = artifacts(invocation, test_status)
    (target / "run_results.json").write_text(json.dumps(run_results))
    (target / "manifest.json").write_text(json.dumps(manifest))
    return target


def test_artifacts_become_one_invocation_its_models_and_every_test() -> None:
    invocation, models, tests = rows_from_artifacts(*artifacts("inv-1"))

    assert invocation["invocation_id"] == "inv-1" and invocation["success"] is False
    assert invocation["command"] == "build" and invocation["run_vars"]["start_date"] == "2026-08-01"
    assert [(m[1], m[4], m[5]) for m in models] == [(MODEL, "success", 400)]
    assert {(t[2], t[3], t[4], t[6]) for t in tests} == {
        ("not_null", MODEL, "mission_id", "pass"),  # passes are kept, not only failures
        ("accepted_values", MODEL, "platform", "fail"),
    }


def test_dbt_unit_tests_are_kept_with_the_model_they_test() -> None:
    run_results, manifest = artifacts("inv-unit")
    unit = "unit_test.missionpulse.fct_mission_daily_engagement.rates_are_per_follower"
    run_results["results"].append({"unique_id": unit, "status": "fail", "failures": 1})
    manifest["unit_tests"] = {
        unit: {"name": "rates_are_per_follower", "depends_on": {"nodes": [MODEL]}}
    }

    _, _, tests = rows_from_artifacts(run_results, manifest)

    assert ("unit_test:rates_are_per_follower", MODEL, "fail") in {
        (t[2], t[3], t[6]) for t in tests
    }


@pytest.mark.integration
def test_every_invocation_is_kept_passes_included(conn: psycopg.Connection, tmp_path: Path) -> None:
    first = record_artifacts(conn, write_target(tmp_path, "inv-keep-1"), dag_run_id="r1")
    second = record_artifacts(
        conn, write_target(tmp_path, "inv-keep-2", "pass"), dag_run_id="r2", task_id="t"
    )

    rows = conn.execute(
        "select invocation_id, status from audit.dbt_test_results "
        "where invocation_id in (%s, %s) order by 1, 2",
        (first, second),
    ).fetchall()
    assert rows == [
        ("inv-keep-1", "fail"),
        ("inv-keep-1", "pass"),
        ("inv-keep-2", "pass"),
        ("inv-keep-2", "pass"),
    ]
    assert record_artifacts(conn, tmp_path / "nowhere") is None  # no artifacts: nothing, no error


def tweet(post_id: str, day: date, likes: int = 3) -> dict:
    return {
        "request": {"handle": "PakinUSA"},
        "observed_at": f"{day + timedelta(days=1)}T02:00:00+00:00",
        "data": {
            "id": post_id,
            "text": "Reception",
            "created_at": f"{day}T10:00:00Z",
            "public_metrics": {
                "like_count": likes,
                "retweet_count": 0,
                "reply_count": 0,
                "quote_count": 0,
            },
        },
    }


@pytest.mark.integration
def test_trace_walks_the_chain_and_verifies_each_landing_file(
    warehouse_url: str,
    conn: psycopg.Connection,
    landing_root: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    day, dag_run = date(2026, 8, 1), "trace-run-1"
    pipeline.ensure_raw_tables(warehouse_url)
    manifest = write_batch(landing_root, "x", "posts", Window.for_day(day), [tweet("1", day)])
    load_manifest(conn, ENTITIES["posts"], manifest)
    conn.execute(
        "insert into audit.extract_runs (extract_run_id, platform, handle, interval_start, "
        "interval_end, status, requests, retries, rows, load_ids) values "
        "('x-trace', 'x', 'PakinUSA', %s, %s, 'ok', 3, 1, '{\"posts\": 1}', %s)",
        (
            Window.for_day(day).start,
            Window.for_day(day).end,
            json.dumps({"posts": manifest.load_id}),
        ),
    )
    conn.commit()
    pipeline.validate_raw("x", day, dag_run_id=dag_run)
    record_artifacts(conn, write_target(tmp_path, "inv-trace", "pass"), dag_run_id=dag_run)
    conn.execute("create schema if not exists test_audit")
    conn.execute(
        "create table if not exists test_audit.fct (mission_id text, platform text, "
        "activity_date date, handle text, posts int, built_at timestamptz)"
    )
    conn.execute(
        "insert into test_audit.fct values ('pk-emb-usa', 'x', %s, 'pakinusa', 1, now())", (day,)
    )
    conn.commit()
    monkeypatch.setattr(trace_module, "MART_RELATION", "test_audit.fct")

    result = trace(conn, "pk-emb-usa", "x", day)

    assert result.ok, render(result)
    assert result.dbt_run["invocation_id"] == "inv-trace"
    assert {t["status"] for t in result.tests} == {"pass"} and len(result.tests) == 2
    assert "raw__x__posts" in {r["suite_name"] for r in result.dq_runs}
    (check,) = result.landing
    assert check.load_id == manifest.load_id and check.verified
    assert result.extractions[0]["requests"] == 3
    text = render(result)
    assert "sha256 verified" in text and "2026-08-01 00:00:00+00:00 .." in text

    # a landing file changed after the fact no longer verifies
    with open(check.landing_file, "ab") as handle:
        handle.write(b"tampered")
    tampered = trace(conn, "pk-emb-usa", "x", day)
    assert not tampered.ok and "MISMATCH" in render(tampered)


@pytest.mark.integration
def test_report_shows_pass_rates_and_every_quarantine_with_its_reason(
    warehouse_url: str, conn: psycopg.Connection, landing_root: Path
) -> None:
    day = date(2026, 8, 3)
    pipeline.ensure_raw_tables(warehouse_url)
    records = [tweet("1", day), tweet("2", day, likes=-5)]
    load_manifest(
        conn,
        ENTITIES["posts"],
        write_batch(landing_root, "x", "posts", Window.for_day(day), records),
    )
    with pytest.raises(QuarantineError):
        pipeline.validate_raw("x", day, dag_run_id="report-run")

    page = build_report(conn, day - timedelta(days=1), day)

    assert page.startswith("<!doctype html>") and "<script" not in page and "http" not in page
    assert "raw__x__posts" in page and "like_count_non_negative" in page
    assert "quarantined" in page and "-5" in page
    assert "Freshness per source" in page


@pytest.fixture(scope="module", autouse=True)
def _forget_fixture_days(warehouse_url: str) -> Iterator[None]:
    """Leave no hand-made raw batch behind for the later end-to-end modules."""
    yield
    forget_days(warehouse_url, [date(2026, 8, 1), date(2026, 8, 3)])
