"""``missionpulse``: the one front door for people.

Commands keep heavy imports (Airflow, dbt, torch, Great Expectations) inside the command
that needs them, so ``missionpulse warehouse url`` answers in a fraction of a second.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import sys
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import click

from missionpulse import settings
from missionpulse.simulator.faults import PROFILES

if TYPE_CHECKING:
    from missionpulse.orchestration import RunOutcome

FAULT_PROFILES = tuple(PROFILES)


def _fail(message: str) -> None:
    click.secho(message, fg="red", err=True)
    sys.exit(1)


def _parse_day(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a date in YYYY-MM-DD form") from None


@click.group()
@click.option("-v", "--verbose", is_flag=True, help="Log debug detail.")
def main(verbose: bool) -> None:
    """MissionPulse: social media monitoring of a ministry's missions abroad."""
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )


# --- warehouse -------------------------------------------------------------------------


@main.group()
def warehouse() -> None:
    """The embedded PostgreSQL warehouse (or the one MISSIONPULSE_WAREHOUSE_URL names)."""


@warehouse.command("start")
def warehouse_start() -> None:
    from missionpulse import warehouse as wh

    try:
        wh.start()
        status = wh.status()
    except wh.WarehouseError as err:
        _fail(str(err))
    click.echo(f"warehouse running on 127.0.0.1:{status.port} (data {status.data_dir})")


@warehouse.command("stop")
def warehouse_stop() -> None:
    from missionpulse import warehouse as wh

    try:
        wh.stop()
    except wh.WarehouseError as err:
        _fail(str(err))
    click.echo("warehouse stopped")


@warehouse.command("status")
def warehouse_status() -> None:
    from missionpulse import warehouse as wh

    status = wh.status()
    if status.running:
        click.echo(f"running: port {status.port}, pid {status.pid}, data {status.data_dir}")
    else:
        click.echo(f"not running (data {status.data_dir})")
        sys.exit(3)


@warehouse.command("url")
def warehouse_url() -> None:
    """Print the postgresql:// URL (psql accepts it)."""
    from missionpulse import warehouse as wh

    try:
        click.echo(wh.url())
    except wh.WarehouseError as err:
        _fail(str(err))


# --- registry --------------------------------------------------------------------------


@main.group()
def registry() -> None:
    """The registry of missions and handles, and the ministry's policy."""


@registry.command("check")
@click.option("--config", "config_dir", type=click.Path(path_type=Path), default=None)
def registry_check(config_dir: Path | None) -> None:
    """Validate config/ and report every problem with file and line."""
    from missionpulse.registry import check_registry, load_registry

    problems = check_registry(config_dir or settings.config_dir())
    if problems:
        for problem in problems:
            click.echo(str(problem), err=True)
        _fail(f"{len(problems)} problem(s) in the registry or policy")
    summary = load_registry(config_dir).summary()
    click.echo(f"registry OK: {summary.missions} missions")
    for platform, count in summary.handles.items():
        click.echo(
            f"  {platform:<10} {count:>4} handles, {summary.non_conforming.get(platform, 0):>3} "
            f"not following the naming policy, {summary.missing.get(platform, 0):>3} missions "
            "without one"
        )


# --- simulator -------------------------------------------------------------------------


@main.group(invoke_without_command=True)
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8765, show_default=True, type=int)
@click.option("--faults", type=click.Choice(FAULT_PROFILES), default="none", show_default=True)
@click.pass_context
def simulate(ctx: click.Context, host: str, port: int, faults: str) -> None:
    """Serve the platform simulator (X API v2 today) until interrupted."""
    if ctx.invoked_subcommand is not None:
        return
    from missionpulse.simulator.server import serve_forever

    click.echo(f"simulator on http://{host}:{port} (faults: {faults}); Ctrl-C to stop")
    serve_forever(host, port, faults)


