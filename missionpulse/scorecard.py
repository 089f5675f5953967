"""``missionpulse report --week YYYY-Www``: the weekly scorecard for the ministry's leadership.

One self-contained HTML page (inline CSS and SVG, no scripts, no external files) readable in
two minutes: the week's headline figures against the previous week, the leaderboard overall
and per region, the compliance failures that need action, sentiment by platform and the
week's negative spikes, and whether the week's figures passed their data-quality checks.

It reads only the ``marts`` schema (what the BI role may read), in a read-only session. A
mart that is not built yet leaves its section saying so and what to run; a week that is
malformed, has not started, or has no rows in the marts raises :class:`ScorecardError`
with the command that fills it.
"""

from __future__ import annotations

import html
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

WEEK_PATTERN = re.compile(r"^(\d{4})-W(\d{2})$")
PLATFORM_COLORS = {
    "x": "#222222",
    "facebook": "#1877f2",
    "instagram": "#c13584",
    "youtube": "#e62117",
}
THIS_WEEK_COLOR, PREVIOUS_WEEK_COLOR = "#2b6cb0", "#b7c9e2"
GOOD, BAD, NEUTRAL, NONE = "#2f855a", "#c53030", "#d69e2e", "#cbd5e0"
TOP_N = 5
MAX_COMPLIANCE_ROWS = 25

# (title, metric column, rank prefix, how the metric is shown)
CATEGORIES: tuple[tuple[str, str, str, str], ...] = (
    ("Most followed", "followers_end_of_week", "most_followed", "count"),
    ("Most effective (interactions per post)", "interactions_per_post", "most_effective", "1dp"),
    ("Most active (posts per day)", "posts_per_day", "most_active", "1dp"),
    ("Most conversational (comments answered)", "answered_share", "most_conversational", "pct"),
    ("Most improved compliance", "compliance_score_change", "most_improved_compliance", "pts"),
)
CHECKS = (
    "required_platforms",
    "handle_naming",
    "display_name",
    "bio_link",
    "bio_text",
    "avatar",
    "verification",
    "posting_cadence",
    "not_dormant",
    "reply_time",
)

CSS = """
body{font-family:system-ui,sans-serif;margin:2em auto;max-width:62em;color:#222;line-height:1.35}
h1{font-size:1.55em;margin-bottom:.2em}h2{font-size:1.2em;margin-top:1.8em;
border-bottom:1px solid #ccc}h3{font-size:1em;margin:1.2em 0 .3em}
table{border-collapse:collapse;font-size:.85em;margin:.5em 0}
td,th{border:1px solid #ddd;padding:3px 7px;text-align:left;vertical-align:top}
th{background:#f3f3f3}td.n{text-align:right;white-space:nowrap}
.cards{display:flex;flex-wrap:wrap;gap:.6em}.card{border:1px solid #ddd;border-radius:6px;
padding:.5em .8em;min-width:9.5em}.card .v{font-size:1.45em;font-weight:600}
.card .k{font-size:.8em;color:#555}.up{color:#2f855a}.down{color:#c53030}.muted{color:#777}
.note{background:#fff8e1;border-left:4px solid #d69e2e;padding:.4em .8em;margin:.6em 0}
.alert{background:#fdecec;border-left:4px solid #c53030;padding:.4em .8em;margin:.6em 0}
.okay{background:#e9f6ee;border-left:4px solid #2f855a;padding:.4em .8em;margin:.6em 0}
ul.checks{margin:0;padding-left:1.1em}ol.plain{margin:0;padding-left:0;list-style:none}
svg{display:block;margin:.4em 0}
ul.brief{font-size:1.05em;background:#f7f9fc;padding:.6em 1em .6em 2em;
border-radius:6px}
svg text{font-family:system-ui,sans-serif;font-size:11px;fill:#333}
"""


class ScorecardError(RuntimeError):
    """The week cannot be reported: malformed, not started, or not in the marts."""


@dataclass(frozen=True)
class Week:
    """An ISO week (Monday to Sunday, UTC days)."""

    year: int
    number: int

    @property
    def label(self) -> str:
        return f"{self.year}-W{self.number:02d}"

    @property
    def start(self) -> date:
        return date.fromisocalendar(self.year, self.number, 1)

    @property
    def end(self) -> date:
        return self.start + timedelta(days=6)

    @property
    def days(self) -> list[date]:
        return [self.start + timedelta(days=n) for n in range(7)]

    def previous(self) -> Week:
        return Week.of(self.start - timedelta(days=7))

    @classmethod
    def of(cls, day: date) -> Week:
        year, number, _ = day.isocalendar()
        return cls(year, number)


