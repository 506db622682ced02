"""The units' pages: a unit opens its SMS link (`/u/<code>`) or signs in with its token, reads
the issue (what, where, by when, what happened so far) and claims, returns, notes progress
with photos, or resolves it by a form; a supervisor an escalation reached reads it and urges
the unit in charge. Forms act through the same commands as the API, so the
same lifecycle, the same 409 on a wrong state and the same events.

The session (a signed cookie) holds which links this phone opened and the hash of the token
it signed in with; both are looked up again on every request, so a revoked link or token
stops at once on every replica. A link opens its own issue only."""

from __future__ import annotations

from datetime import datetime

from flask import Blueprint, Flask, flash, redirect, render_template, request, session, url_for
from marshmallow import ValidationError
from sqlalchemy import Connection, select
from werkzeug.exceptions import HTTPException

from district.directory import Directory, Unit
from district.links import reference
from district.local_time import local
from services.dispatch import commands, links, metrics, photos, store
from services.dispatch.desk_texts import DESK_TEXTS
from services.dispatch.links import LinkRefused
from services.dispatch.model import RETURN_REASONS, InvalidTransition
from services.dispatch.schemas import NoteSchema, ResolveSchema, ReturnSchema, UrgeSchema
from services.dispatch.showcase_texts import SHOWCASE_TEXTS
from services.dispatch.store import unit_tokens
from services.dispatch.unit_texts import TEXTS
from shared.errors import Conflict, DomainError, Forbidden, Invalid, NotFound
from shared.pages import (
    accepts_uploads,
    deadline,
    install_pages,
    language,
    moment,
    session_key,
    text,
)
from shared.tokens import token_hash
from shared.web import current_context, current_store

pages = Blueprint("unit_pages", __name__, template_folder="templates")
UPLOAD_LIMIT = photos.MAX_PER_POST * photos.MAX_BYTES + 256 * 1024  # photos and the form
LINKS_KEPT = 20  # links one phone's session remembers (the newest)


class SignInNeeded(Exception):
    """No session that may see this: the unit signs in (or opens its link)."""


def install(app: Flask, context, *exempt: Blueprint) -> None:
    """The pages on dispatch's app. Their session key comes from LOUDONG_LINK_SECRET; without
    it there are no links and no unit pages (each says so), and the API is untouched."""
    words = {lang: {**TEXTS[lang], **DESK_TEXTS[lang], **SHOWCASE_TEXTS[lang]} for lang in TEXTS}
    install_pages(
        app,
        secret_key=session_key(context.link_secret, "loudong dispatch unit pages"),
        texts=words,
        csrf_exempt=exempt,
    )
    app.config["SESSION_COOKIE_NAME"] = "loudong_dispatch"
    app.config["SESSION_COOKIE_SECURE"] = context.public_url.startswith("https://")
    app.register_blueprint(pages)


@pages.before_request
def _pages_enabled():
    if not current_context().link_secret:
        return _message("links_off", 404)
    return None


# Opening a link, signing in and out.


@pages.get("/u/<code>")
def open_link(code: str):
    """The link of an SMS: remembered in this phone's session, then the issue it is about."""
    with current_store().read() as conn:
        link = links.opened(conn, code.strip().lower(), _now())
    remembered = {k: v for k, v in session.get("links", {}).items() if k != link.issue_id}
    session["links"] = dict(list(remembered.items())[-(LINKS_KEPT - 1) :]) | {
        link.issue_id: link.code
    }
    return redirect(url_for("unit_pages.issue", issue_id=link.issue_id), 303)


@pages.route("/units/sign-in", methods=["GET", "POST"])
def sign_in():
    """A unit's token (from `loudong units token`) opens its inbox on this phone."""
    then = _local_path(request.values.get("next", ""))
    if request.method == "GET":
        return render_template("units/sign_in.html", next=then)
    hashed = token_hash(request.form.get("token", "").strip())
    with current_store().read() as conn:
        unit = _unit_of_hash(conn, hashed)
    if unit is None:
        metrics.PAGE_REFUSALS.labels("bad_token").inc()
        return render_template("units/sign_in.html", error=text("bad_token"), next=then), 401
    session["token"] = hashed
    home = url_for("desk.board") if unit.type == "street_office" else url_for("unit_pages.inbox")
    return redirect(then or home, 303)


