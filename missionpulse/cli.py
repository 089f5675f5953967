"""``missionpulse``: the one front door for people.

Commands keep heavy imports (Airflow, dbt, torch, Great Expectations) inside the command
that needs them, so ``missionpulse warehouse url`` answers in a fraction of a second.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import os
import sys
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

import click

from missionpulse import settings
from missionpulse.simulator.faults import PROFILES

if TYPE_CHECKING:
    from missionpulse.orchestration import RunOutcome

FAULT_PROFILES = tuple(PROFILES)


def _fail(message: str) -> NoReturn:
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


@simulate.command("registry")
@click.option("--handles", default=10_000, show_default=True, type=click.IntRange(min=1))
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False, path_type=Path))
@click.option("--seed", default=0, show_default=True, type=int)
def simulate_registry(handles: int, out_dir: Path, seed: int) -> None:
    """Write a large simulated registry and its policy (Twiplomacy scale) into OUT."""
    from missionpulse.simulator.scale_registry import generate_registry

    try:
        generated = generate_registry(out_dir, handles, seed=seed)
    except ValueError as err:
        _fail(str(err))
    click.echo(
        f"wrote {generated.missions} missions and {generated.total_handles} handles to "
        f"{generated.config_dir}; use it with MISSIONPULSE_CONFIG_DIR={generated.config_dir}"
    )


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


def _check_first_day(day: date, option: str) -> None:
    """Refuse a day before the DAGs' start date before anything starts (see
    ``orchestration.first_day``): Airflow would mark its runs done with nothing run."""
    from missionpulse import orchestration

    try:
        first = orchestration.first_day()
    except ValueError as err:
        _fail(str(err))
    if day < first:
        raise click.BadParameter(str(orchestration.DayBeforeFirstDay(day)), param_hint=option)


def _run_days(days: list[date], faults: str, platforms: str = "all") -> list[RunOutcome]:
    from missionpulse import orchestration

    outcomes: list[RunOutcome] = []
    first_started = time.monotonic()
    for number, day in enumerate(days, start=1):
        started = time.monotonic()
        log_path = settings.logs_dir() / "runs" / f"{day.isoformat()}.log"
        try:
            with _output_to(log_path), orchestration.stop_on_signals():
                outcome = orchestration.run_day(day, faults, platforms)
        except orchestration.RunStopped as stop:
            click.secho(
                f"[{number}/{len(days)}] {day} STOPPED ({stop}) after "
                f"{time.monotonic() - started:.1f}s; {number - 1} day(s) done before it. "
                f"The day's raw loads and marts are as a killed run leaves them (nothing "
                f"half-published); to finish, run it again: `missionpulse "
                + (
                    f"run --date {day}`"
                    if len(days) == 1
                    else f"backfill --from {day} --to {days[-1]}`"
                )
                + f" (log {log_path})",
                fg="red",
                err=True,
            )
            sys.exit(128 + stop.signum)
        outcomes.append(outcome)
        mark = click.style("ok", fg="green") if outcome.ok else click.style("FAILED", fg="red")
        detail = (
            "" if outcome.ok else f" (failed: {', '.join(outcome.failed_tasks)}; log {log_path})"
        )
        click.echo(
            f"[{number}/{len(days)}] {day} {mark} in {time.monotonic() - started:.1f}s{detail}"
            + _time_left(time.monotonic() - first_started, number, len(days))
        )
    return outcomes


def _time_left(elapsed_s: float, done: int, total: int) -> str:
    """``; 28 days to go, about 29 min`` (the mean time of the days done so far), for the
    progress line of each day but the last."""
    left = total - done
    if left <= 0 or done <= 0:
        return ""
    minutes = elapsed_s / done * left / 60
    if minutes >= 90:
        estimate = f"about {minutes / 60:.1f} h"
    else:
        estimate = f"about {minutes:.0f} min" if minutes >= 1 else "under a minute"
    return f"; {left} day{'s' if left > 1 else ''} to go, {estimate}"


@main.command()
@click.option("--date", "day", required=True, help="UTC day to run, YYYY-MM-DD.")
@click.option("--faults", type=click.Choice(FAULT_PROFILES), default="none", show_default=True)
def run(day: str, faults: str) -> None:
    """Run the daily pipeline for one day through Airflow, in this process."""
    from missionpulse import report

    the_day = _parse_day(day)
    _check_first_day(the_day, "--date")
    url = _start_pipeline()
    (outcome,) = _run_days([the_day], faults)
    report.print_day_problems(url, the_day)
    if faults == "bad-data":
        _print_bad_data_catches(url, the_day)
    if not outcome.ok:
        _fail(f"the run for {the_day} failed; see the messages above and {settings.logs_dir()}")


@main.command()
@click.option(
    "--days",
    default=14,
    show_default=True,
    type=click.IntRange(min=1),
    help="How many days up to yesterday.",
)
@click.option("--faults", type=click.Choice(FAULT_PROFILES), default="none", show_default=True)
@click.option(
    "--bi/--no-bi",
    "with_bi",
    default=True,
    show_default=True,
    help="End by starting the BI tool (Superset, make setup-bi) and printing its address.",
)
def demo(days: int, faults: str, with_bi: bool) -> None:
    """Run the last N days on the embedded default, print a summary, start the BI tool."""
    from missionpulse import report

    yesterday = datetime.now(UTC).date() - timedelta(days=1)
    span = [yesterday - timedelta(days=n) for n in range(days - 1, -1, -1)]
    _check_first_day(span[0], "--days")
    url = _start_pipeline()
    click.echo(f"running {len(span)} days, {span[0]} .. {span[-1]}")
    started = time.monotonic()
    outcomes = _run_days(span, faults)
    click.echo(f"done in {time.monotonic() - started:.0f}s")
    report.print_demo_summary(url, span[0], span[-1])
    if with_bi:
        _start_bi(None)
    if not all(o.ok for o in outcomes):
        _fail("some days failed; see above")


@main.command()
@click.option("--from", "first", required=True, help="First UTC day, YYYY-MM-DD.")
@click.option("--to", "last", required=True, help="Last UTC day (included), YYYY-MM-DD.")
@click.option(
    "--platform",
    "platforms",
    multiple=True,
    type=click.Choice(settings.PLATFORMS),
    help="Only these platforms (repeatable); the others' published rows stay as they are.",
)
@click.option("--faults", type=click.Choice(FAULT_PROFILES), default="none", show_default=True)
def backfill(first: str, last: str, platforms: tuple[str, ...], faults: str) -> None:
    """Run a range of days through the DAGs, oldest first; reruns are idempotent."""
    from missionpulse import report

    start, end = _parse_day(first), _parse_day(last)
    if end < start:
        raise click.BadParameter(f"--to {end} is before --from {start}")
    if end >= datetime.now(UTC).date():
        raise click.BadParameter(f"--to {end} is not over yet: the last complete day is yesterday")
    _check_first_day(start, "--from")
    span = [start + timedelta(days=n) for n in range((end - start).days + 1)]
    which = ",".join(platforms) if platforms else "all"
    url = _start_pipeline()
    click.echo(f"backfilling {len(span)} days, {start} .. {end}, platforms: {which}")
    started = time.monotonic()
    outcomes = _run_days(span, faults, which)
    elapsed = time.monotonic() - started
    report.print_backfill_summary(url, outcomes, elapsed, platforms or settings.PLATFORMS)
    failed = [o for o in outcomes if not o.ok]
    if failed:
        _fail(
            f"{len(failed)} of {len(outcomes)} days failed: "
            + ", ".join(str(o.day) for o in failed)
            + f"; rerun them with `missionpulse run --date D` (logs in {settings.logs_dir()}/runs)"
        )


# --- Airflow UI ------------------------------------------------------------------------


@main.group("airflow")
def airflow_group() -> None:
    """Airflow's own UI (standalone) on 127.0.0.1 with the project's DAGs."""


@airflow_group.command("start")
@click.option("--port", default=8080, show_default=True, type=int)
def airflow_start(port: int) -> None:
    """Start Airflow standalone and print its address and login."""
    from missionpulse import airflow_ui, pipeline
    from missionpulse.registry import RegistryError
    from missionpulse.warehouse import WarehouseError

    try:
        url = pipeline.prepare()
        info = airflow_ui.start(url, port=port)
    except (RegistryError, WarehouseError, airflow_ui.AirflowUiError) as err:
        _fail(str(err))
    click.echo(f"Airflow UI: {info.url}")
    click.echo(f"login: {info.username} / {info.password}")
    click.echo(f"log: {info.log}  (stop with: missionpulse airflow stop)")


@airflow_group.command("stop")
def airflow_stop() -> None:
    """Stop Airflow standalone and all its processes."""
    from missionpulse import airflow_ui

    try:
        stopped = airflow_ui.stop()
    except airflow_ui.AirflowUiError as err:
        _fail(str(err))
    click.echo("Airflow stopped" if stopped else "Airflow was not running")


# --- BI (Superset) ----------------------------------------------------------------------


@main.group("bi")
def bi_group() -> None:
    """The BI tool: Superset with the dashboards of bi/dashboards/ (own venv: make setup-bi)."""


def _start_bi(port: int | None) -> None:
    from missionpulse import bi
    from missionpulse.warehouse import WarehouseError

    click.echo(f"starting the BI tool (Superset): importing {bi.bundle_dir()} ...")
    started = time.monotonic()
    try:
        info = bi.start(port=port)
    except (bi.BIError, WarehouseError) as err:
        _fail(str(err))
    for problem in info.not_refreshed:
        click.secho(
            f"  dataset without its mart yet (its charts stay empty): {problem}", fg="yellow"
        )
    click.echo(f"BI tool (Superset) ready in {time.monotonic() - started:.0f}s: {info.url}")
    click.echo(f"login: {info.admin_user} / {info.admin_password}")
    click.echo(f"log: {info.log_file}  (stop with: missionpulse bi stop)")


@bi_group.command("start")
@click.option(
    "--port",
    type=int,
    default=None,
    help="Port on 127.0.0.1 (default: 8088 when free, else a free one).",
)
def bi_start(port: int | None) -> None:
    """Import the dashboard bundle and serve Superset; print its address and login."""
    _start_bi(port)


@bi_group.command("stop")
def bi_stop() -> None:
    """Stop Superset and all its processes."""
    from missionpulse import bi

    try:
        stopped = bi.stop()
    except bi.BIError as err:
        _fail(str(err))
    click.echo("BI tool stopped" if stopped else "BI tool was not running")


@bi_group.command("url")
def bi_url() -> None:
    """Print the address of the running BI tool."""
    from missionpulse import bi

    try:
        click.echo(bi.url())
    except bi.BIError as err:
        _fail(str(err))


# --- audit -----------------------------------------------------------------------------


def _print_bad_data_catches(url: str, day: date) -> None:
    """Which expectation caught each kind of the bad-data catalogue on ``day``."""
    from missionpulse import db
    from missionpulse.audit.report import bad_data_catches

    with db.connect(url) as conn:
        catches = bad_data_catches(conn, day)
    click.echo(f"bad-data on {day}: what the data-quality gate caught")
    for kind, suite, expectation, rows in catches:
        mark = click.style("caught", fg="green") if rows else click.style("MISSED", fg="red")
        click.echo(f"  {mark} {kind:<26} by {suite}.{expectation} ({rows or 0} rows)")


@main.group("audit")
def audit_group() -> None:
    """The audit trail: trace a published number, write the auditors' report."""


