"""The command line: the commands people type, with real inputs and outputs."""

from __future__ import annotations

import csv
import json
import shutil
from datetime import date
from pathlib import Path

import pytest
from click.testing import CliRunner

from missionpulse.cli import main
from missionpulse.settings import config_dir


def test_registry_check_passes_on_the_shipped_config() -> None:
    result = CliRunner().invoke(main, ["registry", "check"])

    assert result.exit_code == 0, result.output
    assert "registry OK: 125 missions" in result.output


def test_registry_check_reports_every_problem_with_file_and_line(tmp_path: Path) -> None:
    broken = tmp_path / "config"
    shutil.copytree(config_dir(), broken)
    handles = broken / "registry" / "handles.csv"
    lines = handles.read_text().splitlines()
    lines[3] = "pk-nowhere,x,PakEmbNowhere,,2020-01-01,"
    lines[5] = lines[5].replace(",x,", ",myspace,", 1)
    handles.write_text("\n".join(lines) + "\n")

    result = CliRunner().invoke(main, ["registry", "check", "--config", str(broken)])

    assert result.exit_code == 1
    assert f"{handles}:4:" in result.output and "pk-nowhere" in result.output
    assert f"{handles}:6:" in result.output
    assert "2 problem(s)" in result.output


def test_simulate_truth_prints_counts_per_platform_and_entity() -> None:
    result = CliRunner().invoke(main, ["simulate", "truth", "--date", "2026-03-02", "--json"])

    assert result.exit_code == 0, result.output
    truth = json.loads(result.output)
    assert truth["date"] == "2026-03-02"
    x = truth["platforms"]["x"]
    assert x["profiles"] > 100 and x["posts"] > 100 and x["comments"] > x["posts"]


def test_simulate_truth_rejects_a_bad_date() -> None:
    result = CliRunner().invoke(main, ["simulate", "truth", "--date", "02/03/2026"])

    assert result.exit_code != 0
    assert "YYYY-MM-DD" in result.output


def test_sentiment_predict_writes_one_labelled_row_per_input_row(tmp_path: Path) -> None:
    source = tmp_path / "in.tsv"
    texts = ["Thank you so much, wonderful event!", "", "This is terrible service", "سلام"]
    with source.open("w", newline="") as handle:
        writer = csv.writer(handle, delimiter="\t")
        writer.writerow(["id", "text"])
        writer.writerows([[i, t] for i, t in enumerate(texts)])
    out = tmp_path / "out.tsv"

    result = CliRunner().invoke(
        main, ["sentiment", "predict", "--input", str(source), "--output", str(out)]
    )

    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(out.open(), delimiter="\t"))
    assert [r["label"] for r in rows][0] == "positive"
    assert rows[2]["label"] == "negative"
    assert len(rows) == len(texts)
    assert all(0.0 <= float(r["score"]) <= 1.0 for r in rows)


def test_sentiment_predict_without_text_column_names_the_file(tmp_path: Path) -> None:
    source = tmp_path / "in.tsv"
    source.write_text("body\nhello\n")

    result = CliRunner().invoke(
        main, ["sentiment", "predict", "--input", str(source), "--output", str(tmp_path / "o")]
    )

    assert result.exit_code == 1
    assert "text" in result.output and str(source) in result.output


def test_simulate_registry_writes_a_config_that_registry_check_accepts(tmp_path: Path) -> None:
    out = tmp_path / "big"
    made = CliRunner().invoke(main, ["simulate", "registry", "--handles", "41", "--out", str(out)])

    assert made.exit_code == 0, made.output
    assert "41 handles" in made.output
    with (out / "registry" / "handles.csv").open(newline="") as handle:
        assert sum(1 for _ in csv.DictReader(handle)) == 41
    checked = CliRunner().invoke(main, ["registry", "check", "--config", str(out)])
    assert checked.exit_code == 0, checked.output


def test_simulate_registry_refuses_to_overwrite_the_shipped_config() -> None:
    result = CliRunner().invoke(
        main, ["simulate", "registry", "--handles", "8", "--out", str(config_dir())]
    )

    assert result.exit_code != 0
    assert "config" in result.output


def test_progress_lines_estimate_the_time_left() -> None:
    from missionpulse.cli import _time_left

    assert _time_left(120.0, 2, 30) == "; 28 days to go, about 28 min"
    assert _time_left(75.0, 1, 365) == "; 364 days to go, about 7.6 h"
    assert _time_left(20.0, 2, 3) == "; 1 day to go, under a minute"
    assert _time_left(600.0, 3, 3) == ""


@pytest.mark.parametrize(
    ("args", "option"),
    [
        (["run", "--date", "2023-12-31"], "--date"),
        (["backfill", "--from", "2023-12-01", "--to", "2024-01-05"], "--from"),
    ],
)
def test_a_day_before_the_dags_start_date_is_refused_before_anything_starts(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, args: list[str], option: str
) -> None:
    """Airflow would mark such a day's runs successful with no task run."""
    monkeypatch.delenv("MISSIONPULSE_FIRST_DAY", raising=False)
    monkeypatch.setenv("MISSIONPULSE_STATE_DIR", str(tmp_path))

    result = CliRunner().invoke(main, args)

    assert result.exit_code == 2, result.output
    assert f"Invalid value for {option}: " in result.output
    assert "before the DAGs' first day 2024-01-01" in result.output
    assert "MISSIONPULSE_FIRST_DAY" in result.output
    assert not any(tmp_path.iterdir())  # no warehouse, no Airflow home: refused first

    monkeypatch.setenv("MISSIONPULSE_FIRST_DAY", "1 Jan 2024")
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 1
    assert "MISSIONPULSE_FIRST_DAY must be a UTC day YYYY-MM-DD, got '1 Jan 2024'" in result.output


def test_a_stopped_backfill_names_the_day_and_the_command_that_finishes_it(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """SIGTERM or Ctrl-C during day 2 of 3 (``orchestration.stop_on_signals`` turns either
    into RunStopped; tests/dags/test_dag_integrity runs that part in Airflow)."""
    import signal

    from missionpulse import cli, orchestration

    monkeypatch.setenv("MISSIONPULSE_STATE_DIR", str(tmp_path))
    ran: list[date] = []

    def run_day(day: date, faults: str, platforms: str) -> orchestration.RunOutcome:
        if ran:
            raise orchestration.RunStopped(signal.SIGTERM)
        ran.append(day)
        done = orchestration.DagRunOutcome("publish", "r", "success", [])
        return orchestration.RunOutcome(day, [done], [])

    monkeypatch.setattr(orchestration, "run_day", run_day)
    days = [date(2026, 11, 1), date(2026, 11, 2), date(2026, 11, 3)]

    with pytest.raises(SystemExit) as stopped:
        cli._run_days(days, "none")

    assert stopped.value.code == 128 + signal.SIGTERM
    assert ran == [date(2026, 11, 1)]
    said = capsys.readouterr()
    assert "[1/3] 2026-11-01 ok" in said.out
    assert "[2/3] 2026-11-02 STOPPED (stopped by SIGTERM)" in said.err
    assert "1 day(s) done before it" in said.err
    assert "`missionpulse backfill --from 2026-11-02 --to 2026-11-03`" in said.err