def _local_path(path: str) -> str:
    """A page of this site to go back to after signing in; anything else is dropped."""
    return path if path.startswith("/") and not path.startswith(("//", "/\\")) else ""


@pages.post("/units/sign-out")
def sign_out():
    lang = session.get("lang")
    session.clear()
    if lang:
        session["lang"] = lang
    return redirect(url_for("unit_pages.sign_in"), 303)


@pages.get("/units")
def home():
    return redirect(url_for("unit_pages.inbox"), 303)


# Reading.


@pages.get("/units/inbox")
def inbox():
    """The signed-in unit's open assignments, the overdue ones first."""
    with current_store().read() as conn:
        unit = signed_in_unit(conn)
        if unit is None:
            raise SignInNeeded
        rows = store.inbox(conn, unit.id)
    now = _now()
    items = sorted((_inbox_item(r, now) for r in rows), key=lambda i: i["order"])
    return render_template("units/inbox.html", unit=unit, items=items, signed_in=True)


@pages.get("/units/issues/<issue_id>")
def issue(issue_id: str):
    """The issue as the unit needs it, with what it may do now."""
    with current_store().read() as conn:
        unit = _acting_unit(conn, issue_id)
        return render_template("units/issue.html", **_issue_view(conn, issue_id, unit))


@pages.get("/units/photos/<photo_id>")
def photo(photo_id: str):
    """A photo, only to a session of a unit that was sent its issue."""
    with current_store().read() as conn:
        found = photos.get(conn, photo_id)
        if found is None:
            raise NotFound("no_photo")
        _acting_unit(conn, found["issue_id"])
    headers = {
        "Cache-Control": "private, max-age=3600",
        "X-Content-Type-Options": "nosniff",
        "Content-Disposition": "inline",
    }
    return found["data"], 200, {"Content-Type": found["content_type"], **headers}


# Acting: each form runs the API's command in one transaction, then shows the issue again.


@pages.post("/units/issues/<issue_id>/claim")
def claim(issue_id: str):
    return _act(issue_id, "claim", lambda uow, unit: _command(commands.claim, uow, issue_id, unit))


@pages.post("/units/issues/<issue_id>/return")
def give_back(issue_id: str):
    body = _form(ReturnSchema())
    reason, note = body["reason"], body.get("note") or None
    return _act(
        issue_id,
        "return",
        lambda uow, unit: _command(commands.give_back, uow, issue_id, unit, reason, note),
    )


@pages.post("/units/issues/<issue_id>/notes")
@accepts_uploads(UPLOAD_LIMIT)
def add_note(issue_id: str):
    note, pictures = _form(NoteSchema())["note"], _photos()

    def act(uow, unit):
        note_id = _command(commands.note, uow, issue_id, unit, note)
        for picture in pictures:
            photos.add(uow.conn, picture, issue_id, unit.id, _now(), note_id=note_id)

    return _act(issue_id, "note", act)


@pages.post("/units/issues/<issue_id>/urge")
def urge(issue_id: str):
    words = _form(UrgeSchema())["note"]
    return _act(
        issue_id, "urge", lambda uow, unit: _command(commands.urge, uow, issue_id, unit, words)
    )


@pages.post("/units/issues/<issue_id>/resolve")
@accepts_uploads(UPLOAD_LIMIT)
def resolve(issue_id: str):
    resolution, pictures = _form(ResolveSchema())["resolution"], _photos()

    def act(uow, unit):
        _command(commands.resolve, uow, issue_id, unit, resolution)
        number = store.current_assignment(uow.conn, issue_id, unit.id).id
        for picture in pictures:
            photos.add(uow.conn, picture, issue_id, unit.id, _now(), assignment=number)

    return _act(issue_id, "resolve", act)