@simulate.command("truth")
@click.option("--date", "day", required=True, help="UTC day, YYYY-MM-DD.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def simulate_truth(day: str, as_json: bool) -> None:
    """What the simulator holds for a day: counts per platform and entity."""
    from missionpulse.simulator.truth import truth

    result = truth(_parse_day(day))
    if as_json:
        click.echo(json.dumps(result, indent=2, sort_keys=True))
        return
    for platform, counts in result["platforms"].items():
        simple = {k: v for k, v in counts.items() if isinstance(v, int)}
        click.echo(f"{platform}: " + ", ".join(f"{k}={v}" for k, v in simple.items()))


# --- pipeline --------------------------------------------------------------------------


def _start_pipeline() -> str:
    from missionpulse import orchestration, pipeline
    from missionpulse.registry import RegistryError
    from missionpulse.warehouse import WarehouseError

    try:
        url = pipeline.prepare()
    except (RegistryError, WarehouseError) as err:
        _fail(str(err))
    orchestration.configure(url)
    orchestration.migrate()
    return url


@contextlib.contextmanager
def _output_to(path: Path) -> Iterator[None]:
    """Send everything written to stdout/stderr (Airflow, dbt, Cosmos) to ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    with path.open("ab") as log_file:
        os.dup2(log_file.fileno(), 1)
        os.dup2(log_file.fileno(), 2)
        try:
            yield
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            os.close(saved[0])
            os.close(saved[1])


def _run_days(days: list[date], faults: str) -> list[RunOutcome]:
    from missionpulse import orchestration

    outcomes: list[RunOutcome] = []
    for number, day in enumerate(days, start=1):
        started = time.monotonic()
        log_path = settings.logs_dir() / "runs" / f"{day.isoformat()}.log"
        with _output_to(log_path):
            outcome = orchestration.run_day(day, faults)
        outcomes.append(outcome)
        mark = click.style("ok", fg="green") if outcome.ok else click.style("FAILED", fg="red")
        detail = (
            "" if outcome.ok else f" (failed: {', '.join(outcome.failed_tasks)}; log {log_path})"
        )
        click.echo(
            f"[{number}/{len(days)}] {day} {mark} in {time.monotonic() - started:.1f}s{detail}"
        )
    return outcomes


@main.command()
@click.option("--date", "day", required=True, help="UTC day to run, YYYY-MM-DD.")
@click.option("--faults", type=click.Choice(FAULT_PROFILES), default="none", show_default=True)
def run(day: str, faults: str) -> None:
    """Run the daily pipeline for one day through Airflow, in this process."""
    from missionpulse import report

    the_day = _parse_day(day)
    url = _start_pipeline()
    (outcome,) = _run_days([the_day], faults)
    report.print_day_problems(url, the_day)
    if not outcome.ok:
        _fail(f"the run for {the_day} failed; see the messages above and {settings.logs_dir()}")


@main.command()
@click.option("--days", default=14, show_default=True, help="How many days up to yesterday.")
@click.option("--faults", type=click.Choice(FAULT_PROFILES), default="none", show_default=True)
def demo(days: int, faults: str) -> None:
    """Run the last N days on the embedded default and print a summary."""
    from missionpulse import report

    yesterday = datetime.now(UTC).date() - timedelta(days=1)
    span = [yesterday - timedelta(days=n) for n in range(days - 1, -1, -1)]
    url = _start_pipeline()
    click.echo(f"running {len(span)} days, {span[0]} .. {span[-1]}")
    started = time.monotonic()
    outcomes = _run_days(span, faults)
    click.echo(f"done in {time.monotonic() - started:.0f}s")
    report.print_demo_summary(url, span[0], span[-1])
    if not all(o.ok for o in outcomes):
        _fail("some days failed; see above")


# --- sentiment -------------------------------------------------------------------------


@main.group()
def sentiment() -> None:
    """The PyTorch sentiment model: train, predict, evaluate."""


@sentiment.command("train")
@click.option(
    "--data",
    "data_dir",
    type=click.Path(path_type=Path, exists=True, file_okay=False),
    required=True,
    help="Folder with semeval_en_2013_2016.tsv, umsab_train.tsv, umsab_val.tsv.",
)
@click.option("--out", "out_dir", type=click.Path(path_type=Path), default=None)
@click.option("--seed", default=13, show_default=True)
def sentiment_train(data_dir: Path, out_dir: Path | None, seed: int) -> None:
    """Train the model from the data files (seeded) and write the artifact."""
    from models.sentiment.artifact import ARTIFACT_DIR
    from models.sentiment.train import train

    metadata = train(data_dir, out_dir or ARTIFACT_DIR, seed=seed)
    click.echo(json.dumps(metadata.get("validation", metadata), indent=2))


@sentiment.command("predict")
@click.option("--input", "input_path", type=click.Path(path_type=Path, exists=True), required=True)
@click.option("--output", "output_path", type=click.Path(path_type=Path), required=True)
def sentiment_predict(input_path: Path, output_path: Path) -> None:
    """Label each row's ``text``: OUT has columns label and score, in input order."""
    from models.sentiment.predict import SentimentScorer

    try:
        rows = SentimentScorer.load().predict_tsv(input_path, output_path)
    except ValueError as err:
        _fail(str(err))
    click.echo(f"wrote {rows} predictions to {output_path}")


@sentiment.command("evaluate")
@click.option("--input", "input_path", type=click.Path(path_type=Path, exists=True), required=True)
def sentiment_evaluate(input_path: Path) -> None:
    """Macro-recall and macro-F1 on a labelled TSV (columns text, label[, lang])."""
    from models.sentiment.evaluate import evaluate

    try:
        result = evaluate(input_path)
    except ValueError as err:
        _fail(str(err))
    click.echo(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
