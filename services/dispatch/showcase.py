"""The public showcase (雙亮), no sign-in: per street and month, issues received and the three
rates, as charts (SVG drawn server-side by pygal) with a table behind each, as JSON and CSV;
and the resolved issues a street office approved, with the photos it chose. Nothing a resident
gave about themselves is shown: no description, no building, no name or phone."""

from __future__ import annotations

import json
import secrets

from flask import Blueprint, Response, abort, g, render_template, request, url_for
from markupsafe import Markup

from district.local_time import local
from services.dispatch import showcase_figures as figures
from services.dispatch import showcase_store as entries
from shared.pages import language, text
from shared.privacy import mask_phones
from shared.web import current_context, current_store

public = Blueprint("showcase", __name__, template_folder="templates")
PLACE_KINDS = ("street", "community", "compound")  # never the building


def style_nonce() -> str:
    """The nonce under which pygal's stylesheet and the showcase's own may run."""
    if "showcase_nonce" not in g:
        g.showcase_nonce = secrets.token_urlsafe(16)
    return g.showcase_nonce


def with_policy(response):
    """The pages' policy, with the showcase's inline styles allowed by nonce and no script."""
    if response.mimetype == "text/html":
        response.headers["Content-Security-Policy"] = (
            f"default-src 'none'; style-src 'self' 'nonce-{style_nonce()}'; img-src 'self'; "
            "form-action 'self'; frame-ancestors 'none'; base-uri 'none'; script-src 'none'"
        )
    return response


public.after_request(with_policy)
public.context_processor(lambda: {"style_nonce": style_nonce})


@public.get("/showcase")
def district():
    """The four streets together, and each street month by month."""
    return _page(current_context().directory.streets, None)


@public.get("/showcase/<street>")
def street(street: str):
    """One street's figures and entries."""
    if street not in current_context().directory.streets:
        abort(404)
    return _page((street,), street)


@public.get("/showcase/data.json")
def data_json():
    """The figures as JSON: one row per street and month, rates as fractions (null: none)."""
    d = current_context().directory
    body = {
        "streets": {s: d.places[s].name for s in _streets()},
        "definitions": {rate: text(f"sc_def_{rate.split('_')[0]}") for rate in figures.RATES},
        "rows": _rows(_streets()),
    }
    return Response(json.dumps(body, ensure_ascii=False), mimetype="application/json")


@public.get("/showcase/data.csv")
def data_csv():
    """The same rows as CSV."""
    disposition = {"Content-Disposition": "inline; filename=showcase.csv"}
    return Response(figures.as_csv(_rows(_streets())), mimetype="text/csv", headers=disposition)


@public.get("/showcase/photos/<photo_id>")
def photo(photo_id: str):
    """A photo an approved entry shows; 404 once the entry is withdrawn."""
    with current_store().read() as conn:
        found = entries.public_photo(conn, photo_id)
    if found is None:
        abort(404)
    headers = {"Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff"}
    return found["data"], 200, {"Content-Type": found["content_type"], **headers}


def _streets() -> tuple[str, ...]:
    streets = current_context().directory.streets
    asked = request.args.get("street")
    if asked is None:
        return streets
    if asked not in streets:
        abort(404)
    return (asked,)


def _rows(streets: tuple[str, ...]) -> list[dict]:
    with current_store().read() as conn:
        return figures.figures(conn, streets, current_context().clock())


def _page(streets: tuple[str, ...], street: str | None):
    with current_store().read() as conn:
        rows = figures.figures(conn, streets, current_context().clock())
        shown = entries.approved(conn, streets)
        chosen = entries.chosen_photos(conn, [e["issue_id"] for e in shown])
    months = figures.by_month(rows) if street is None else rows
    totals = figures.tier_totals(rows)
    return render_template(
        "showcase/index.html",
        street=street,
        street_name=street_name(street) if street else None,
        streets=[(s, street_name(s)) for s in current_context().directory.streets],
        rows=[_shown(r) for r in rows],
        months=[_shown(m) for m in months],
        totals=totals,
        rates_svg=lambda: _svg(figures.rates_chart, months, _rate_labels(), "sc_rates_title"),
        pyramid_svg=lambda: _svg(figures.pyramid_chart, totals, _tier_labels(), "sc_pyramid_title"),
        entries=[_entry(e, chosen.get(e["issue_id"], [])) for e in shown],
        query=f"?street={street}" if street else "",
    )


def _svg(chart, data, labels: dict, title: str) -> Markup:
    return Markup(chart(data, labels, text(title), style_nonce()))  # pygal escapes its text


def _rate_labels() -> dict[str, str]:
    return {rate: text(f"sc_{rate}") for rate in figures.RATES}


def _tier_labels() -> dict[str, str]:
    return {tier: text(f"tier_{tier}") for tier in figures.TIERS}


def _shown(row: dict) -> dict:
    """A row with each rate as the page writes it: 67% and 2/3."""
    shown = {**row, "street_name": street_name(row["street"]) if row["street"] else ""}
    for rate, (part, whole) in figures.RATES.items():
        shown[f"{rate}_shown"] = figures.percent(row[rate])
        shown[f"{rate}_of"] = f"{row[part]}/{row[whole]}"
    return shown


def street_name(street: str) -> str:
    name = current_context().directory.places[street].name
    return name if language() == "zh" else f"{street.title()} ({name})"


def place_name(place_id: str) -> str:
    """Street › community › compound: no deeper, whatever the case recorded."""
    d = current_context().directory
    lineage = [d.places[p] for p in reversed(d.lineage(place_id)) if p in d.places]
    return " › ".join(p.name for p in lineage if p.kind in PLACE_KINDS)


def took(seconds: float) -> str:
    """How long from submission to resolution, in days and hours."""
    hours = int(seconds // 3600)
    if hours < 1:
        return text("sc_minutes")
    if hours < 24:
        return text("sc_hours", hours=hours)
    return text("sc_days_hours", days=hours // 24, hours=hours % 24)


def _entry(entry: dict, photo_ids: list[str]) -> dict:
    d = current_context().directory
    category = d.categories.get(entry["category"])
    resolved = local(entry["resolved_at"])
    return {
        "category": category.name_in(language()) if category else "",
        "place": place_name(entry["place_id"]),
        "summary": mask_phones(entry["summary"]),
        "took": took((entry["resolved_at"] - entry["submitted_at"]).total_seconds()),
        "resolved_on": resolved.strftime("%Y-%m-%d"),
        "photos": [url_for("showcase.photo", photo_id=p) for p in photo_ids],
    }
