"""The weekly scorecard: the week's figures, escaped names, inline SVG charts, the data-quality
verdict, and clear errors for weeks it cannot report."""

from __future__ import annotations

import os
import re
import xml.etree.ElementTree as ET
from datetime import date
from pathlib import Path

import psycopg
import pytest
import yaml
from click.testing import CliRunner

from missionpulse import scorecard
from missionpulse.cli import main
from missionpulse.scorecard import ScorecardError, Week, parse_week
from tests.scorecard.support import ALPHA, MARTS

ROOT = Path(__file__).resolve().parents[2]
W10 = Week(2023, 10)  # 2023-03-06 .. 2023-03-12
TODAY = date(2023, 3, 9)  # a Thursday of W10


def svgs(page: str) -> list[str]:
    return re.findall(r"<svg.*?</svg>", page, flags=re.S)


# --------------------------------------------------------------------------- weeks


def test_week_parses_iso_weeks_across_year_ends() -> None:
    assert parse_week("2023-W10", today=TODAY) == W10
    assert (W10.start, W10.end) == (date(2023, 3, 6), date(2023, 3, 12))
    assert parse_week("2020-W53", today=TODAY).start == date(2020, 12, 28)
    assert Week.of(date(2021, 1, 3)).label == "2020-W53"
    assert W10.previous().label == "2023-W09"


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("2023-10", "'2023-10' is not an ISO week: write YYYY-Www, e.g. 2023-W10"),
        ("2023W10", "not an ISO week"),
        ("last week", "not an ISO week"),
        ("2023-W00", "2023-W00 does not exist: 2023 has ISO weeks W01 to W52"),
        ("2022-W53", "2022-W53 does not exist: 2022 has ISO weeks W01 to W52"),
        ("2023-W11", "2023-W11 (2023-03-13 .. 2023-03-19) has not started yet"),
    ],
)
def test_bad_weeks_are_refused_with_what_to_write(value: str, message: str) -> None:
    with pytest.raises(ScorecardError, match=re.escape(message)):
        parse_week(value, today=TODAY)


def test_backfill_hint_stops_at_yesterday() -> None:
    assert scorecard.backfill_hint(W10, today=TODAY) == (
        "run `missionpulse backfill --from 2023-03-06 --to 2023-03-08` first"
    )
    assert "--to 2023-03-12" in scorecard.backfill_hint(W10, today=date(2023, 6, 1))


# --------------------------------------------------------------------------- charts


def test_svg_helpers_draw_well_formed_escaped_charts() -> None:
    charts = [
        scorecard.svg_bars(
            [("<x> & y", 0.5, "#000"), ("z", -0.25, "#111"), ("n", None, "#222")], "net", "t<"
        ),
        scorecard.svg_columns(
            ["Mon", "Tue"], [("a&b", [1.0, None], "#000"), ("c", [3.0, 2.0], "#111")], "count", "t"
        ),
        scorecard.svg_grid(
            ["x"], ["Mon"], {("x", "Mon"): ("#0f0", "ok <fine>")}, "t", [("#0f0", "passed")]
        ),
    ]
    for chart in charts:
        root = ET.fromstring(chart)  # well-formed XML, labels escaped
        assert root.tag == "{http://www.w3.org/2000/svg}svg"
    assert "&lt;x&gt; &amp; y" in charts[0] and "<x>" not in charts[0]
    assert "+0.50" in charts[0] and "-0.25" in charts[0] and "n/a" in charts[0]


# --------------------------------------------------------------------------- the page


@pytest.fixture(scope="module")
def page(marts_url: str) -> str:
    """The fixture week's page (also written to $MISSIONPULSE_TEST_ARTIFACTS/scorecard/)."""
    with psycopg.connect(marts_url) as conn:
        conn.read_only = True
        built = scorecard.build_scorecard(conn, W10, today=date(2023, 6, 1))
    artifacts = os.environ.get("MISSIONPULSE_TEST_ARTIFACTS")
    if artifacts:
        target = Path(artifacts) / "scorecard" / f"{W10.label}.html"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(built, encoding="utf-8")
    return built


