"""The three rates of the 12345 practice per street and month (Beijing time, by the month an
issue was submitted), read from dispatch's own cases and assignments, as rows for the page,
JSON and CSV, and as charts drawn server-side by pygal.

- response rate: claimed within the claim deadline ÷ issues with a claim deadline;
- resolution rate: resolved within the resolve deadline ÷ issues resolved or past it;
- satisfaction rate: issues whose resident was satisfied ÷ issues whose resident answered.
The claim deadline is the one the lead's dispatch named, or escalation's when it moved it
(issue.clock_armed), the resolve deadline escalation's; a claim is the latest lead unit's, the
one that deadline was armed for."""

from __future__ import annotations

import csv
import functools
import io
import re
from collections import defaultdict
from datetime import datetime

from sqlalchemy import Connection, select

from district.local_time import local
from services.dispatch.store import assignments, cases

TIERS = ("private", "small", "big", "hard")
COUNTS = (
    "received",
    "claimed_on_time",
    "with_claim_deadline",
    "resolved_in_time",
    "resolved_or_overdue",
    "satisfied",
    "answered",
)
RATES = {  # rate: (numerator, denominator)
    "response_rate": ("claimed_on_time", "with_claim_deadline"),
    "resolution_rate": ("resolved_in_time", "resolved_or_overdue"),
    "satisfaction_rate": ("satisfied", "answered"),
}
SUMMED = (*COUNTS, *(f"tier_{t}" for t in TIERS))
COLUMNS = (
    "street",
    "month",
    "received",
    "claimed_on_time",
    "with_claim_deadline",
    "response_rate",
    "resolved_in_time",
    "resolved_or_overdue",
    "resolution_rate",
    "satisfied",
    "answered",
    "satisfaction_rate",
    *(f"tier_{t}" for t in TIERS),
)


def figures(conn: Connection, streets: tuple[str, ...], now: datetime) -> list[dict]:
    """One row per street and month that received issues, oldest month first."""
    claims = _lead_claims(conn, streets)
    rows: dict[tuple[str, str], dict] = defaultdict(lambda: dict.fromkeys(SUMMED, 0))
    query = select(cases).where(cases.c.street.in_(streets))
    for case in conn.execute(query).mappings():
        row = rows[case["street"], local(case["submitted_at"]).strftime("%Y-%m")]
        for name, counted in _counts(case, claims.get(case["issue_id"]), now).items():
            row[name] += counted
    return [
        _with_rates({"street": street, "month": month, **counts})
        for (street, month), counts in sorted(rows.items(), key=lambda i: (i[0][1], i[0][0]))
    ]


def _counts(case, claimed_at: datetime | None, now: datetime) -> dict[str, int]:
    """What one issue adds to its street's month."""
    claim_due, resolve_due = case["claim_due"], case["resolve_due"]
    resolved_at = case["resolved_at"] if case["state"] in ("resolved", "closed") else None
    satisfied = case["closed_reason"] == "satisfied"
    counts = {
        "received": 1,
        "with_claim_deadline": claim_due is not None,
        "claimed_on_time": bool(claim_due and claimed_at and claimed_at <= claim_due),
        "resolved_or_overdue": bool(resolve_due and (resolved_at or resolve_due < now)),
        "resolved_in_time": bool(resolve_due and resolved_at and resolved_at <= resolve_due),
        "satisfied": satisfied,
        "answered": satisfied or case["reopened"] > 0,  # dissatisfied: reopened
    }
    if case["tier"] in TIERS:
        counts[f"tier_{case['tier']}"] = 1
    return {name: int(value) for name, value in counts.items()}


def _lead_claims(conn: Connection, streets: tuple[str, ...]) -> dict[str, datetime | None]:
    """When the latest lead assignment of each issue was claimed (None: not yet)."""
    query = (
        select(assignments.c.issue_id, assignments.c.claimed_at)
        .join(cases, cases.c.issue_id == assignments.c.issue_id)
        .where(cases.c.street.in_(streets), assignments.c.role == "lead")
        .order_by(assignments.c.id)
    )
    return {row.issue_id: row.claimed_at for row in conn.execute(query)}  # the latest wins


