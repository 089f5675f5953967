"""The BI tool end to end: two days through the pipeline, `missionpulse bi start`, every dashboard
of the bundle opened in headless Chromium, its charts rendered with the warehouse's numbers.

Needs `make setup-bi` (Superset in .venv-bi, Chromium, playwright-core). Screenshots and the
browser's report go to ``$MISSIONPULSE_TEST_ARTIFACTS/bi`` when set, else to pytest's
temporary directory (kept for the last three sessions); the path is printed.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
import yaml

from missionpulse import bi, processes

pytestmark = [pytest.mark.e2e, pytest.mark.integration]

ROOT = Path(__file__).resolve().parents[2]
# Two days, a Sunday and the Monday after (at least two days ago): the second run restates the
# first, whose comments the first run scored after its marts were built, so every mart
# (sentiment included) holds a day with real numbers; and two ISO weeks give the weekly marts
# a week-on-week change (most improved compliance).
_MONDAY = datetime.now(UTC).date() - timedelta(days=2)
_MONDAY -= timedelta(days=_MONDAY.weekday())
DAYS = [_MONDAY - timedelta(days=1), _MONDAY]
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
NODE_MODULES = bi.venv_dir() / "browser" / "node_modules"


def _missing_tools() -> list[str]:
    missing = []
    if not (bi.venv_dir() / "bin" / "superset").exists():
        missing.append("Superset (.venv-bi)")
    if not Path(CHROMIUM).exists():
        missing.append(f"Chromium ({CHROMIUM})")
    if not (NODE_MODULES / "playwright-core").exists() or not shutil.which("node"):
        missing.append("node + playwright-core")
    return missing


def missionpulse(
    *args: str, timeout: int = 900, check: bool = True
) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [str(Path(sys.executable).with_name("missionpulse")), *args],
        env=dict(os.environ),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if done.returncode != 0 and check:
        pytest.fail(
            f"missionpulse {' '.join(args)} exited {done.returncode}\n"
            f"stdout: {done.stdout[-3000:]}\nstderr: {done.stderr[-3000:]}\n"
            f"BI log tail: {_log_tail()}"
        )
    return done


def _log_tail() -> str:
    log = bi.home() / "superset.log"
    return log.read_text(errors="replace")[-3000:] if log.exists() else "(no log)"


def dashboard_slugs(bundle: Path) -> list[str]:
    return sorted(
        yaml.safe_load(path.read_text())["slug"] for path in (bundle / "dashboards").glob("*.yaml")
    )


@pytest.fixture(scope="module")
def artifacts(tmp_path_factory: pytest.TempPathFactory) -> Path:
    env = os.environ.get("MISSIONPULSE_TEST_ARTIFACTS")
    path = Path(env) / "bi" if env else tmp_path_factory.mktemp("bi-artifacts")
    path.mkdir(parents=True, exist_ok=True)
    print(f"BI screenshots and report: {path}")
    return path


_SETUP_FAILED: list[
    str
] = []  # pytest retries a failed module fixture for every test: once is enough


@pytest.fixture(scope="module")
def running_bi(test_state_dir: Path, warehouse_url: str) -> Iterator[bi.BIStatus]:
    missing = _missing_tools()
    if missing:
        pytest.skip(f"BI tools not installed ({', '.join(missing)}): run `make setup-bi`")
    if _SETUP_FAILED:
        pytest.fail(f"setup failed before (see the first error): {_SETUP_FAILED[0]}")
    try:
        for day in DAYS:
            # a day that ends failed (a data test of some mart, a quarantined platform) still
            # publishes what passed: the dashboards' own checks below decide; the pipeline's
            # tests (tests/pipeline) are where a failed run fails
            done = missionpulse("run", "--date", day.isoformat(), check=False)
            if done.returncode != 0:
                print(f"warning: missionpulse run --date {day} ended failed: {done.stdout[-400:]}")
        missionpulse("bi", "start", timeout=600)
    except BaseException as err:
        _SETUP_FAILED.append(str(err).splitlines()[0] if str(err) else repr(err))
        raise
    status = bi.status()
    assert status.running and status.url and status.port
    try:
        yield status
    finally:
        missionpulse("bi", "stop", timeout=120)


@pytest.fixture(scope="module")
def browser_report(running_bi: bi.BIStatus, artifacts: Path) -> dict[str, Any]:
    env = {
        **os.environ,
        "NODE_PATH": str(NODE_MODULES),
        "CHROMIUM": CHROMIUM,
        "MISSIONPULSE_BI_USER": running_bi.admin_user,
        "MISSIONPULSE_BI_PASSWORD": running_bi.admin_password or "",
    }
    done = subprocess.run(
        [
            "node",
            str(ROOT / "bi" / "browser" / "check_dashboards.mjs"),
            str(running_bi.url),
            str(artifacts),
            *dashboard_slugs(bi.bundle_dir()),
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    report: dict[str, Any] = json.loads((artifacts / "report.json").read_text())
    assert done.returncode == 0, f"{done.stdout}\n{done.stderr}\n{report.get('error')}"
    return report


def test_every_dashboard_renders_every_chart_with_data(browser_report: dict[str, Any]) -> None:
    slugs = dashboard_slugs(bi.bundle_dir())
    assert [d["slug"] for d in browser_report["dashboards"]] == slugs
    for dash in browser_report["dashboards"]:
        where = f"dashboard {dash['slug']} (screenshot {dash['screenshot']})"
        assert Path(dash["screenshot"]).stat().st_size > 10_000, where
        assert dash["charts"] > 0, where
        assert dash["errors"] == [], where
        assert dash["rendered"] == dash["charts"], where
        chart_data = [r for r in dash["responses"] if r["slice_id"] is not None]
        assert len({r["slice_id"] for r in chart_data}) == dash["charts"], where
        empty = [r for r in chart_data if r["status"] != 200 or not r["rowcount"]]
        assert empty == [], f"{where}: charts without data: {empty}"


# (dashboard, query of the big numbers it shows, computed straight from the marts)
SHOWN_NUMBERS = [
    (
        "missionpulse-overview",
        "select sum(e.interactions), sum(e.posts) from marts.fct_mission_daily_engagement e "
        "join marts.dim_missions m on m.mission_id = e.mission_id",
    ),
    (
        "missionpulse-sentiment",
        "select sum(s.comments_scored) from marts.fct_mission_daily_sentiment s "
        "join marts.dim_missions m on m.mission_id = s.mission_id",
    ),
    (
        "missionpulse-data-quality",
        "select sum(q.runs) from marts.mart_data_quality_daily q",
    ),
]


@pytest.mark.parametrize("slug,query", SHOWN_NUMBERS, ids=[slug for slug, _ in SHOWN_NUMBERS])
def test_dashboard_shows_the_warehouse_numbers(
    browser_report: dict[str, Any], warehouse_url: str, slug: str, query: str
) -> None:
    with psycopg.connect(warehouse_url) as conn:
        numbers = conn.execute(query).fetchone()
    assert numbers and all(number and number > 0 for number in numbers), (slug, numbers)
    (dash,) = [d for d in browser_report["dashboards"] if d["slug"] == slug]
    shown = " | ".join(dash["text"])
    for number in numbers:
        assert f"{number:,}" in shown, f"{number:,} not on {slug}: {shown[:2000]}"


def _api(status: bi.BIStatus, path: str) -> Any:
    login = urllib.request.Request(
        f"{status.url}api/v1/security/login",
        data=json.dumps(
            {
                "username": status.admin_user,
                "password": status.admin_password,
                "provider": "db",
                "refresh": False,
            }
        ).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(login, timeout=30) as reply:
        token = json.load(reply)["access_token"]
    request = urllib.request.Request(
        f"{status.url}{path}", headers={"Authorization": f"Bearer {token}"}
    )
    with urllib.request.urlopen(request, timeout=30) as reply:
        return json.load(reply)


def test_editing_the_bundle_and_restarting_shows_the_change(
    running_bi: bi.BIStatus, browser_report: dict[str, Any], tmp_path: Path
) -> None:
    edited = tmp_path / "bundle"
    shutil.copytree(bi.bundle_dir(), edited)
    path = edited / "dashboards" / "missionpulse-overview.yaml"
    config = yaml.safe_load(path.read_text())
    config["dashboard_title"] = "Overview (edited)"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    os.environ["MISSIONPULSE_BI_BUNDLE"] = str(edited)
    try:
        missionpulse("bi", "stop", timeout=120)
        missionpulse("bi", "start", timeout=600)
        restarted = bi.status()
        title = _api(restarted, "api/v1/dashboard/missionpulse-overview")["result"]
        assert title["dashboard_title"] == "Overview (edited)"
    finally:
        del os.environ["MISSIONPULSE_BI_BUNDLE"]
    original = yaml.safe_load(
        (bi.bundle_dir() / "dashboards" / "missionpulse-overview.yaml").read_text()
    )["dashboard_title"]
    missionpulse("bi", "start", timeout=600)  # already running: re-imports the real bundle
    title = _api(bi.status(), "api/v1/dashboard/missionpulse-overview")["result"]
    assert title["dashboard_title"] == original


def test_stop_ends_every_process_and_frees_the_port(running_bi: bi.BIStatus) -> None:
    status = bi.status()
    assert status.running and status.pid and status.port
    missionpulse("bi", "stop", timeout=120)
    assert not bi.status().running
    assert processes.group_members(status.pid) == []
    assert processes.port_free(status.port)


def test_scorecard_renders_its_charts_in_a_browser(
    running_bi: bi.BIStatus, artifacts: Path, warehouse_url: str
) -> None:
    """The weekly scorecard of the Sunday's week: written by the CLI from the same marts,
    opened in Chromium from the file alone (no network), its SVG charts drawn."""
    year, week, _ = DAYS[0].isocalendar()
    label = f"{year}-W{week:02d}"
    out = artifacts / f"scorecard-{label}.html"
    missionpulse("report", "--week", label, "--out", str(out))
    env = {**os.environ, "NODE_PATH": str(NODE_MODULES), "CHROMIUM": CHROMIUM}
    done = subprocess.run(
        ["node", str(ROOT / "bi" / "browser" / "check_report.mjs"), str(out), str(artifacts)],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    result = json.loads((artifacts / "scorecard.json").read_text())
    assert result["errors"] == [] and result["external_requests"] == [], result
    drawn = [chart for chart in result["charts"] if chart["shapes"] > 0 and chart["width"] > 100]
    assert len(drawn) >= 3, result["charts"]
    assert Path(result["screenshot"]).stat().st_size > 20_000
    with psycopg.connect(warehouse_url) as conn:
        (posts,) = conn.execute(
            "select sum(posts) from marts.fct_mission_daily_engagement"
            " where activity_date between %s and %s",
            (DAYS[0] - timedelta(days=6), DAYS[0]),
        ).fetchone()
    assert posts and f"{posts:,}" in out.read_text()  # the week's posts, as the page says them