@pytest.mark.integration
def test_headline_figures_and_their_change(page: str) -> None:
    text = re.sub(r"<[^>]+>", " ", page)
    text = re.sub(r"\s+", " ", text)
    assert "Missions reporting 3 ▲ +2 (+200.0%)" in text
    assert "Posts 6 ▲ +2 (+50.0%)" in text
    assert "Interactions 457 ▲ +257 (+128.5%)" in text
    assert "Followers (end of week) 1,710 ▲ +810 (+90.0%)" in text
    # (7 - 7) / 14 this week, (3 - 1) / 4 the week before
    assert "Net sentiment (-1..+1) +0.00 ▼ -0.50" in text
    # mean of 62.5, 100 and 40 against 50
    assert "Average compliance score 67.5 ▲ +17.5 pts" in text
    assert "2 of 7 days in the marts; the previous week (2023-W09) has 1" in text


@pytest.mark.integration
def test_the_page_opens_with_the_week_in_brief(page: str) -> None:
    brief = page.split('<ul class="brief">')[1].split("</ul>")[0]
    assert "3 missions posted 6 times and drew 457 interactions over 2 day(s)." in brief
    assert (
        "Data quality: published figures of 2023-03-07 come from a day with a failed check"
    ) in brief
    assert (
        "Compliance: 2 of 3 missions failed a policy check; lowest score Consulate Gamma" in brief
    )
    assert "1 negative spike(s), the sharpest High Commission Beta on facebook" in brief


@pytest.mark.integration
def test_names_and_reasons_from_the_warehouse_are_escaped(page: str) -> None:
    assert ALPHA not in page and "<Alpha>" not in page and "<EmbAlpha>" not in page
    assert "Embassy &lt;Alpha&gt; &amp; &quot;Co&quot;" in page
    assert "x handle &lt;EmbAlpha&gt; does not match" in page
    assert "&lt;b&gt;bad&lt;/b&gt;" in page and "<b>bad</b>" not in page


@pytest.mark.integration
def test_page_is_self_contained_with_inline_svg_charts(page: str) -> None:
    charts = svgs(page)
    assert len(charts) == 4  # interactions per day, DQ grid, failing checks, net sentiment
    for chart in charts:
        ET.fromstring(chart)
    assert "<script" not in page.lower()
    assert not re.search(r"""(src|href)\s*=|<link|@import|url\(""", page)


@pytest.mark.integration
def test_rankings_overall_and_per_region(page: str) -> None:
    rankings = page.split("<h2>Rankings</h2>")[1].split("<h2>")[0]
    assert "1. High Commission Beta" in rankings  # most effective: 100 interactions per post
    assert "2. Embassy &lt;Alpha&gt;" in rankings
    region = rankings.split("Leader of each region")[1]
    europe = region.split("<td>Europe</td>")[1].split("</tr>")[0]
    assert "Embassy &lt;Alpha&gt;" in europe and "1,010" in europe
    assert "Consulate Gamma" not in europe
    assert "<td>Asia</td>" in region


@pytest.mark.integration
def test_compliance_failures_worst_first_with_each_check(page: str) -> None:
    section = page.split("<h2>Compliance: what needs action</h2>")[1].split("<h2>")[0]
    assert "2 of 3 missions failed at least one policy check" in section
    table = section.split("Missions to act on")[1]
    assert table.index("Consulate Gamma") < table.index("Embassy &lt;Alpha&gt;")
    assert '<td class="n">40.0</td>' in table and '<td class="n">62.5</td>' in table
    assert "<li>bio_link: x bio lacks mofa.example</li>" in table
    assert "High Commission Beta" not in table
    # handle_naming failed for 1 of 3 evaluated missions
    assert "handle naming: 33%" in section


@pytest.mark.integration
def test_sentiment_by_platform_and_the_weeks_spikes(page: str) -> None:
    section = page.split("<h2>Sentiment</h2>")[1]
    assert "x: +0.50" in section and "facebook: -0.67" in section
    spikes = section.split("Negative spikes (1)")[1]
    assert "2023-03-06" in spikes and "High Commission Beta" in spikes
    assert "5 of 8" in spikes and "62%" in spikes and "10%" in spikes