def _with_rates(row: dict) -> dict:
    row = dict(row)
    for rate, (part, whole) in RATES.items():
        row[rate] = round(row[part] / row[whole], 4) if row[whole] else None
    return {column: row[column] for column in COLUMNS}


def by_month(rows: list[dict]) -> list[dict]:
    """The streets' rows summed per month (the district's figures), rates recomputed."""
    months: dict[str, dict] = {}
    for row in rows:
        total = months.setdefault(row["month"], {"street": "", "month": row["month"]})
        for name in SUMMED:
            total[name] = total.get(name, 0) + row[name]
    return [_with_rates(months[m]) for m in sorted(months)]


def tier_totals(rows: list[dict]) -> dict[str, int]:
    return {tier: sum(r[f"tier_{tier}"] for r in rows) for tier in TIERS}


def as_csv(rows: list[dict]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()


def percent(rate: float | None) -> str:
    """A rate as the page shows it: 67%, or — when nothing was counted."""
    return "—" if rate is None else f"{round(rate * 100)}%"


# Charts: SVG inlined in the page. pygal's tooltip script is left out (the page runs no script
# but its own); its stylesheet carries the page's CSP nonce. pygal is imported with the first
# chart drawn: a dispatch replica that never draws one keeps ~4 MB less resident.


@functools.cache
def _chart() -> dict:
    """pygal's options for every chart."""
    from pygal.style import Style

    return {**CHART, "style": Style(**STYLE)}


STYLE = {
    "background": "transparent",
    "plot_background": "#ffffff",
    "font_family": 'system-ui, "Noto Sans CJK SC", "PingFang SC", "Microsoft YaHei", sans-serif',
    "colors": ("#a61b1b", "#0b5cad", "#2e7d3e", "#b36b00"),
    "label_font_size": 15,
    "major_label_font_size": 15,
    "legend_font_size": 16,
    "title_font_size": 17,
    "value_font_size": 15,
    "value_colors": ("#ffffff",),
    "opacity": ".9",
    "opacity_hover": ".9",
}
CHART = {
    "js": [],
    "disable_xml_declaration": True,
    "width": 400,  # drawn for a phone; the page scales it to the column
    "height": 320,
    "margin_right": 28,  # room for the last month's label
    "legend_at_bottom": True,
    "legend_at_bottom_columns": 1,
    "show_legend": True,
}


def rates_chart(months: list[dict], labels: dict[str, str], title: str, nonce: str) -> str:
    """The three rates over the months, in percent (a gap where nothing was counted)."""
    import pygal

    chart = pygal.Line(**_chart(), range=(0, 100), show_x_guides=False, dots_size=5)
    chart.y_labels = [0, 25, 50, 75, 100]
    chart.title = title
    chart.x_labels = [m["month"] for m in months]
    chart.value_formatter = lambda v: f"{v:.0f}%"
    for rate in RATES:
        chart.add(labels[rate], [_points(m[rate]) for m in months], allow_interruptions=True)
    return inline(chart, nonce)


def pyramid_chart(totals: dict[str, int], labels: dict[str, str], title: str, nonce: str) -> str:
    """The tier pyramid: private at the base, hard at the top, bars as long as their count."""
    import pygal

    chart = pygal.HorizontalBar(**{**_chart(), "show_legend": False}, print_values=True)
    chart.title = title
    top = max(max(totals.values()), 1)
    chart.y_labels = list(range(0, top + 1, max(1, -(-top // 5))))  # whole issues only
    chart.x_labels = [labels[t] for t in TIERS]
    chart.add(title, [totals[t] for t in TIERS])  # one colour: a colour per bar needs style=""
    return inline(chart, nonce)


def _points(rate: float | None) -> float | None:
    return None if rate is None else round(rate * 100, 1)


_SCRIPT = re.compile(r"<script\b.*?</script>", re.S)


def inline(chart, nonce: str) -> str:
    """The chart's SVG for inlining in HTML: no script, its style element under the nonce,
    its one inline style attribute as a presentation attribute (the CSP allows neither)."""
    svg = _SCRIPT.sub("", chart.render(is_unicode=True))
    svg = svg.replace('style="opacity: 0"', 'opacity="0"')
    svg = svg.replace("<style", f'<style nonce="{nonce}"', 1)
    return svg.replace("<svg ", '<svg role="img" ', 1)