@audit_group.command("trace")
@click.option("--mission", "mission_id", required=True, help="Mission id (marts.dim_missions).")
@click.option("--platform", required=True, type=click.Choice(settings.PLATFORMS))
@click.option("--date", "day", required=True, help="UTC day, YYYY-MM-DD.")
def audit_trace(mission_id: str, platform: str, day: str) -> None:
    """The chain behind one engagement mart row, landing checksums verified."""
    from missionpulse import db, warehouse
    from missionpulse.audit.trace import TraceError, render, trace

    with db.connect(warehouse.ensure_running()) as conn:
        try:
            result = trace(conn, mission_id, platform, _parse_day(day))
        except TraceError as err:
            _fail(str(err))
    click.echo(render(result))
    if not result.ok:
        sys.exit(2)


@audit_group.command("report")
@click.option("--from", "first", required=True, help="First UTC day, YYYY-MM-DD.")
@click.option("--to", "last", required=True, help="Last UTC day (included), YYYY-MM-DD.")
@click.option("--out", "out", required=True, type=click.Path(path_type=Path))
def audit_report(first: str, last: str, out: Path) -> None:
    """A self-contained HTML report for auditors: pass rates, failures, freshness."""
    from missionpulse import db, warehouse
    from missionpulse.audit.report import build_report

    start, end = _parse_day(first), _parse_day(last)
    if end < start:
        raise click.BadParameter(f"--to {end} is before --from {start}")
    with db.connect(warehouse.ensure_running()) as conn:
        page = build_report(conn, start, end)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(page, encoding="utf-8")
    click.echo(f"wrote {out} ({len(page) // 1024} KiB)")