def _act(issue_id: str, action: str, act):
    with current_store().unit_of_work() as uow:
        act(uow, _acting_unit(uow.conn, issue_id))
    flash(text(f"done_{action}"))
    return redirect(url_for("unit_pages.issue", issue_id=issue_id), 303)


def _command(command, uow, issue_id: str, unit: Unit, *args):
    return command(uow, current_context(), issue_id, unit, *args)


def _form(schema) -> dict:
    fields = {k: v for k, v in request.form.items() if k in schema.fields}
    try:
        return schema.load(fields)
    except ValidationError as exc:
        raise Invalid("invalid form", exc.normalized_messages()) from None


def _photos() -> list[photos.Photo]:
    uploads = [(f.filename or "photo", f.read()) for f in request.files.getlist("photos")]
    return photos.checked(uploads)


# Who may see and act: the link this phone opened for the issue, else the signed-in unit if
# the issue was sent to it or the unit supervises it (the street office, a leader, a unit above
# the lead). A supervisor reads and urges; the lifecycle's forms are the assigned unit's.


def _acting_unit(conn: Connection, issue_id: str) -> Unit:
    units = current_context().directory.units
    code = session.get("links", {}).get(issue_id)
    if code is not None:
        try:
            link = links.opened(conn, code, _now())
        except LinkRefused:
            session["links"] = {k: v for k, v in session["links"].items() if k != issue_id}
            raise
        if link.unit_id in units:
            return units[link.unit_id]
    unit = signed_in_unit(conn)
    if unit is None:
        if session.get("links"):
            raise Forbidden("link_only")
        raise SignInNeeded
    case = store.get_case(conn, issue_id)
    if case is None:
        raise NotFound("no_issue")
    sent_to_it = any(a.unit_id == unit.id for a in store.assignments_of(conn, issue_id))
    if not sent_to_it and not case.supervised_by(unit, current_context().directory):
        raise Forbidden("not_yours")
    return unit


def signed_in_unit(conn: Connection) -> Unit | None:
    """The unit this session signed in as with its token (looked up again: a revoked token
    stops at once), or None. The desk and the showcase's approvals use it too."""
    hashed = session.get("token")
    return _unit_of_hash(conn, hashed) if hashed else None


def _unit_of_hash(conn: Connection, hashed: str) -> Unit | None:
    row = conn.execute(
        select(unit_tokens.c.unit_id).where(
            unit_tokens.c.token_hash == hashed, unit_tokens.c.revoked_at.is_(None)
        )
    ).first()
    return current_context().directory.units.get(row.unit_id) if row else None


# What the pages show.


def _issue_view(conn: Connection, issue_id: str, unit: Unit) -> dict:
    context, now = current_context(), _now()
    d = context.directory
    case = store.get_case(conn, issue_id)
    sent = store.assignments_of(conn, issue_id)
    held = [a for a in sent if a.unit_id == unit.id]
    mine = held[-1] if held else None  # None: the unit supervises it
    state = mine.state if mine else case.state
    part = mine is not None and not mine.is_lead  # a co-handling part: its own deadlines
    claim_due = mine.part_claim_due if part else case.claim_due
    resolve_due = mine.part_resolve_due if part else case.resolve_due
    deadlines = []
    if state == "dispatched" and claim_due:
        deadlines.append(("deadline_claim", deadline(local(claim_due), now)))
    if state in ("claimed", "awaiting_resident") and resolve_due:
        deadlines.append(("deadline_resolve", deadline(local(resolve_due), now)))
    if case.promised_by and case.state not in ("resolved", "closed"):
        deadlines.append(("deadline_promised", deadline(local(case.promised_by), now)))
    in_charge = [a for a in sent if a.is_lead and a.finished_at is None]
    return {
        "case": case,
        "mine": mine,
        "state": state,
        "unit": unit,
        "in_charge": _unit_name(d, in_charge[-1].unit_id) if in_charge else None,
        "ref": reference(issue_id),  # the reference the SMS prints
        "category": d.categories[case.category].name_in(language()) if case.category else "",
        "place": _place(d, case.place_id, case.building),
        "deadlines": deadlines,
        "allowed": _allowed(mine) if mine else (["urge"] if in_charge else []),
        "reasons": [(r, text(f"reason_{r}")) for r in RETURN_REASONS],
        "timeline": _timeline(conn, case, sent, d),
        "parts": [_part(d, a, now) for a in sent if not a.is_lead],
        "signed_in": signed_in_unit(conn) is not None,
        "error": None,
    }


