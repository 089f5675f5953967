"""``missionpulse audit report``: one self-contained HTML file for auditors.

For a date range: pass rates per day of every suite and platform, every failed data-quality
run (quarantine) and failing expectation with its reason and examples, every failing dbt
test, extraction failures, and the freshness of each source. No scripts, no external files:
the page can be mailed or archived as it is.
"""

from __future__ import annotations

import html
import json
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from typing import Any

CSS = """
body{font-family:system-ui,sans-serif;margin:2em;color:#222}
h1{font-size:1.5em}h2{font-size:1.2em;margin-top:2em;border-bottom:1px solid #ccc}
table{border-collapse:collapse;font-size:.85em;margin:.5em 0}
td,th{border:1px solid #ddd;padding:3px 6px;text-align:left;vertical-align:top}
th{background:#f3f3f3}.ok{background:#d9f2d9}.warn{background:#fff1c2}.bad{background:#f8c9c9}
.none{background:#f6f6f6;color:#999}code{font-size:.9em}.muted{color:#777}
"""


def _rows(conn: Any, query: str, params: dict[str, Any]) -> list[dict[str, Any]]:
    cur = conn.execute(query, params)
    names = [d.name for d in cur.description]
    return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]


def _e(value: Any) -> str:
    return html.escape("" if value is None else str(value))