# --- marts publication ----------------------------------------------------------------


@main.group("marts")
def marts_group() -> None:
    """The marts publication: who holds its lock, unlock a dead run, drop old shadows."""


def _size(n: int) -> str:
    return f"{n / 1024 / 1024:.1f} MiB" if n >= 1024 * 1024 else f"{n // 1024} KiB"


@marts_group.command("status")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.option("--last", default=5, show_default=True, help="How many publications to list.")
def marts_status(as_json: bool, last: int) -> None:
    """The publication lock, the latest publications and the shadow schemas left."""
    from missionpulse import marts_publish, warehouse

    url = warehouse.ensure_running()
    holder = marts_publish.lock_holder(url)
    recent = marts_publish.recent_publications(url, last)
    left = marts_publish.shadows(url)
    if as_json:
        click.echo(
            json.dumps(
                {
                    "lock": holder,
                    "publications": recent,
                    "shadows": [dataclasses.asdict(s) for s in left],
                },
                indent=2,
                default=str,
            )
        )
        return
    if holder:
        line = (
            f"lock: held by run {holder['dag_run_id']} (day {holder['day']}, building "
            f"{holder['shadow']}) since {holder['acquired_at']:%Y-%m-%d %H:%M:%S %Z}, "
            f"last heard of {holder['silent_s']:.0f} s ago"
        )
        if holder["holder_pid"] is not None:
            line += f"; run in process {holder['holder_pid']} on {holder['holder_host']}"
            if holder["holder_dead"]:
                line += " (dead: the next run takes the lock over)"
        click.echo(line)
    else:
        click.echo("lock: free")
    click.echo("publications (newest first):" if recent else "publications: none yet")
    for pub in recent:
        why = f": {pub['reason']}" if pub["reason"] and pub["status"] != "published" else ""
        click.echo(f"  {pub['day']}  {pub['status']:<9} run {pub['dag_run_id']}{why}")
    click.echo("shadow schemas left:" if left else "shadow schemas left: none")
    for shadow in left:
        note = "being built (locked)" if shadow.locked else (shadow.status or "no record")
        click.echo(f"  {shadow.schema}  {_size(shadow.size_bytes):>10}  {note}")


