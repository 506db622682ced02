"""The street office's desk (a browser at the office, signed in with the office's token): the
triage queue (classify what no keyword could, arbitrate returns, re-tier), the board of the
street's open issues (overdue and escalated first, refreshed in place), and the work day —
call a meeting, its agenda on screen and on A4, raise issues with what was promised, and at
the next meeting whether each promise was kept.

Every form acts through the same commands as the API (services/dispatch/commands.py and
workday.py): the same checks, states and events. The desk shows the office's own street only."""

from __future__ import annotations

from datetime import datetime

from flask import Blueprint, flash, redirect, render_template, request, url_for
from marshmallow import Schema, ValidationError, fields, validate
from sqlalchemy import Connection

from district.directory import TIERS, Directory, Unit
from district.links import reference
from district.local_time import LOCAL_TIME, local
from services.dispatch import commands, meetings, metrics, model, store, unit_pages, workday
from services.dispatch.model import RETURN_REASONS, InvalidTransition
from services.dispatch.schemas import FlagsSchema
from shared.errors import Conflict, DomainError, Forbidden, Invalid, NotFound
from shared.inputs import SaneDate, SaneDateTime
from shared.pages import deadline, language, moment, text
from shared.web import current_context, current_store

desk = Blueprint("desk", __name__, template_folder="templates")
TIER_ORDER = ("hard", "big", "small", "private", None)  # the heaviest first, untriaged last


class DeskTriageForm(Schema):
    category = fields.String(required=True)
    households_affected = fields.Integer(
        load_default=None, validate=validate.Range(min=0, max=100_000)
    )
    needs_several_departments = fields.Boolean(load_default=False)
    repeated_complaint = fields.Boolean(load_default=False)


class DeskArbitrateForm(Schema):
    unit_id = fields.String(required=True, validate=validate.Length(min=1, max=64))


class DeskRetierForm(Schema):
    tier = fields.String(required=True, validate=validate.OneOf(TIERS))
    reason = fields.String(required=True, validate=validate.Length(min=1, max=500))


class DeskMeetingForm(Schema):
    held_on = SaneDate(required=True)
    place = fields.String(required=True, validate=validate.Length(min=1, max=200))
    attending_units = fields.List(
        fields.String(), required=True, validate=validate.Length(min=1, max=50)
    )


class DeskRaiseForm(Schema):
    issue_id = fields.String(required=True, validate=validate.Length(min=1, max=36))
    unit_id = fields.String(required=True, validate=validate.Length(min=1, max=64))
    promise = fields.String(required=True, validate=validate.Length(min=1, max=500))
    # a browser's datetime-local has no zone: it is Beijing time, as the office reads it
    promised_by = SaneDateTime(required=True, default_timezone=LOCAL_TIME)


# Who sits at the desk.


def _office(conn: Connection) -> tuple[Unit, str]:
    """The signed-in street office and its street; anyone else is sent to sign in or refused."""
    unit = unit_pages.signed_in_unit(conn)
    if unit is None:
        raise unit_pages.SignInNeeded
    if unit.type != "street_office":
        raise Forbidden("desk_only")
    return unit, model.office_street(unit, current_context().directory)


# The board.


@desk.get("/desk")
def board():
    """The street's open issues by tier, overdue and escalated first, with filters."""
    with current_store().read() as conn:
        office, street = _office(conn)
        view = _board_view(conn, street)
    template = "desk/board_rows.html" if request.args.get("fragment") else "desk/board.html"
    refresh = current_context().desk_refresh.total_seconds()
    return render_template(template, office=office, refresh=refresh, **view)


