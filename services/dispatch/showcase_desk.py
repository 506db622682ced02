"""The street office's approvals for the showcase (`/desk/showcase`): its street's resolved
issues with what the unit reported and its photos; it approves an entry (the words to publish,
the photos to show) or withdraws it. Signed in as on the units' pages (a unit token, the same
session and CSRF); only a street office, and only for its own street."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from marshmallow import Schema, ValidationError, fields, validate
from sqlalchemy import Connection, select
from werkzeug.exceptions import HTTPException

from district.directory import Unit
from district.links import reference
from services.dispatch import metrics, photos, store
from services.dispatch import showcase_store as entries
from services.dispatch.model import office_street
from services.dispatch.showcase import place_name, street_name, style_nonce, took, with_policy
from services.dispatch.store import cases
from services.dispatch.unit_pages import signed_in_unit
from shared.errors import DomainError, Forbidden, Invalid, NotFound
from shared.pages import language, text
from shared.privacy import mask_phones
from shared.web import current_context, current_store

desk = Blueprint("showcase_desk", __name__, template_folder="templates")
LISTED = 100  # the newest resolved issues the page lists


class SignInNeeded(Exception):
    """No signed-in unit on this session."""


class ApprovalSchema(Schema):
    summary = fields.String(required=True, validate=validate.Length(min=1, max=1000))
    photos = fields.List(fields.String(validate=validate.Length(equal=32)), load_default=list)


@desk.before_request
def _sign_in_possible():
    if not current_context().link_secret:
        return _message("desk_sc_off", 404)
    return None


@desk.get("/desk/showcase")
def approvals():
    """The street's resolved issues, the newest first, each with its entry if it has one."""
    with current_store().read() as conn:
        _, street = _office_street(conn)
        return render_template("showcase/desk.html", **_view(conn, street))


@desk.post("/desk/showcase/<issue_id>/approve")
def approve(issue_id: str):
    body = _form()
    with current_store().unit_of_work() as uow:
        unit, case = _office_case(uow.conn, issue_id)
        known = {p["id"] for p in photos.of_issue(uow.conn, issue_id)}
        if not set(body["photos"]) <= known:
            raise Invalid("desk_sc_bad_photos", {"photos": ["not_of_issue"]})
        summary = mask_phones(body["summary"].strip())
        now = current_context().clock()
        entries.approve(
            uow.conn, issue_id, case.street, summary, body["photos"], approved_by=unit.id,
            approved_at=now,
        )  # fmt: skip
    flash(text("desk_sc_done_approve"))
    return redirect(url_for("showcase_desk.approvals") + f"#i{issue_id}", 303)


@desk.post("/desk/showcase/<issue_id>/withdraw")
def withdraw(issue_id: str):
    with current_store().unit_of_work() as uow:
        _office_case(uow.conn, issue_id)
        if not entries.withdraw(uow.conn, issue_id, current_context().clock()):
            raise NotFound("desk_sc_not_shown")
    flash(text("desk_sc_done_withdraw"))
    return redirect(url_for("showcase_desk.approvals") + f"#i{issue_id}", 303)


def _form() -> dict:
    form = {"summary": request.form.get("summary", ""), "photos": request.form.getlist("photos")}
    try:
        return ApprovalSchema().load(form)
    except ValidationError as exc:
        key = "desk_sc_bad_photos" if "photos" in exc.messages else "desk_sc_bad_summary"
        raise Invalid(key, exc.normalized_messages()) from None


def _office_street(conn: Connection) -> tuple[Unit, str]:
    """The signed-in street office and its street; any other unit is refused."""
    unit = signed_in_unit(conn)
    if unit is None:
        raise SignInNeeded
    if unit.type != "street_office":
        raise Forbidden("desk_sc_not_office")
    return unit, office_street(unit, current_context().directory)


def _office_case(conn: Connection, issue_id: str):
    """The signed-in office and the resolved issue of its street it acts on, locked."""
    unit, street = _office_street(conn)
    case = store.get_case(conn, issue_id, for_update=True)
    if case is None:
        raise NotFound("desk_sc_no_issue")
    if case.street != street:
        raise Forbidden("desk_sc_not_yours")
    if case.state not in entries.SHOWN_STATES or not case.resolution:
        raise Invalid("desk_sc_not_resolved", {"issue": ["not_resolved"]})
    return unit, case


def _view(conn: Connection, street: str, error: str | None = None) -> dict:
    d = current_context().directory
    resolved = conn.execute(
        select(cases)
        .where(
            cases.c.street == street,
            cases.c.state.in_(entries.SHOWN_STATES),
            cases.c.resolution.is_not(None),
        )
        .order_by(cases.c.resolved_at.desc())
        .limit(LISTED)
    ).mappings()
    known = entries.entries_of(conn, (street,))
    chosen = entries.chosen_photos(conn, list(known))
    items = []
    for case in resolved:
        category = d.categories.get(case["category"])
        issue_id = case["issue_id"]
        entry = known.get(issue_id)
        items.append(
            {
                "issue_id": issue_id,
                "ref": reference(issue_id),
                "category": category.name_in(language()) if category else "",
                "place": place_name(case["place_id"]),
                "resolution": case["resolution"],
                "took": took((case["resolved_at"] - case["submitted_at"]).total_seconds()),
                "photos": [
                    (p["id"], url_for("unit_pages.photo", photo_id=p["id"]))
                    for p in photos.of_issue(conn, issue_id)
                ],
                "entry": entry,
                "shown": bool(entry and entry["withdrawn_at"] is None),
                "chosen": set(chosen.get(issue_id, [])),
                "summary": entry["summary"] if entry else mask_phones(case["resolution"]),
            }
        )
    return {"street_name": street_name(street), "street": street, "items": items, "error": error}


# Refusals as pages, counted as the units' pages count theirs.


@desk.errorhandler(SignInNeeded)
def _sign_in_needed(_exc):
    return redirect(url_for("unit_pages.sign_in", next=request.path), 303)


@desk.errorhandler(DomainError)
def _refused(exc: DomainError):
    if isinstance(exc, Invalid):
        metrics.PAGE_REFUSALS.labels("invalid_form").inc()
        with current_store().read() as conn:
            view = _view(conn, _office_street(conn)[1], error=text(str(exc)))
        return render_template("showcase/desk.html", **view), 422
    reason, status = ("forbidden", 403) if isinstance(exc, Forbidden) else ("not_found", 404)
    metrics.PAGE_REFUSALS.labels(reason).inc()
    return _message(str(exc) if str(exc).startswith("desk_sc_") else reason, status)


@desk.errorhandler(HTTPException)
def _http_error(exc: HTTPException):
    if exc.code == 400 and "CSRF" in (exc.description or ""):
        metrics.PAGE_REFUSALS.labels("csrf").inc()
        return _message("expired_form", 400)
    return _message("not_found" if exc.code == 404 else "error", exc.code or 500)


def _message(key: str, status: int):
    return render_template("showcase/message.html", message=text(key), status=status), status


desk.after_request(with_policy)
desk.context_processor(lambda: {"style_nonce": style_nonce})