@marts_group.command("unlock")
@click.option("--run", "dag_run_id", required=True, help="The dead holder's run id (see status).")
def marts_unlock(dag_run_id: str) -> None:
    """Release the lock of a run that died holding it; marts stays as published."""
    import getpass

    from missionpulse import marts_publish, warehouse

    try:
        released = marts_publish.release(
            warehouse.ensure_running(), dag_run_id, operator=getpass.getuser()
        )
    except marts_publish.PublishError as err:
        _fail(str(err))
    click.echo(
        f"released the lock of run {released['dag_run_id']} (day {released['day']}); "
        f"marts unchanged, {released['shadow']} kept for inspection. Rerun the day with: "
        f"missionpulse run --date {released['day']}"
    )


@marts_group.command("drop-shadows")
@click.option(
    "--date", "days", multiple=True, type=_parse_day, metavar="YYYY-MM-DD", help="Only this day."
)
@click.option("--all", "all_days", is_flag=True, help="Every shadow not being built.")
def marts_drop_shadows(days: tuple[date, ...], all_days: bool) -> None:
    """Drop shadow schemas left by withheld days, once inspected (never a locked one)."""
    from missionpulse import marts_publish, warehouse

    if bool(days) == all_days:
        raise click.UsageError("give one or more --date D, or --all")
    dropped = marts_publish.drop_shadows(
        warehouse.ensure_running(), None if all_days else list(days)
    )
    for name in dropped:
        click.echo(f"dropped {name}")
    click.echo(f"{len(dropped)} shadow schema(s) dropped")


# --- scorecard -------------------------------------------------------------------------