def _board_view(conn: Connection, street: str) -> dict:
    d, now = current_context().directory, current_context().clock()
    cases = store.street_queue(conn, street, model.OPEN_CASE_STATES)
    notes = store.last_notes(conn, [c.issue_id for c in cases])
    rows = [_row(d, c, notes.get(c.issue_id), now) for c in cases]
    chosen = {k: request.args.get(k) or "" for k in ("community", "unit", "category", "tier")}
    shown = [r for r in rows if all(not v or r[k] == v for k, v in chosen.items())]
    shown.sort(key=lambda r: r["order"])
    groups = [
        (tier or "untriaged", [r for r in shown if r["tier"] == (tier or "")])
        for tier in TIER_ORDER
    ]
    units = sorted({(r["unit"], r["unit_name"]) for r in rows if r["unit"]}, key=lambda u: u[1])
    per_unit = [
        {
            "name": name,
            "open": sum(r["unit"] == uid for r in shown),
            "overdue": sum(r["unit"] == uid and r["overdue"] for r in shown),
        }
        for uid, name in units
    ]
    return {
        "street_name": d.places[street].name,
        "groups": [(tier, listed) for tier, listed in groups if listed],
        "per_unit": [u for u in per_unit if u["open"]],
        "counts": {
            "open": len(shown),
            "overdue": sum(r["overdue"] for r in shown),
            "escalated": sum(r["level"] > 0 for r in shown),
        },
        "filters": chosen,
        "options": {
            "community": _communities(d, street),
            "unit": units,
            "category": [(c.id, c.name_in(language())) for c in d.categories.values()],
            "tier": [(t, text(f"tier_{t}")) for t in TIERS],
        },
    }


def _row(d: Directory, case, note: dict | None, now: datetime) -> dict:
    waiting_claim = case.state in ("triage", "arbitration", "dispatched")
    due = case.claim_due if waiting_claim else case.resolve_due
    shown = deadline(local(due), now) if due else None
    overdue = case.is_overdue(now)
    unit = d.units.get(case.lead_unit_id or "")
    return {
        "issue_id": case.issue_id,
        "ref": reference(case.issue_id),
        "state": case.state,
        "tier": case.tier or "",
        "category": case.category or "",
        "category_name": d.categories[case.category].name_in(language()) if case.category else "",
        "community": _community_of(d, case.place_id),
        "place": d.places[case.place_id].name if case.place_id in d.places else "",
        "description": case.description[:120],
        "unit": unit.id if unit else "",
        "unit_name": unit.name if unit else "",
        "deadline_label": text("deadline_claim" if waiting_claim else "deadline_resolve"),
        "deadline": shown,
        "overdue": overdue,
        "level": case.escalation_level,
        "note": note,
        "note_at": moment(local(note["created_at"])) if note else "",
        "order": (
            not overdue,
            -case.escalation_level,
            due or datetime.max.replace(tzinfo=now.tzinfo),
        ),
    }


def _community_of(d: Directory, place_id: str) -> str:
    return next((p for p in d.lineage(place_id) if d.places[p].kind == "community"), "")


def _communities(d: Directory, street: str) -> list[tuple[str, str]]:
    return [
        (p.id, p.name) for p in d.places.values() if p.kind == "community" and p.parent == street
    ]


# The triage queue.


@desk.get("/desk/triage")
def triage_queue():
    """Issues no keyword could classify, and returns waiting for the office to arbitrate."""
    d = current_context().directory
    with current_store().read() as conn:
        office, street = _office(conn)
        queue = store.street_queue(conn, street, ("triage", "arbitration"))
        items = [_queue_item(conn, d, c) for c in queue]
    return render_template(
        "desk/triage.html",
        office=office,
        street_name=d.places[street].name,
        unclassified=[i for i in items if i["case"].state == "triage"],
        returned=[i for i in items if i["case"].state == "arbitration"],
        categories=[(c.id, c.name_in(language())) for c in d.categories.values()],
        units=_street_units(d, street),
        tiers=[(t, text(f"tier_{t}")) for t in TIERS],
    )