def parse_week(value: str, today: date | None = None) -> Week:
    """``YYYY-Www`` -> :class:`Week`; refuses malformed, non-existent and future weeks."""
    match = WEEK_PATTERN.match(value.strip())
    if not match:
        raise ScorecardError(
            f"{value!r} is not an ISO week: write YYYY-Www, e.g. {Week.of(today or _today()).label}"
        )
    year, number = int(match.group(1)), int(match.group(2))
    weeks_in_year = date(max(year, 1), 12, 28).isocalendar()[1]  # 28 Dec is in the last week
    if not (year >= 1 and 1 <= number <= weeks_in_year):
        raise ScorecardError(
            f"{value} does not exist: {year} has ISO weeks W01 to W{weeks_in_year:02d}"
        )
    week = Week(year, number)
    today = today or _today()
    if week.start > today:
        raise ScorecardError(
            f"{week.label} ({week.start} .. {week.end}) has not started yet; "
            f"the latest week that can have data is {Week.of(today).label}"
        )
    return week


def _today() -> date:
    return datetime.now(UTC).date()


def backfill_hint(week: Week, today: date | None = None) -> str:
    """The command that fills the week's complete days (up to yesterday)."""
    last = min(week.end, (today or _today()) - timedelta(days=1))
    if last < week.start:
        return f"the week's first day {week.start} is not over yet: run the report tomorrow"
    return f"run `missionpulse backfill --from {week.start} --to {last}` first"


# --------------------------------------------------------------------------- formatting


def _e(value: Any) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def _num(value: Any) -> float | None:
    if value is None:
        return None
    return float(value) if isinstance(value, Decimal | int | float) else None


def _fmt(value: Any, kind: str) -> str:
    number = _num(value)
    if number is None:
        return "n/a"
    if kind == "count":
        return f"{number:,.0f}"
    if kind == "1dp":
        return f"{number:,.1f}"
    if kind == "pct":
        return f"{100 * number:.0f}%"
    if kind == "pts":
        return f"{number:+.1f} pts"
    if kind == "score":
        return f"{number:.1f}"
    if kind == "net":
        return f"{number:+.2f}"
    return str(value)


def _change(current: Any, previous: Any, kind: str) -> str:
    """The change against the previous week, coloured: up is good for every headline."""
    now, before = _num(current), _num(previous)
    if now is None or before is None:
        return '<span class="muted">no figure for the previous week</span>'
    delta = now - before
    if delta == 0:
        return '<span class="muted">= no change vs previous week</span>'
    css = "up" if delta > 0 else ("down" if delta < 0 else "muted")
    arrow = "▲" if delta > 0 else "▼"
    if kind == "count":
        text = f"{delta:+,.0f}" + (f" ({100 * delta / before:+.1f}%)" if before else "")
    elif kind == "score":
        text = f"{delta:+.1f} pts"
    else:
        text = f"{delta:+.2f}"
    return (
        f'<span class="{css}">{arrow} {_e(text)}</span> <span class="muted">vs previous week</span>'
    )


def _table(headers: Sequence[str], rows: Sequence[Sequence[str]], empty: str) -> str:
    """``rows`` hold ready ``<td>`` cells (already escaped)."""
    if not rows:
        return f'<p class="muted">{_e(empty)}</p>'
    head = "".join(f"<th>{_e(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(cells) + "</tr>" for cells in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def _td(value: Any, numeric: bool = False) -> str:
    return f'<td class="n">{_e(value)}</td>' if numeric else f"<td>{_e(value)}</td>"


# --------------------------------------------------------------------------- SVG charts


def _svg_open(width: float, height: float, title: str) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width:.0f}" height="{height:.0f}" '
        f'viewBox="0 0 {width:.0f} {height:.0f}" role="img" aria-label="{_e(title)}">'
        f"<title>{_e(title)}</title>"
    )


def svg_bars(
    items: Sequence[tuple[str, float | None, str]],
    value_format: str,
    title: str,
    width: int = 620,
) -> str:
    """Horizontal bars, one per (label, value, colour); negative values grow left of zero."""
    label_w, value_w, row_h = 190, 70, 22
    # the warehouse hands numerics back as Decimal: draw with floats
    items = [(label, None if v is None else float(v), color) for label, v, color in items]
    values = [v for _, v, _ in items if v is not None]
    low, high = min([0.0, *values]), max([0.0, *values])
    span = (high - low) or 1.0
    plot_w = width - label_w - value_w
    zero_x = label_w + (0 - low) / span * plot_w
    height = row_h * len(items) + 24
    parts = [_svg_open(width, height, title)]
    for n, (label, value, color) in enumerate(items):
        y = 4 + n * row_h
        parts.append(
            f'<text x="{label_w - 6}" y="{y + 14}" text-anchor="end">{_e(label[:32])}</text>'
        )
        if value is None:
            parts.append(f'<text x="{zero_x + 4:.1f}" y="{y + 14}" fill="#999">n/a</text>')
            continue
        x1 = label_w + (min(value, 0) - low) / span * plot_w
        bar_w = max(abs(value) / span * plot_w, 1.0)
        parts.append(
            f'<rect x="{x1:.1f}" y="{y + 3}" width="{bar_w:.1f}" height="{row_h - 7}" '
            f'fill="{color}"><title>{_e(label)}: {_e(_fmt(value, value_format))}</title></rect>'
        )
        parts.append(
            f'<text x="{label_w + plot_w + 6}" y="{y + 14}">{_e(_fmt(value, value_format))}</text>'
        )
    parts.append(
        f'<line x1="{zero_x:.1f}" y1="2" x2="{zero_x:.1f}" y2="{height - 18}" stroke="#888"/>'
    )
    parts.append("</svg>")
    return "".join(parts)