def _allowed(mine) -> list[str]:
    """The forms the lifecycle allows the unit now."""
    if mine.state == "dispatched":
        return ["claim"] if mine.forced else ["claim", "return"]
    if mine.state == "claimed":
        return ["note", "resolve"]
    if mine.state == "awaiting_resident":
        return ["note"]
    return []


def _part(d: Directory, a, now: datetime) -> dict:
    """A co-handling department's part as the lead and supervisors see it: who, where it
    stands, and its own deadline while it runs."""
    due = a.part_claim_due if a.state == "dispatched" else a.part_resolve_due
    running = a.state in ("dispatched", "claimed", "awaiting_resident")
    return {
        "unit": _unit_name(d, a.unit_id),
        "state": a.state,
        "deadline": deadline(local(due), now) if due and running else None,
        "label": text("deadline_claim" if a.state == "dispatched" else "deadline_resolve"),
    }


def _unit_name(d: Directory, unit_id: str) -> str:
    return d.units[unit_id].name if unit_id in d.units else unit_id


def _place(d: Directory, place_id: str, building: str | None) -> str:
    """Street to compound as the directory names them, then the building the resident said."""
    names = [d.places[p].name for p in reversed(d.lineage(place_id)) if d.places[p].parent]
    if building and building not in d.places:
        names.append(text("building", building=building))
    return " › ".join(names)


def _timeline(conn: Connection, case, sent, d: Directory) -> list[dict]:
    """What happened, oldest first: dispatch's own assignments, notes, returns, resolutions."""
    pictures = photos.of_issue(conn, case.issue_id)

    def name(unit_id: str) -> str:
        return _unit_name(d, unit_id)

    def entry(at, kind: str, what: str, body: str | None = None, attached=()) -> dict:
        urls = [url_for("unit_pages.photo", photo_id=p["id"]) for p in attached]
        shown = {"sort": at, "at": moment(local(at)), "kind": kind, "what": what}
        return {**shown, "text": body, "photos": urls}

    entries = [entry(case.submitted_at, "submitted", text("tl_submitted"))]
    for a in sent:
        unit, role = name(a.unit_id), text(f"role_{a.role}")
        entries.append(
            entry(a.dispatched_at, "dispatched", text("tl_dispatched", unit=unit, role=role))
        )
        if a.claimed_at:
            entries.append(entry(a.claimed_at, "claimed", text("tl_claimed", unit=unit)))
        if a.finished_at is None:
            continue
        if a.state == "returned":
            reason = text(f"reason_{a.return_reason}")
            entries.append(
                entry(a.finished_at, "returned", text("tl_returned", unit=unit, reason=reason))
            )
        elif a.state == "withdrawn":
            entries.append(entry(a.finished_at, "withdrawn", text("tl_withdrawn", unit=unit)))
        elif a.state == "resolved":
            attached = [p for p in pictures if p["assignment"] == a.id]
            what = text("tl_resolved", unit=unit)
            entries.append(entry(a.finished_at, "resolved", what, a.resolution, attached))
    for n in store.notes_of(conn, case.issue_id):
        attached = [p for p in pictures if p["note_id"] == n["id"]]
        what = text(f"tl_note_{n['kind']}", unit=name(n["unit_id"]))
        entries.append(entry(n["created_at"], "note", what, n["note"], attached))
    if case.state == "closed":
        reason = text(f"closed_{case.closed_reason}")
        entries.append(entry(case.updated_at, "closed", text("tl_closed", reason=reason)))
    return sorted(entries, key=lambda e: e["sort"])