@main.command("report")
@click.option("--week", required=True, help="ISO week, YYYY-Www (e.g. 2026-W48).")
@click.option(
    "--out", "out", required=True, type=click.Path(path_type=Path), help="The HTML file to write."
)
def report_week(week: str, out: Path) -> None:
    """The weekly scorecard for leadership: one self-contained HTML page with charts."""
    from missionpulse import scorecard, warehouse

    try:
        the_week = scorecard.parse_week(week)
        size = scorecard.write_scorecard(warehouse.ensure_running(), the_week, out)
    except (scorecard.ScorecardError, warehouse.WarehouseError) as err:
        _fail(str(err))
    click.echo(f"wrote {out} ({size // 1024} KiB): scorecard of {the_week.label}")


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


_MODEL_OPTION = click.option(
    "--model",
    "model_source",
    type=click.Path(path_type=Path, exists=True, file_okay=False),
    default=None,
    help="Model directory: a MissionPulse artifact or a Hugging Face checkpoint "
    "(default: $MISSIONPULSE_SENTIMENT_MODEL, else the shipped artifact).",
)


@sentiment.command("predict")
@click.option("--input", "input_path", type=click.Path(path_type=Path, exists=True), required=True)
@click.option("--output", "output_path", type=click.Path(path_type=Path), required=True)
@click.option("--with-language", is_flag=True, help="Add columns language and language_supported.")
@_MODEL_OPTION
def sentiment_predict(
    input_path: Path, output_path: Path, with_language: bool, model_source: Path | None
) -> None:
    """Label each row's ``text``: OUT has columns label and score, in input order."""
    from models.sentiment.source import load_scorer

    try:
        scorer = load_scorer(model_source)
        rows = scorer.predict_tsv(input_path, output_path, with_language=with_language)
    except ValueError as err:
        _fail(str(err))
    click.echo(f"wrote {rows} predictions ({scorer.model_version}) to {output_path}")


@sentiment.command("evaluate")
@click.option("--input", "input_path", type=click.Path(path_type=Path, exists=True), required=True)
@_MODEL_OPTION
def sentiment_evaluate(input_path: Path, model_source: Path | None) -> None:
    """Macro-recall and macro-F1 on a labelled TSV (columns text, label[, lang])."""
    from models.sentiment.evaluate import evaluate
    from models.sentiment.source import load_scorer

    try:
        result = evaluate(input_path, load_scorer(model_source))
    except ValueError as err:
        _fail(str(err))
    click.echo(json.dumps(result, indent=2))


@sentiment.command("backfill")
@click.option(
    "--since",
    type=_parse_day,
    default=None,
    metavar="YYYY-MM-DD",
    help="Only comments of days from this one on.",
)
@click.option(
    "--model-version",
    default=None,
    help="Expected version of the model being backfilled; refuses to run if the loaded "
    "model has another.",
)
@_MODEL_OPTION
@click.option(
    "--platform",
    "platforms",
    type=click.Choice(settings.PLATFORMS),
    multiple=True,
    help="Platforms to backfill (default: all).",
)
@click.option("--chunk-size", default=2000, show_default=True, help="Comments per transaction.")
@click.option("--schema", default="staging", show_default=True, hidden=True)
def sentiment_backfill(
    since: date | None,
    model_version: str | None,
    model_source: Path | None,
    platforms: tuple[str, ...],
    chunk_size: int,
    schema: str,
) -> None:
    """Score every comment that has no score for the current model version (resumable)."""
    from missionpulse import warehouse
    from missionpulse.sentiment_backfill import backfill

    try:
        result = backfill(
            warehouse.ensure_running(),
            since=since,
            model_version=model_version,
            source=model_source,
            platforms=platforms or settings.PLATFORMS,
            chunk_size=chunk_size,
            schema=schema,
        )
    except (ValueError, RuntimeError) as err:
        _fail(str(err))
    for platform, rows in result.scored.items():
        click.echo(f"{platform}: {rows} comments scored")
    for platform in result.skipped_platforms:
        click.echo(f"{platform}: no staging views yet, skipped")
    click.echo(
        f"{result.total} comments scored with {result.model_version} on {result.device} "
        f"in {result.seconds:.1f}s ({result.rows_per_second:.0f} rows/s)"
    )


if __name__ == "__main__":
    main()