def svg_columns(
    categories: Sequence[str],
    series: Sequence[tuple[str, Sequence[float | None], str]],
    value_format: str,
    title: str,
    width: int = 620,
    height: int = 190,
) -> str:
    """Grouped columns: one group per category, one column per series, with a legend."""
    left, bottom, top = 60, 36, 22
    plot_w, plot_h = width - left - 10, height - bottom - top
    # the warehouse hands numerics back as Decimal: draw with floats
    series = [
        (name, [None if v is None else float(v) for v in vals], color)
        for name, vals, color in series
    ]
    values = [v for _, vals, _ in series for v in vals if v is not None]
    high = max([0.0, *values]) or 1.0
    group_w = plot_w / max(len(categories), 1)
    col_w = (group_w - 10) / max(len(series), 1)
    parts = [
        _svg_open(width, height, title),
        f'<line x1="{left}" y1="{top + plot_h}" x2="{left + plot_w}" y2="{top + plot_h}" '
        'stroke="#888"/>',
        f'<text x="{left - 4}" y="{top + 4}" text-anchor="end">'
        f"{_e(_fmt(high, value_format))}</text>",
        f'<text x="{left - 4}" y="{top + plot_h}" text-anchor="end">0</text>',
    ]
    for g, category in enumerate(categories):
        x0 = left + g * group_w + 5
        for s, (name, vals, color) in enumerate(series):
            value = vals[g] if g < len(vals) else None
            if value is None:
                continue
            bar_h = value / high * plot_h
            parts.append(
                f'<rect x="{x0 + s * col_w:.1f}" y="{top + plot_h - bar_h:.1f}" '
                f'width="{max(col_w - 2, 1):.1f}" height="{bar_h:.1f}" fill="{color}">'
                f"<title>{_e(name)}, {_e(category)}: {_e(_fmt(value, value_format))}</title></rect>"
            )
        parts.append(
            f'<text x="{x0 + (group_w - 10) / 2:.1f}" y="{top + plot_h + 14}" '
            f'text-anchor="middle">{_e(category)}</text>'
        )
    for s, (name, _, color) in enumerate(series):
        x = left + s * 170
        parts.append(f'<rect x="{x}" y="4" width="10" height="10" fill="{color}"/>')
        parts.append(f'<text x="{x + 14}" y="13">{_e(name)}</text>')
    parts.append("</svg>")
    return "".join(parts)


def svg_grid(
    rows: Sequence[str],
    columns: Sequence[str],
    cells: dict[tuple[str, str], tuple[str, str]],
    title: str,
    legend: Sequence[tuple[str, str]],
) -> str:
    """A status grid: cells[(row, column)] = (colour, tooltip); a missing cell is grey."""
    label_w, cell_w, cell_h = 90, 74, 22
    width = label_w + cell_w * len(columns) + 10
    height = 20 + cell_h * len(rows) + 26
    parts = [_svg_open(width, height, title)]
    for c, column in enumerate(columns):
        x = label_w + c * cell_w + cell_w / 2
        parts.append(f'<text x="{x:.0f}" y="13" text-anchor="middle">{_e(column)}</text>')
    for r, row in enumerate(rows):
        y = 20 + r * cell_h
        parts.append(f'<text x="{label_w - 6}" y="{y + 15}" text-anchor="end">{_e(row)}</text>')
        for c, column in enumerate(columns):
            color, tip = cells.get((row, column), (NONE, "no data"))
            parts.append(
                f'<rect x="{label_w + c * cell_w + 1}" y="{y + 1}" width="{cell_w - 2}" '
                f'height="{cell_h - 2}" fill="{color}"><title>{_e(row)} {_e(column)}: '
                f"{_e(tip)}</title></rect>"
            )
    y = 20 + cell_h * len(rows) + 8
    for n, (color, name) in enumerate(legend):
        x = label_w + n * 130
        parts.append(f'<rect x="{x}" y="{y}" width="10" height="10" fill="{color}"/>')
        parts.append(f'<text x="{x + 14}" y="{y + 9}">{_e(name)}</text>')
    parts.append("</svg>")
    return "".join(parts)


# --------------------------------------------------------------------------- warehouse


def _rows(conn: Any, query: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
    cur = conn.execute(query, params)
    names = [d.name for d in cur.description]
    return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]


def _mart_columns(conn: Any) -> dict[str, set[str]]:
    """The tables and views of ``marts`` with their columns (what is built so far)."""
    found: dict[str, set[str]] = {}
    for table, column in conn.execute(
        "select table_name, column_name from information_schema.columns "
        "where table_schema = 'marts'"
    ).fetchall():
        found.setdefault(table, set()).add(column)
    return found