def _queue_item(conn: Connection, d: Directory, case) -> dict:
    sent = store.assignments_of(conn, case.issue_id)
    explained = {
        (n["unit_id"]): n["note"]
        for n in store.notes_of(conn, case.issue_id)
        if n["kind"] == "return"
    }
    returns = [
        {
            "unit": d.units[a.unit_id].name if a.unit_id in d.units else a.unit_id,
            "reason": text(f"reason_{a.return_reason}")
            if a.return_reason in RETURN_REASONS
            else "",
            "note": explained.get(a.unit_id, ""),
        }
        for a in sent
        if a.state == "returned"
    ]
    return {
        "case": case,
        "ref": reference(case.issue_id),
        "place": d.places[case.place_id].name if case.place_id in d.places else "",
        "returns": returns,
        "submitted": moment(local(case.submitted_at)),
    }


def _street_units(d: Directory, street: str) -> list[tuple[str, str]]:
    """Units working in the street (covering it or a place in it), and the district's
    departments, for a forced assignment or a work day's attendance."""
    inside = {p.id for p in d.places.values() if street in d.lineage(p.id)}
    return [
        (u.id, u.name)
        for u in d.units.values()
        if u.type == "district_department" or set(u.covers) & inside
    ]


@desk.post("/desk/issues/<issue_id>/triage")
def triage(issue_id: str):
    body = _form(DeskTriageForm())
    flags = FlagsSchema().load(
        {k: body[k] for k in FlagsSchema().fields if body.get(k) not in (None, False)}
    )
    return _act(issue_id, "triage", commands.triage, body["category"], flags)


@desk.post("/desk/issues/<issue_id>/arbitrate")
def arbitrate(issue_id: str):
    return _act(issue_id, "arbitrate", commands.arbitrate, _form(DeskArbitrateForm())["unit_id"])


@desk.post("/desk/issues/<issue_id>/tier")
def retier(issue_id: str):
    body = _form(DeskRetierForm())
    return _act(issue_id, "tier", commands.retier, body["tier"], body["reason"])


def _act(issue_id: str, action: str, command, *args):
    with current_store().unit_of_work() as uow:
        office, _street = _office(uow.conn)
        command(uow, current_context(), issue_id, office, *args)
    flash(text(f"desk_done_{action}", ref=reference(issue_id)))
    return redirect(_back(url_for("desk.triage_queue")), 303)


# The work day.


@desk.get("/desk/meetings")
def meeting_list():
    d = current_context().directory
    with current_store().read() as conn:
        office, street = _office(conn)
        held = store.meetings_of(conn, street)
    return render_template(
        "desk/meetings.html",
        office=office,
        street_name=d.places[street].name,
        meetings=held,
        units=_street_units(d, street),
        today=current_context().clock().astimezone(LOCAL_TIME).date().isoformat(),
    )


@desk.post("/desk/meetings")
def call_meeting():
    form = {**request.form, "attending_units": request.form.getlist("attending_units")}
    try:
        body = DeskMeetingForm().load({k: v for k, v in form.items() if k != "csrf_token"})
    except ValidationError as exc:
        raise Invalid("invalid form", exc.normalized_messages()) from None
    with current_store().unit_of_work() as uow:
        office, street = _office(uow.conn)
        meeting_id = meetings.create(uow, current_context(), office, street, **body)
    flash(text("desk_done_meeting"))
    return redirect(url_for("desk.meeting", meeting_id=meeting_id), 303)


@desk.get("/desk/meetings/<meeting_id>")
def meeting(meeting_id: str):
    """The agenda (on screen and on A4), the issues raised with their promises, and whether
    the previous meeting's promises were kept."""
    context = current_context()
    d, now = context.directory, context.clock()
    with current_store().read() as conn:
        office, street = _office(conn)
        header = store.get_meeting(conn, meeting_id)
        if header is None or header["street"] != street:
            raise NotFound("no_meeting")
        agenda = meetings.agenda(conn, context, meeting_id)
        raised = workday.promises(conn, meeting_id, now)
        previous = workday.previous_meeting(conn, header)
        checked = workday.promises(conn, previous["id"], now) if previous else []
        submitted_there = meetings.record(conn, context, meeting_id)["raised"]
    raised_ids = {r["issue_id"] for r in raised}
    attending = [(u, d.units[u].name) for u in header["attending"] if u in d.units]
    return render_template(
        "desk/meeting.html",
        office=office,
        street_name=d.places[street].name,
        meeting=header,
        counts=agenda["counts"],
        tiers=[
            (tier, [_agenda_item(d, i, now) for i in items])
            for tier, items in agenda["by_tier"].items()
            if items
        ],
        raised=[_raised_item(d, r) for r in raised],
        submitted_there=[_agenda_item(d, i, now) for i in submitted_there],
        previous=previous,
        checked=[_raised_item(d, r) for r in checked],
        raised_ids=raised_ids,
        attending=attending or _street_units(d, street),
        default_promise=(now.astimezone(LOCAL_TIME).replace(hour=18, minute=0, second=0)).strftime(
            "%Y-%m-%dT%H:%M"
        ),
    )


