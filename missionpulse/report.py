"""Short text summaries for people at a terminal (the demo, a day's run)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import TYPE_CHECKING
from urllib.parse import urlsplit, urlunsplit

import click

from missionpulse import db, settings

if TYPE_CHECKING:
    from missionpulse.orchestration import RunOutcome


def _safe_url(url: str) -> str:
    parts = urlsplit(url)
    if parts.password:
        netloc = f"{parts.username}:***@{parts.hostname}:{parts.port}"
        parts = parts._replace(netloc=netloc)
    return urlunsplit(parts)


def print_day_problems(url: str, day: date) -> None:
    """The day's failed data-quality runs and extraction failures, if any."""
    with db.connect(url) as conn:
        failed = conn.execute(
            "select platform, summary, validated_schema from audit.dq_runs"
            " where batch_date = %s and not success order by finished_at desc limit 5",
            (day,),
        ).fetchall()
        handles = conn.execute(
            """
            with latest as (
                select distinct on (platform) platform, extract_run_id
                from audit.extract_runs
                where interval_start = %s::date
                order by platform, recorded_at desc
            )
            select r.platform, r.handle, r.stage, r.error
            from audit.extract_runs r join latest using (platform, extract_run_id)
            where r.status = 'failed'
            order by 1, 2
            """,
            (day,),
        ).fetchall()
    for platform, summary, schema in failed:
        if platform:
            click.secho(
                f"{platform} on {day} quarantined: not published, the rows stay in raw for "
                "inspection; fix the source or the registry and rerun the day.",
                fg="red",
                err=True,
            )
        else:
            click.secho(
                f"marts for {day} not published: marts keeps its previous published state; "
                f"the day's build stays in schema {schema or '(unknown)'} for inspection; fix "
                "the cause and rerun the day.",
                fg="red",
                err=True,
            )
        click.secho(summary, fg="red", err=True)
    groups: dict[tuple[str, str, str], list[str]] = {}
    for platform, handle, stage, error in handles:
        groups.setdefault((platform, stage, error), []).append(handle)
    for (platform, stage, error), names in sorted(groups.items()):
        shown = ", ".join(names[:5]) + (f" and {len(names) - 5} more" if len(names) > 5 else "")
        click.secho(
            f"{platform} on {day}: {len(names)} handle(s) not extracted ({stage}): {shown}",
            fg="yellow",
        )
        click.echo(f"  {error}")


def print_demo_summary(url: str, first: date, last: date) -> None:
    with db.connect(url) as conn:
        totals = conn.execute(
            """
            select count(distinct activity_date), count(*), coalesce(sum(posts), 0),
                   coalesce(sum(comments), 0)
            from marts.fct_mission_daily_engagement
            where activity_date between %s and %s
            """,
            (first, last),
        ).fetchone()
        top = conn.execute(
            """
            select m.mission_name, m.region, sum(f.posts) as posts,
                   sum(f.interactions) as interactions,
                   max(f.followers_count) filter (where f.activity_date = %s) as followers,
                   round(avg(f.engagement_rate_per_follower) * 100, 3) as rate
            from marts.fct_mission_daily_engagement f
            join marts.dim_missions m using (mission_id)
            where f.activity_date between %s and %s
            group by 1, 2
            order by interactions desc
            limit 10
            """,
            (last, first, last),
        ).fetchall()
        scored = conn.execute("select count(*) from ml.comment_sentiment").fetchone()
    assert totals is not None and scored is not None
    days, rows, posts, comments = totals
    click.echo("")
    click.secho(f"MissionPulse demo: {first} .. {last}", bold=True)
    click.echo(
        f"{days} days, {rows} mission-platform-day rows, {posts} posts, {comments} audience "
        f"comments, {scored[0]} comments scored for sentiment"
    )
    click.echo("")
    click.secho("Top missions by interactions (likes + comments + shares)", bold=True)
    header = (
        f"{'mission':<46} {'region':<14} {'posts':>6} {'interactions':>12} "
        f"{'followers':>10} {'eng/follower %':>14}"
    )
    click.echo(header)
    click.echo("-" * len(header))
    for name, region, p, inter, followers, rate in top:
        click.echo(
            f"{name[:46]:<46} {region[:14]:<14} {p:>6} {inter:>12} {followers or 0:>10} "
            f"{rate if rate is not None else '-':>14}"
        )
    click.echo("")
    click.secho("Where to look", bold=True)
    click.echo(f"  warehouse   {_safe_url(url)}  (full URL: missionpulse warehouse url)")
    click.echo("              marts: dim_missions, dim_handles, fct_mission_daily_engagement,")
    click.echo("              fct_mission_compliance, fct_mission_daily_sentiment,")
    click.echo("              fct_mission_responsiveness, mart_leaderboard,")
    click.echo("              mart_data_quality_daily")
    click.echo("              audit: dq_runs, dq_results, dbt_test_results, extract_runs")
    reports = sorted((settings.state_dir() / "reports").glob("*.html"))
    if reports:
        click.echo(f"  scorecards  {', '.join(str(p) for p in reports[-2:])}")
    else:
        click.echo("  scorecards  missionpulse report --week YYYY-Www --out FILE.html")
    click.echo(f"  data docs   {settings.state_dir() / 'data_docs' / 'index.html'}")
    click.echo(f"  landing     {settings.landing_dir()}")
    click.echo(f"  logs        {settings.logs_dir()}")


def print_backfill_summary(
    url: str, outcomes: Sequence[RunOutcome], elapsed_s: float, platforms: Sequence[str]
) -> None:
    """Per day: status and time; per platform: what the marts now hold for the range."""
    if not outcomes:
        return
    first, last = outcomes[0].day, outcomes[-1].day
    with db.connect(url) as conn:
        rows = conn.execute(
            """
            select platform, count(distinct activity_date), count(*),
                   coalesce(sum(posts), 0), coalesce(sum(comments), 0)
            from marts.fct_mission_daily_engagement
            where activity_date between %s and %s and platform = any(%s)
            group by 1 order by 1
            """,
            (first, last, list(platforms)),
        ).fetchall()
    ok = sum(1 for o in outcomes if o.ok)
    click.echo("")
    click.secho(
        f"Backfill {first} .. {last}: {ok}/{len(outcomes)} days ok in {elapsed_s:.0f}s "
        f"({elapsed_s / len(outcomes):.1f}s a day)",
        bold=True,
    )
    for outcome in outcomes:
        if not outcome.ok:
            click.secho(
                f"  {outcome.day} {outcome.state}: failed tasks {', '.join(outcome.failed_tasks)}",
                fg="red",
            )
    header = f"{'platform':<10} {'days':>5} {'rows':>7} {'posts':>8} {'comments':>9}"
    click.echo(header)
    click.echo("-" * len(header))
    for platform, days, count, posts, comments in rows:
        click.echo(f"{platform:<10} {days:>5} {count:>7} {posts:>8} {comments:>9}")