def _missing(mart: str, hint: str) -> str:
    return (
        f'<p class="note">marts.{_e(mart)} is not in the warehouse yet, so this section is '
        f"empty: {_e(hint)} with the current version (the daily run builds it).</p>"
    )


def _engagement_totals(conn: Any, week: Week) -> dict[str, Any]:
    (totals,) = _rows(
        conn,
        """
        select count(distinct mission_id) as missions, count(distinct activity_date) as days,
               sum(posts) as posts, sum(interactions) as interactions
        from marts.fct_mission_daily_engagement
        where activity_date between %s and %s
        """,
        (week.start, week.end),
    )
    (followers,) = conn.execute(
        """
        select sum(followers_count) from (
            select distinct on (mission_id, platform) followers_count
            from marts.fct_mission_daily_engagement
            where activity_date between %s and %s and followers_count is not null
            order by mission_id, platform, activity_date desc
        ) as last_observed
        """,
        (week.start, week.end),
    ).fetchone()
    totals["followers"] = followers
    return totals


def _daily(conn: Any, week: Week) -> dict[date, dict[str, Any]]:
    rows = _rows(
        conn,
        """
        select activity_date, sum(posts) as posts, sum(interactions) as interactions,
               array_agg(distinct platform order by platform) as platforms
        from marts.fct_mission_daily_engagement
        where activity_date between %s and %s group by 1
        """,
        (week.start, week.end),
    )
    return {r["activity_date"]: r for r in rows}


def _net_sentiment(conn: Any, week: Week) -> dict[str | None, tuple[float | None, int]]:
    """Net sentiment of the week, overall (key None) and per platform."""
    rows = _rows(
        conn,
        """
        select platform, sum(positive_comments) as positive, sum(negative_comments) as negative,
               sum(comments_scored) as scored
        from marts.fct_mission_daily_sentiment
        where activity_date between %s and %s group by rollup (platform)
        """,
        (week.start, week.end),
    )
    out: dict[str | None, tuple[float | None, int]] = {}
    for r in rows:
        polar = (r["positive"] or 0) + (r["negative"] or 0)
        out[r["platform"]] = (
            ((r["positive"] or 0) - (r["negative"] or 0)) / polar if polar else None,
            r["scored"] or 0,
        )
    return out


def _average_compliance(conn: Any, week: Week) -> Any:
    (value,) = conn.execute(
        "select avg(compliance_score) from marts.fct_mission_compliance where week_start_date = %s",
        (week.start,),
    ).fetchone()
    return value


# --------------------------------------------------------------------------- sections


def headline(conn: Any, week: Week, marts: dict[str, set[str]], brief: list[str]) -> str:
    """The section's HTML; appends its one-line summary (plain text) to ``brief``."""
    previous = week.previous()
    now, before = _engagement_totals(conn, week), _engagement_totals(conn, previous)
    sentiment_now = sentiment_before = compliance_now = compliance_before = None
    if "fct_mission_daily_sentiment" in marts:
        sentiment_now = _net_sentiment(conn, week).get(None, (None, 0))[0]
        sentiment_before = _net_sentiment(conn, previous).get(None, (None, 0))[0]
    if "fct_mission_compliance" in marts:
        compliance_now = _average_compliance(conn, week)
        compliance_before = _average_compliance(conn, previous)
    cards = [
        ("Missions reporting", now["missions"], before["missions"], "count"),
        ("Posts", now["posts"], before["posts"], "count"),
        ("Interactions", now["interactions"], before["interactions"], "count"),
        ("Followers (end of week)", now["followers"], before["followers"], "count"),
        ("Net sentiment (-1..+1)", sentiment_now, sentiment_before, "net"),
        ("Average compliance score", compliance_now, compliance_before, "score"),
    ]
    html_cards = "".join(
        f'<div class="card"><div class="k">{_e(name)}</div>'
        f'<div class="v">{_e(_fmt(value, kind))}</div>'
        f'<div class="k">{_change(value, prior, kind)}</div></div>'
        for name, value, prior, kind in cards
    )
    coverage = (
        f"This week has {now['days']} of 7 days in the marts; the previous week "
        f"({previous.label}) has {before['days'] or 0}."
    )
    if week.end >= _today():
        coverage += " The week is not over yet."
    caution = ""
    if now["days"] != before["days"]:
        caution = (
            f'<p class="note">{_e(coverage)} Totals (posts, interactions) compare different '
            "numbers of days: read their change with care.</p>"
        )
        coverage = ""
    brief.append(
        f"{_fmt(now['missions'], 'count')} missions posted {_fmt(now['posts'], 'count')} times "
        f"and drew {_fmt(now['interactions'], 'count')} interactions over {now['days']} day(s)."
    )
    daily_now, daily_before = _daily(conn, week), _daily(conn, previous)
    names = [d.strftime("%a %d") for d in week.days]

    def series(daily: dict[date, dict[str, Any]], days: list[date], key: str) -> list[float | None]:
        return [_num(daily[d][key]) if d in daily else None for d in days]

    chart = svg_columns(
        names,
        [
            (
                f"{previous.label}",
                series(daily_before, previous.days, "interactions"),
                PREVIOUS_WEEK_COLOR,
            ),
            (f"{week.label}", series(daily_now, week.days, "interactions"), THIS_WEEK_COLOR),
        ],
        "count",
        f"Interactions per day, {week.label} against {previous.label}",
    )
    missing_notes = [
        f"{label}: marts.{mart} is not built yet"
        for label, mart in (
            ("net sentiment", "fct_mission_daily_sentiment"),
            ("compliance", "fct_mission_compliance"),
        )
        if mart not in marts
    ]
    missing = f'<p class="muted">n/a: {_e("; ".join(missing_notes))}.</p>' if missing_notes else ""
    return (
        f'<div class="cards">{html_cards}</div>{missing}'
        f'<p class="muted">{_e(coverage)} Followers: each mission and platform at its last '
        "observed day of the week, summed. Net sentiment: (positive - negative) / (positive + "
        "negative) audience comments. Interactions: likes + comments + shares.</p>"
        f"{caution}<h3>Interactions per day</h3>{chart}"
    )