def _inbox_item(row: dict, now: datetime) -> dict:
    d = current_context().directory
    if row["role"] == "lead":
        due = row["claim_due"] if row["state"] == "dispatched" else row["resolve_due"]
    else:  # a co-handling part runs on its own clocks
        due = row["part_claim_due"] if row["state"] == "dispatched" else row["part_resolve_due"]
    shown = deadline(local(due), now) if due else None
    overdue = bool(shown and shown["overdue"])
    return {
        "issue_id": row["issue_id"],
        "ref": reference(row["issue_id"]),
        "state": row["state"],
        "role": row["role"],
        "category": d.categories[row["category"]].name_in(language()) if row["category"] else "",
        "place": d.places[row["place_id"]].name if row["place_id"] in d.places else "",
        "description": row["description"],
        "deadline": shown,
        "overdue": overdue,
        "order": (
            not overdue,
            due or datetime.max.replace(tzinfo=now.tzinfo),
            row["dispatched_at"],
        ),
    }


# Refusals as pages.


@pages.errorhandler(LinkRefused)
def _refused_link(exc: LinkRefused):
    return _message(f"link_{exc.reason}", exc.status)


@pages.errorhandler(SignInNeeded)
def _sign_in_needed(_exc):
    return redirect(url_for("unit_pages.sign_in"), 303)


@pages.errorhandler(DomainError)
def _refused(exc: DomainError):
    metrics.PAGE_REFUSALS.labels(refusal_reason(exc)).inc()
    if isinstance(exc, InvalidTransition) or (isinstance(exc, Conflict) and exc.state):
        action = getattr(exc, "action", "")
        words = text("conflict", action=text(f"action_{action}"), state=text(f"state_{exc.state}"))
        return _message_text(words, 409)
    if isinstance(exc, Invalid) and request.view_args and "issue_id" in request.view_args:
        return _invalid_form(request.view_args["issue_id"], exc)
    if isinstance(exc, Forbidden):
        return _message(str(exc) if str(exc) in TEXTS["zh"] else "forbidden", 403)
    return _message(str(exc) if str(exc) in TEXTS["zh"] else "no_issue", 404)


def refusal_reason(exc: DomainError) -> str:
    """The label a refusal is counted under (the desk counts its own the same way)."""
    if isinstance(exc, Invalid):
        refused_photos = (exc.errors or {}).get("photos")
        return f"photo_{refused_photos[0]}" if refused_photos else "invalid_form"
    if isinstance(exc, Conflict):
        return "wrong_state"
    return "forbidden" if isinstance(exc, Forbidden) else "not_found"


@pages.errorhandler(HTTPException)
def _http_error(exc: HTTPException):
    if exc.code == 400 and "CSRF" in (exc.description or ""):
        metrics.PAGE_REFUSALS.labels("csrf").inc()
        return _message("expired_form", 400)
    if exc.code == 413:
        metrics.PAGE_REFUSALS.labels("too_large").inc()
        return _message("too_large", 413)
    return _message_text(text("not_found") if exc.code == 404 else exc.name, exc.code or 500)


def _invalid_form(issue_id: str, exc: Invalid):
    """The issue again, saying what was wrong with the form."""
    errors = exc.errors or {}
    if "photos" in errors:
        message = text(f"err_photos_{errors['photos'][0]}")
    else:
        labels = {"note": "note_label", "resolution": "resolution_label", "reason": "return_reason"}
        field = next(iter(errors), "")
        message = text("err_field", field=text(labels.get(field, field)))
    with current_store().read() as conn:
        unit = _acting_unit(conn, issue_id)
        view = _issue_view(conn, issue_id, unit)
    return render_template("units/issue.html", **{**view, "error": message}), 422


def _message(key: str, status: int):
    return _message_text(text(key), status)


def _message_text(words: str, status: int):
    back = None
    if request.view_args and "issue_id" in request.view_args and status == 409:
        back = url_for("unit_pages.issue", issue_id=request.view_args["issue_id"])
    return render_template("units/message.html", message=words, back=back, status=status), status


def _now() -> datetime:
    return current_context().clock()