@pytest.mark.integration
def test_data_quality_says_which_published_days_failed_a_check(page: str) -> None:
    section = page.split("<h2>Data quality</h2>")[1].split("<h2>")[0]
    assert "Some published figures of this week come from days with a failed check." in section
    assert "<b>2023-03-07</b>: x batch quarantined by raw__x__posts" in section
    assert "2 dbt test(s) failed" in section
    assert "<b>2023-03-06</b>" not in section
    assert (
        "Validations this week: 5, passed 3 (pass rate 60.0%); quarantined batches: 1." in section
    )
    assert '<td>x</td><td>2023-03-07</td><td class="n">30.0</td>' in section


@pytest.mark.integration
def test_a_warehouse_without_the_newer_marts_says_what_is_missing(partial_marts_url: str) -> None:
    with psycopg.connect(partial_marts_url) as conn:
        page = scorecard.build_scorecard(conn, W10, today=date(2023, 6, 1))
    assert 'Posts</div><div class="v">6<' in page
    assert "marts.mart_leaderboard is not in the warehouse yet" in page
    assert (
        "Not in this report: marts.mart_leaderboard, marts.fct_mission_compliance, "
        "marts.fct_mission_daily_sentiment (not built in this warehouse yet;"
    ) in page
    assert "Cannot confirm that this week's figures passed their data-quality checks" in page
    assert "missionpulse backfill --from 2023-03-06 --to 2023-03-12" in page


@pytest.mark.integration
def test_a_week_without_data_names_the_week_and_the_backfill(marts_url: str) -> None:
    with (
        psycopg.connect(marts_url) as conn,
        pytest.raises(ScorecardError) as caught,
    ):
        scorecard.build_scorecard(conn, Week(2023, 20), today=date(2023, 6, 1))
    assert str(caught.value) == (
        "no data in the marts for 2023-W20 (2023-05-15 .. 2023-05-21); "
        "run `missionpulse backfill --from 2023-05-15 --to 2023-05-21` first"
    )


@pytest.mark.integration
def test_cli_writes_the_report_and_fails_clearly(
    marts_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MISSIONPULSE_WAREHOUSE_URL", marts_url)
    runner = CliRunner()
    out = tmp_path / "reports" / "w10.html"

    done = runner.invoke(main, ["report", "--week", "2023-W10", "--out", str(out)])
    assert done.exit_code == 0, done.output
    assert "scorecard of 2023-W10" in done.output
    assert out.read_text(encoding="utf-8").startswith("<!doctype html>")

    for week, message in [
        ("2023-w10x", "is not an ISO week"),
        ("2023-W20", "no data in the marts for 2023-W20"),
    ]:
        failed = runner.invoke(main, ["report", "--week", week, "--out", str(tmp_path / "x.html")])
        assert failed.exit_code != 0
        assert message in failed.output
    assert not (tmp_path / "x.html").exists()


@pytest.mark.integration
def test_weekly_publish_writes_on_sundays_only(marts_url: str, tmp_path: Path) -> None:
    assert scorecard.publish_weekly(marts_url, date(2023, 3, 11), tmp_path) is None  # Saturday
    written = scorecard.publish_weekly(marts_url, date(2023, 3, 12), tmp_path)
    assert written == tmp_path / "2023-W10.html"
    assert "MissionPulse weekly scorecard: 2023-W10" in written.read_text(encoding="utf-8")


def test_fixture_columns_are_documented() -> None:
    """Every column the fixture creates (the scorecard reads) is a documented mart column."""
    documented: dict[str, set[str]] = {}
    for path in (ROOT / "dbt_project" / "models" / "marts").rglob("_*.yml"):
        for model in yaml.safe_load(path.read_text()).get("models", []):
            documented[model["name"]] = {c["name"] for c in model.get("columns", [])}
    for table, ddl in MARTS.items():
        columns = {part.split()[0] for part in ddl.split(",")}
        assert columns <= documented[table], (table, columns - documented[table])


def test_charts_draw_the_warehouse_decimals() -> None:
    """psycopg returns numeric columns as Decimal; mixed with float zero they must draw."""
    from decimal import Decimal

    from missionpulse.scorecard import svg_bars, svg_columns

    bars = svg_bars([("x", Decimal("0.25"), "#000"), ("youtube", None, "#111")], "net", "t")
    assert bars.count("<rect") == 1
    columns = svg_columns(["Mon", "Tue"], [("posts", [Decimal("3"), 1.5], "#000")], "count", "t")
    assert columns.count("<rect") == 3  # two columns and the legend swatch