def _ranked(board: list[dict[str, Any]], rank_column: str, top: int) -> list[dict[str, Any]]:
    """Rows ranked ``<= top`` on ``rank_column``, best first, ties by name."""
    rows = [r for r in board if r.get(rank_column) is not None and r[rank_column] <= top]
    return sorted(rows, key=lambda r: (r[rank_column], r["mission_name"]))


def rankings(conn: Any, week: Week, marts: dict[str, set[str]], brief: list[str]) -> str:
    """The section's HTML; appends its one-line summary (plain text) to ``brief``."""
    if "mart_leaderboard" not in marts:
        return _missing("mart_leaderboard", backfill_hint(week))
    board = _rows(
        conn,
        """
        select l.*, coalesce(m.mission_name, l.mission_id) as mission_name
        from marts.mart_leaderboard l left join marts.dim_missions m using (mission_id)
        where l.week_start_date = %s
        """,
        (week.start,),
    )
    if not board:
        return '<p class="muted">The leaderboard has no rows for this week.</p>'
    for row in board:
        row["region"] = row["region"] or "(no region)"
    overall = []
    for title, metric, prefix, kind in CATEGORIES:
        items = "".join(
            f'<li>{_e(r[f"{prefix}_rank"])}. {_e(r["mission_name"])} <span class="muted">'
            f"({_e(r['region'])}, {_e(_fmt(r.get(metric), kind))})</span></li>"
            for r in _ranked(board, f"{prefix}_rank", TOP_N)
        )
        items = items or '<li class="muted">no mission has this figure this week</li>'
        overall.append(f'<td><b>{_e(title)}</b><ol class="plain">{items}</ol></td>')
    top_table = (
        f"<table><tr>{''.join(overall[:3])}</tr><tr>{''.join(overall[3:])}<td></td></tr></table>"
    )
    region_rows = []
    for region in sorted({r["region"] for r in board}):
        in_region = [r for r in board if r["region"] == region]
        cells = [_td(region)]
        for _, metric, prefix, kind in CATEGORIES:
            leaders = _ranked(in_region, f"{prefix}_region_rank", 1)
            if not leaders:
                cells.append(_td("-"))
                continue
            names = ", ".join(r["mission_name"] for r in leaders)
            value = _fmt(leaders[0].get(metric), kind)
            cells.append(f'<td>{_e(names)} <span class="muted">({_e(value)})</span></td>')
        region_rows.append(cells)
    firsts = [
        f"{title.split(' (')[0].lower()}: {', '.join(r['mission_name'] for r in top)}"
        for title, _, prefix, _ in CATEGORIES[:3]
        if (top := _ranked(board, f"{prefix}_rank", 1))
    ]
    if firsts:
        brief.append("Leaders of the week: " + "; ".join(firsts) + ".")
    return (
        f"<h3>Top {TOP_N} overall</h3>{top_table}"
        "<h3>Leader of each region</h3>"
        + _table(["region", *(c[0] for c in CATEGORIES)], region_rows, "no regions")
        + '<p class="muted">Ranks from marts.mart_leaderboard: equal values share a rank.</p>'
    )