def _agenda_item(d: Directory, item: dict, now: datetime) -> dict:
    return {
        **item,
        "ref": reference(item["issue_id"]),
        "category_name": (
            d.categories[item["category"]].name_in(language()) if item["category"] else ""
        ),
        "unit_name": item["unit"]["name"] if item["unit"] else "",
        "unit_id": item["unit"]["id"] if item["unit"] else "",
        "promised": moment(local(datetime.fromisoformat(item["promised_by"])))
        if item["promised_by"]
        else "",
    }


def _raised_item(d: Directory, item: dict) -> dict:
    case = item["case"]
    return {
        "ref": reference(item["issue_id"]),
        "issue_id": item["issue_id"],
        "description": case.description[:120] if case else "",
        "unit_name": d.units[item["unit_id"]].name if item["unit_id"] in d.units else "",
        "promise": item["promise"],
        "promised_by": moment(local(item["promised_by"])),
        "kept": item["kept"],
        "state": case.state if case else "",
    }


@desk.post("/desk/meetings/<meeting_id>/raise")
def raise_issue(meeting_id: str):
    body = _form(DeskRaiseForm())
    with current_store().unit_of_work() as uow:
        office, _street = _office(uow.conn)
        raised = workday.raise_issue(uow, current_context(), office, meeting_id, **body)
    key = "desk_done_raise" if raised else "desk_already_raised"
    flash(text(key, ref=reference(body["issue_id"])))
    return redirect(url_for("desk.meeting", meeting_id=meeting_id) + "#raised", 303)


# Forms and refusals.


def _form(schema: Schema) -> dict:
    fields_given = {k: v for k, v in request.form.items() if k in schema.fields and v.strip() != ""}
    for name, field in schema.fields.items():  # an unticked checkbox sends nothing
        if isinstance(field, fields.Boolean) and name not in fields_given:
            fields_given[name] = False
    try:
        return schema.load(fields_given)
    except ValidationError as exc:
        raise Invalid("invalid form", exc.normalized_messages()) from None


def _back(default: str) -> str:
    """Where a form came from, if it is one of this site's pages."""
    back = request.form.get("back", "")
    return back if back.startswith("/") and not back.startswith("//") else default


@desk.errorhandler(unit_pages.SignInNeeded)
def _sign_in_needed(_exc):
    return redirect(url_for("unit_pages.sign_in", next=request.path), 303)


@desk.errorhandler(DomainError)
def _refused(exc: DomainError):
    metrics.PAGE_REFUSALS.labels(unit_pages.refusal_reason(exc)).inc()
    if isinstance(exc, InvalidTransition) or (isinstance(exc, Conflict) and exc.state):
        words = text("desk_conflict", state=text(f"state_{exc.state}"))
        status = 409
    elif isinstance(exc, Invalid):
        field = next(iter(exc.errors or {}), "")
        words, status = text("desk_invalid", field=text(f"field_{field}")), 422
    elif isinstance(exc, Forbidden):
        words, status = text(str(exc) if str(exc) == "desk_only" else "forbidden"), 403
    else:
        words, status = text("desk_not_found"), 404
    back = _back(url_for("desk.board"))
    return render_template("desk/message.html", message=words, back=back), status