def _table(headers: list[str], rows: list[list[str]], empty: str = "none") -> str:
    if not rows:
        return f'<p class="muted">{_e(empty)}</p>'
    head = "".join(f"<th>{_e(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(cells) + "</tr>" for cells in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def _td(value: Any, css: str = "") -> str:
    return f'<td class="{css}">{_e(value)}</td>' if css else f"<td>{_e(value)}</td>"


def pass_rates(conn: Any, first: date, last: date) -> str:
    runs = _rows(
        conn,
        """
        select batch_date, suite_name, coalesce(platform, 'marts') as platform,
               count(*) as runs, count(*) filter (where success) as passed,
               sum(warning_failures) as warnings
        from audit.dq_runs where batch_date between %(first)s and %(last)s
        group by 1, 2, 3 order by 3, 2, 1
        """,
        {"first": first, "last": last},
    )
    days = [first + timedelta(days=n) for n in range((last - first).days + 1)]
    cells: dict[tuple[str, str], dict[date, dict[str, Any]]] = defaultdict(dict)
    for r in runs:
        cells[(r["platform"], r["suite_name"])][r["batch_date"]] = r
    rows = []
    for (platform, suite), by_day in sorted(cells.items()):
        total = sum(r["runs"] for r in by_day.values())
        passed = sum(r["passed"] for r in by_day.values())
        line = [_td(platform), _td(suite), _td(f"{passed}/{total} ({100 * passed / total:.0f}%)")]
        for day in days:
            cell = by_day.get(day)
            if cell is None:
                line.append(_td("-", "none"))
                continue
            css = "bad" if cell["passed"] < cell["runs"] else ("warn" if cell["warnings"] else "ok")
            line.append(_td(f"{cell['passed']}/{cell['runs']}", css))
        rows.append(line)
    headers = ["platform", "suite", "passed", *[d.strftime("%m-%d") for d in days]]
    return _table(headers, rows, "no data-quality runs in this range")


def failures(conn: Any, first: date, last: date) -> str:
    runs = _rows(
        conn,
        """
        select d.dq_run_id, d.dag_run_id, d.suite_name, coalesce(d.platform, 'marts') as platform,
               d.batch_date, d.success, d.finished_at, d.load_ids, r.expectation_name,
               r.severity, r.column_name, r.unexpected_count, r.unexpected_examples,
               r.observed_value
        from audit.dq_runs d join audit.dq_results r using (dq_run_id)
        where d.batch_date between %(first)s and %(last)s and not r.success
        order by d.batch_date, d.finished_at, d.suite_name, r.severity, r.expectation_name
        """,
        {"first": first, "last": last},
    )
    rows = [
        [
            _td(r["batch_date"]),
            _td(r["platform"]),
            _td(r["suite_name"]),
            _td(
                "quarantined" if not r["success"] else "published", "ok" if r["success"] else "bad"
            ),
            _td(r["severity"], "bad" if r["severity"] == "blocking" else "warn"),
            _td(r["expectation_name"] + (f" ({r['column_name']})" if r["column_name"] else "")),
            _td(r["unexpected_count"]),
            f"<td><code>{_e(json.dumps(r['unexpected_examples'])[:300])}</code></td>",
            _td(r["dq_run_id"]),
            _td(", ".join(r["load_ids"] or [])),
        ]
        for r in runs
    ]
    return _table(
        [
            "day",
            "platform",
            "suite",
            "batch",
            "severity",
            "expectation",
            "unexpected",
            "examples",
            "DQ run",
            "loads",
        ],
        rows,
        "no failing expectation in this range",
    )


def dbt_failures(conn: Any, first: date, last: date) -> tuple[str, str]:
    params = {"first": first.isoformat(), "last": last.isoformat()}
    summary = _rows(
        conn,
        """
        select r.run_vars ->> 'start_date' as day, count(*) as tests,
               count(*) filter (where t.status = 'pass') as passed
        from audit.dbt_test_results t join audit.dbt_runs r using (invocation_id)
        where r.run_vars ->> 'start_date' between %(first)s and %(last)s
        group by 1 order by 1
        """,
        params,
    )
    failing = _rows(
        conn,
        """
        select r.run_vars ->> 'start_date' as day, r.dag_run_id, t.test_name, t.attached_node,
               t.column_name, t.status, t.failures, t.message
        from audit.dbt_test_results t join audit.dbt_runs r using (invocation_id)
        where r.run_vars ->> 'start_date' between %(first)s and %(last)s
          and t.status <> 'pass'
        order by 1, 3
        """,
        params,
    )
    return (
        _table(
            ["day", "dbt tests run", "passed"],
            [[_td(s["day"]), _td(s["tests"]), _td(s["passed"])] for s in summary],
            "no dbt tests recorded in this range",
        ),
        _table(
            ["day", "test", "on", "status", "failures", "message", "DAG run"],
            [
                [
                    _td(f["day"]),
                    _td(f["test_name"] + (f" ({f['column_name']})" if f["column_name"] else "")),
                    _td(f["attached_node"]),
                    _td(f["status"], "bad" if f["status"] in ("fail", "error") else "warn"),
                    _td(f["failures"]),
                    _td(f["message"]),
                    _td(f["dag_run_id"]),
                ]
                for f in failing
            ],
            "every dbt test passed",
        ),
    )


def extraction_failures(conn: Any, first: date, last: date) -> str:
    rows = _rows(
        conn,
        """
        select interval_start::date as day, platform, stage, error, count(*) as handles,
               string_agg(handle, ', ' order by handle) as which
        from audit.extract_runs
        where status = 'failed' and interval_start::date between %(first)s and %(last)s
        group by 1, 2, 3, 4 order by 1, 2
        """,
        {"first": first, "last": last},
    )
    return _table(
        ["day", "platform", "stage", "error", "handles", "which"],
        [
            [
                _td(r["day"]),
                _td(r["platform"]),
                _td(r["stage"]),
                _td(r["error"]),
                _td(r["handles"]),
                _td(r["which"][:300]),
            ]
            for r in rows
        ],
        "no extraction failure in this range",
    )


def freshness(conn: Any, last: date) -> str:
    rows = _rows(
        conn,
        """
        with loads as (
            select platform, entity, max(interval_start)::date as latest_day,
                   max(loaded_at) as latest_load
            from audit.raw_loads group by 1, 2
        ), passed as (
            select platform, entity, max(batch_date) as latest_passed
            from audit.dq_runs where success group by 1, 2
        )
        select l.platform, l.entity, l.latest_day, l.latest_load, p.latest_passed
        from loads l left join passed p using (platform, entity)
        order by 1, 2
        """,
        {},
    )
    out = []
    for r in rows:
        lag = (last - r["latest_passed"]).days if r["latest_passed"] else None
        css = (
            "ok"
            if lag is not None and lag <= 1
            else ("warn" if lag is not None and lag <= 3 else "bad")
        )
        out.append(
            [
                _td(r["platform"]),
                _td(r["entity"]),
                _td(r["latest_day"]),
                _td(r["latest_load"]),
                _td(r["latest_passed"]),
                _td("never passed" if lag is None else f"{lag} day(s)", css),
            ]
        )
    return _table(
        [
            "platform",
            "entity",
            "latest day landed",
            "latest load",
            "latest day passed DQ",
            f"age on {last}",
        ],
        out,
        "nothing landed yet",
    )


def build_report(conn: Any, first: date, last: date) -> str:
    (runs, passed, quarantined) = conn.execute(
        "select count(*), count(*) filter (where success), count(*) filter (where not success) "
        "from audit.dq_runs where batch_date between %s and %s",
        (first, last),
    ).fetchone()
    dbt_summary, dbt_failing = dbt_failures(conn, first, last)
    generated = datetime.now(UTC).isoformat(timespec="seconds")
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>MissionPulse audit report {first} .. {last}</title><style>{CSS}</style></head><body>
<h1>MissionPulse audit report: {first} .. {last}</h1>
<p class="muted">Generated {generated} from the warehouse's audit schema (dq_runs, dq_results,
dbt_runs, dbt_test_results, extract_runs, raw_loads). A batch is published only when every
blocking expectation of its suite passed; a quarantined batch stays in raw and its day is not
published from it.</p>
<p>{runs} data-quality runs, {passed} passed, <b>{quarantined} quarantined</b>.</p>
<h2>Pass rates per suite and platform</h2>
<p class="muted">Cells: passed/total validations of the day; yellow = passed with warnings.</p>
{pass_rates(conn, first, last)}
<h2>Failures and quarantines</h2>
{failures(conn, first, last)}
<h2>dbt tests</h2>
{dbt_summary}
{dbt_failing}
<h2>Extraction failures</h2>
{extraction_failures(conn, first, last)}
<h2>Freshness per source</h2>
{freshness(conn, last)}
</body></html>
"""


def bad_data_catches(conn: Any, day: date) -> list[tuple[str, str, str, int | None]]:
    """For each kind of the bad-data catalogue: (kind, suite, expectation, unexpected rows)
    of the day's latest validation of that suite; rows is None when it did not fail."""
    from missionpulse.simulator.bad_data import CATALOGUE

    out = []
    for anomaly in CATALOGUE:
        row = conn.execute(
            """
            select r.success, r.unexpected_count
            from audit.dq_runs d join audit.dq_results r using (dq_run_id)
            where d.batch_date = %s and d.suite_name = %s and r.expectation_name = %s
            order by d.finished_at desc limit 1
            """,
            (day, anomaly.suite, anomaly.expectation),
        ).fetchone()
        caught = row is not None and not row[0]
        out.append((anomaly.kind, anomaly.suite, anomaly.expectation, row[1] if caught else None))
    return out