def compliance(conn: Any, week: Week, marts: dict[str, set[str]], brief: list[str]) -> str:
    """The section's HTML; appends its one-line summary (plain text) to ``brief``."""
    if "fct_mission_compliance" not in marts:
        return _missing("fct_mission_compliance", backfill_hint(week))
    columns = marts["fct_mission_compliance"]
    checks = [c for c in CHECKS if f"is_{c}_passed" in columns]
    counts = _rows(
        conn,
        "select count(*) as missions, "
        + ", ".join(
            f"count(*) filter (where not is_{c}_passed) as {c}_failed, "
            f"count(*) filter (where is_{c}_passed is not null) as {c}_evaluated"
            for c in checks
        )
        + " from marts.fct_mission_compliance where week_start_date = %s",
        (week.start,),
    )[0]
    if not counts["missions"]:
        return '<p class="muted">No compliance rows for this week.</p>'
    failing = _rows(
        conn,
        """
        select c.mission_id, coalesce(m.mission_name, c.mission_id) as mission_name, m.region,
               c.compliance_score, c.failed_checks, c.not_evaluated_checks
        from marts.fct_mission_compliance c left join marts.dim_missions m using (mission_id)
        where c.week_start_date = %s and coalesce(c.failed_checks, '') <> ''
        order by c.compliance_score asc nulls first, 2
        """,
        (week.start,),
    )
    chart = svg_bars(
        [
            (
                c.replace("_", " "),
                counts[f"{c}_failed"] / counts[f"{c}_evaluated"]
                if counts[f"{c}_evaluated"]
                else None,
                BAD,
            )
            for c in checks
        ],
        "pct",
        "Share of evaluated missions failing each policy check",
    )
    rows = []
    for r in failing[:MAX_COMPLIANCE_ROWS]:
        items = "".join(f"<li>{_e(part.strip())}</li>" for part in r["failed_checks"].split(" | "))
        rows.append(
            [
                _td(r["mission_name"]),
                _td(r["region"]),
                _td(_fmt(r["compliance_score"], "score"), numeric=True),
                f'<td><ul class="checks">{items}</ul></td>',
            ]
        )
    worst = failing[0] if failing else None
    brief.append(
        f"Compliance: {len(failing)} of {counts['missions']} missions failed a policy check"
        + (
            f"; lowest score {worst['mission_name']} ({_fmt(worst['compliance_score'], 'score')})."
            if worst
            else "."
        )
    )
    more = ""
    if len(failing) > MAX_COMPLIANCE_ROWS:
        rest = failing[MAX_COMPLIANCE_ROWS:]
        more = (
            f'<p class="muted">and {len(rest)} more missions with failures: '
            f"{_e(', '.join(r['mission_name'] for r in rest))} (Compliance dashboard).</p>"
        )
    return (
        f"<p>{len(failing)} of {counts['missions']} missions failed at least one policy check "
        "this week.</p><h3>Which checks fail most</h3>"
        + chart
        + "<h3>Missions to act on, lowest score first</h3>"
        + _table(
            ["mission", "region", "score", "failed checks"],
            rows,
            "every mission passed every check",
        )
        + more
    )


def sentiment(conn: Any, week: Week, marts: dict[str, set[str]], brief: list[str]) -> str:
    """The section's HTML; appends its one-line summary (plain text) to ``brief``."""
    if "fct_mission_daily_sentiment" not in marts:
        return _missing("fct_mission_daily_sentiment", backfill_hint(week))
    now, before = _net_sentiment(conn, week), _net_sentiment(conn, week.previous())
    platforms = [p for p in ("x", "facebook", "instagram", "youtube") if p in now]
    platforms += sorted(p for p in now if p is not None and p not in platforms)
    rows = [
        [
            _td(p),
            _td(f"{now[p][1]:,}", numeric=True),
            _td(_fmt(now[p][0], "net"), numeric=True),
            f"<td>{_change(now[p][0], before.get(p, (None, 0))[0], 'net')}</td>",
        ]
        for p in platforms
    ]
    chart = svg_bars(
        [(p, now[p][0], PLATFORM_COLORS.get(p, "#555")) for p in platforms],
        "net",
        "Net sentiment by platform",
    )
    spikes = _rows(
        conn,
        """
        select s.activity_date, coalesce(m.mission_name, s.mission_id) as mission_name,
               m.region, s.platform, s.negative_comments, s.comments_scored, s.negative_share,
               s.baseline_negative_share_mean
        from marts.fct_mission_daily_sentiment s left join marts.dim_missions m using (mission_id)
        where s.activity_date between %s and %s and s.is_negative_spike
        order by s.negative_share desc, s.negative_comments desc, 1
        """,
        (week.start, week.end),
    )
    overall = now.get(None, (None, 0))
    brief.append(
        f"Sentiment: net {_fmt(overall[0], 'net')} over {overall[1]:,} scored comments; "
        f"{len(spikes)} negative spike(s)"
        + (
            f", the sharpest {spikes[0]['mission_name']} on {spikes[0]['platform']} "
            f"({spikes[0]['activity_date']})."
            if spikes
            else "."
        )
    )
    spike_rows = [
        [
            _td(r["activity_date"]),
            _td(r["mission_name"]),
            _td(r["region"]),
            _td(r["platform"]),
            _td(f"{r['negative_comments']} of {r['comments_scored']}", numeric=True),
            _td(_fmt(r["negative_share"], "pct"), numeric=True),
            _td(_fmt(r["baseline_negative_share_mean"], "pct"), numeric=True),
        ]
        for r in spikes
    ]
    return (
        chart
        + _table(
            ["platform", "comments scored", "net sentiment", "change"], rows, "no comments scored"
        )
        + f"<h3>Negative spikes ({len(spikes)})</h3>"
        + '<p class="muted">A day whose share of negative comments is more than 2 standard '
        "deviations above the mission's previous 28 days on that platform.</p>"
        + _table(
            [
                "day",
                "mission",
                "region",
                "platform",
                "negative comments",
                "negative share",
                "usual share",
            ],
            spike_rows,
            "no negative spike this week",
        )
    )


def data_quality(conn: Any, week: Week, marts: dict[str, set[str]], brief: list[str]) -> str:
    """The section's HTML; appends its one-line summary (plain text) to ``brief``."""
    published = _daily(conn, week)
    grid_cells: dict[tuple[str, str], tuple[str, str]] = {}
    platforms = ["x", "facebook", "instagram", "youtube"]
    for day, r in published.items():
        for p in r["platforms"]:
            grid_cells[(p, day.strftime("%a %d"))] = (
                NEUTRAL,
                "published, no data-quality run recorded",
            )
    if "mart_data_quality_daily" not in marts:
        grid = svg_grid(
            platforms,
            [d.strftime("%a %d") for d in week.days],
            grid_cells,
            "Platforms published per day",
            [(NEUTRAL, "published"), (NONE, "nothing")],
        )
        brief.append("Data quality: not confirmed (marts.mart_data_quality_daily is not built).")
        return (
            '<p class="alert">Cannot confirm that this week\'s figures passed their data-quality '
            "checks: marts.mart_data_quality_daily is not in the warehouse. "
            f"{_e(backfill_hint(week))} with the current version.</p>" + grid
        )
    dq = _rows(
        conn,
        """
        select batch_date, platform, suite_name, runs, passed_runs, is_latest_run_passed,
               is_quarantined, latest_summary, freshness_hours
        from marts.mart_data_quality_daily where batch_date between %s and %s
        order by batch_date, platform, suite_name
        """,
        (week.start, week.end),
    )
    tests: dict[date, dict[str, Any]] = {}
    if "mart_dbt_tests_daily" in marts:
        tests = {
            r["run_date"]: r
            for r in _rows(
                conn,
                "select run_date, tests_run, tests_failed from marts.mart_dbt_tests_daily "
                "where run_date between %s and %s",
                (week.start, week.end),
            )
        }
    runs = sum(r["runs"] for r in dq)
    passed = sum(r["passed_runs"] for r in dq)
    quarantined = [r for r in dq if r["is_quarantined"]]
    failed_marts = [r for r in dq if r["platform"] == "marts" and not r["is_latest_run_passed"]]
    for r in dq:
        if r["platform"] == "marts":
            continue
        key = (r["platform"], r["batch_date"].strftime("%a %d"))
        if r["is_quarantined"]:
            grid_cells[key] = (BAD, f"quarantined: {r['suite_name']}")
        elif key not in grid_cells or grid_cells[key][0] != BAD:
            grid_cells[key] = (GOOD, "latest validations passed")
    problems: dict[date, list[str]] = {}
    checked_days = {r["batch_date"] for r in dq}
    for r in quarantined:
        problems.setdefault(r["batch_date"], []).append(
            f"{r['platform']} batch quarantined by {r['suite_name']} (its figures for the day "
            "are not in the marts; the other platforms' are)"
        )
    for r in failed_marts:
        problems.setdefault(r["batch_date"], []).append(
            f"mart check {r['suite_name']} failed on the published figures"
        )
    for day, t in tests.items():
        if t["tests_failed"]:
            problems.setdefault(day, []).append(f"{t['tests_failed']} dbt test(s) failed")
    unchecked = sorted(d for d in published if d not in checked_days)
    if problems:
        items = "".join(
            f"<li><b>{_e(day)}</b>: {_e('; '.join(reasons))}</li>"
            for day, reasons in sorted(problems.items())
            if day in published
        )
        verdict = (
            '<div class="alert"><b>Some published figures of this week come from days with a '
            f"failed check.</b><ul>{items}</ul></div>"
            if items
            else ""
        )
    else:
        verdict = ""
    if not verdict:
        verdict = (
            '<p class="okay">Every day of this week with figures in the marts passed its '
            "data-quality checks.</p>"
            if not unchecked
            else ""
        )
    if unchecked:
        verdict += (
            '<p class="alert">No data-quality run is recorded for '
            f"{_e(', '.join(str(d) for d in unchecked))}: the figures of "
            f"{'that day' if len(unchecked) == 1 else 'those days'} are not confirmed.</p>"
        )
    failed_days = sorted(d for d in problems if d in published)
    if failed_days:
        brief.append(
            "Data quality: published figures of "
            + ", ".join(str(d) for d in failed_days)
            + (" come from a day" if len(failed_days) == 1 else " come from days")
            + " with a failed check (see Data quality)."
        )
    elif not unchecked:
        brief.append("Data quality: every day with figures passed its checks.")
    if unchecked:
        brief.append(
            "Data quality: no check recorded for " + ", ".join(str(d) for d in unchecked) + "."
        )
    freshness = _rows(
        conn,
        """
        select platform, max(batch_date) as latest_day, max(freshness_hours) as worst_hours,
               avg(freshness_hours) as mean_hours
        from marts.mart_data_quality_daily
        where batch_date between %s and %s and platform <> 'marts'
        group by 1 order by 1
        """,
        (week.start, week.end),
    )
    grid = svg_grid(
        platforms,
        [d.strftime("%a %d") for d in week.days],
        grid_cells,
        "Data-quality status per platform and day",
        [(GOOD, "passed"), (BAD, "quarantined"), (NEUTRAL, "not checked"), (NONE, "no data")],
    )
    rate = f"{100 * passed / runs:.1f}%" if runs else "n/a"
    tests_line = ""
    if tests:
        run_total = sum(t["tests_run"] for t in tests.values())
        failed_total = sum(t["tests_failed"] for t in tests.values())
        tests_line = f" dbt tests: {run_total:,} run, {failed_total:,} failed."
    quarantine_rows = [
        [_td(r["batch_date"]), _td(r["platform"]), _td(r["suite_name"]), _td(r["latest_summary"])]
        for r in quarantined + failed_marts
    ]
    return (
        verdict + f"<p>Validations this week: {runs:,}, passed {passed:,} (pass rate {rate}); "
        f"quarantined batches: {len(quarantined)}.{_e(tests_line)}</p>"
        + grid
        + "<h3>Quarantined batches and failed mart checks</h3>"
        + _table(["day", "platform", "suite", "why"], quarantine_rows, "none this week")
        + "<h3>Freshness</h3>"
        + _table(
            [
                "platform",
                "latest day validated",
                "slowest load (hours after the day)",
                "mean (hours)",
            ],
            [
                [
                    _td(r["platform"]),
                    _td(r["latest_day"]),
                    _td(_fmt(r["worst_hours"], "1dp"), numeric=True),
                    _td(_fmt(r["mean_hours"], "1dp"), numeric=True),
                ]
                for r in freshness
            ],
            "no raw batch validated this week",
        )
    )


# --------------------------------------------------------------------------- the page


def build_scorecard(conn: Any, week: Week, today: date | None = None) -> str:
    """The scorecard page for ``week``; raises :class:`ScorecardError` when it has no data."""
    marts = _mart_columns(conn)
    if "fct_mission_daily_engagement" not in marts:
        raise ScorecardError(
            f"no data for {week.label} ({week.start} .. {week.end}): the marts are not built "
            f"in this warehouse; {backfill_hint(week, today)}"
        )
    if not _engagement_totals(conn, week)["missions"]:
        raise ScorecardError(
            f"no data in the marts for {week.label} ({week.start} .. {week.end}); "
            f"{backfill_hint(week, today)}"
        )
    generated = datetime.now(UTC).isoformat(timespec="seconds")
    brief: list[str] = []
    sections = [
        ("This week", headline(conn, week, marts, brief)),
        ("Data quality", data_quality(conn, week, marts, brief)),
        ("Rankings", rankings(conn, week, marts, brief)),
        ("Compliance: what needs action", compliance(conn, week, marts, brief)),
        ("Sentiment", sentiment(conn, week, marts, brief)),
    ]
    not_built = [
        mart
        for mart in ("mart_leaderboard", "fct_mission_compliance", "fct_mission_daily_sentiment")
        if mart not in marts
    ]
    if not_built:
        brief.append(
            f"Not in this report: {', '.join(f'marts.{m}' for m in not_built)} "
            f"(not built in this warehouse yet; {backfill_hint(week, today)})."
        )
    summary = "".join(f"<li>{_e(line)}</li>" for line in brief)
    body = f'<ul class="brief">{summary}</ul>' + "".join(
        f"<h2>{_e(title)}</h2>{content}" for title, content in sections
    )
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>MissionPulse scorecard {week.label}</title><style>{CSS}</style></head><body>
<h1>MissionPulse weekly scorecard: {week.label}</h1>
<p class="muted">{week.start} (Monday) .. {week.end} (Sunday), UTC. Generated {generated} from
the warehouse's marts (the figures the dashboards show).</p>
{body}
</body></html>
"""


def write_scorecard(url: str, week: Week, out: Path, today: date | None = None) -> int:
    """Build the page from the warehouse at ``url`` (read-only session) and write it to
    ``out`` atomically; returns its size in bytes."""
    from missionpulse import db

    with db.connect(url) as conn:
        conn.read_only = True
        page = build_scorecard(conn, week, today)
    data = page.encode("utf-8")
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    tmp.write_bytes(data)
    tmp.replace(out)
    return len(data)


def publish_weekly(url: str, day: date, out_dir: Path | None = None) -> Path | None:
    """For the pipeline's last step: when ``day`` is a Sunday (its ISO week is complete),
    write that week's scorecard to ``<out_dir>/<YYYY-Www>.html`` (default
    ``<state_dir>/reports/``) and return the path; other days do nothing and return None.
    Idempotent: a rerun of the Sunday rewrites the same file. Raises
    :class:`ScorecardError` when the marts hold nothing for the week."""
    if day.isoweekday() != 7:
        return None
    from missionpulse import settings

    week = Week.of(day)
    target = (out_dir or settings.state_dir() / "reports") / f"{week.label}.html"
    write_scorecard(url, week, target, today=day + timedelta(days=1))
    return target
