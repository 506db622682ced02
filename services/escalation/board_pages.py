"""The district leader's supervision board (督办): a leader signs in with its unit token (the
hash escalation already keeps from unit.token_issued), sees the issues under supervision of
its streets with their clocks, ladder and extensions, and extends a deadline, closes
supervision or escalates by hand through the same commands as the API: the same 403 and 409,
the same events.

The session (a signed cookie, `loudong_escalation`) holds the token's hash only; it is looked
up again on every request, so a revoked token stops at once on every replica. Without
LOUDONG_LINK_SECRET there is no session key and the pages say they are off."""

from __future__ import annotations

from datetime import UTC

from flask import Blueprint, Flask, flash, redirect, render_template, request, session, url_for
from marshmallow import ValidationError
from sqlalchemy import Connection
from werkzeug.exceptions import HTTPException

from district.directory import Unit
from services.escalation import board, commands, metrics, store
from services.escalation.board_texts import TEXTS
from services.escalation.schemas import (
    CloseSupervisionSchema,
    ExtensionFormSchema,
    ManualEscalationSchema,
)
from shared.errors import Conflict, DomainError, Forbidden, Invalid, NotFound
from shared.pages import install_pages, session_key, text
from shared.tokens import token_hash
from shared.web import current_context, current_store

pages = Blueprint(
    "board_pages",
    __name__,
    template_folder="templates",
    static_folder="static",
    static_url_path="/static/leader",
)
OPEN_ENDPOINTS = {"board_pages.sign_in", "board_pages.sign_out", "board_pages.static"}
FIELD_LABELS = {"clock": "extend_clock", "until": "extend_until", "reason": "reason_label"}


class SignInNeeded(Exception):
    """No signed-in unit: the leader signs in first."""


def install(app: Flask, context, *exempt: Blueprint) -> None:
    """The board on escalation's app; `exempt` (the bearer-token API) keeps no CSRF."""
    key = session_key(context.link_secret, "loudong escalation leader board")
    install_pages(app, secret_key=key, texts=TEXTS, csrf_exempt=exempt)
    app.config["SESSION_COOKIE_NAME"] = "loudong_escalation"
    app.register_blueprint(pages)


@pages.before_request
def _pages_enabled():
    if not current_context().link_secret:
        return _message("board_off", 404)
    if request.endpoint not in OPEN_ENDPOINTS:
        with current_store().read() as conn:
            _leader(conn)  # before a form is read: a refused form shows the leader's board
    return None


@pages.route("/leader/sign-in", methods=["GET", "POST"])
def sign_in():
    """A leader's token (from `loudong units token`) opens its board in this browser."""
    if request.method == "GET":
        return render_template("leader/sign_in.html")
    hashed = token_hash(request.form.get("token", "").strip())
    with current_store().read() as conn:
        unit = _unit_of_hash(conn, hashed)
    if unit is None:
        metrics.PAGE_REFUSALS.labels("bad_token").inc()
        return render_template("leader/sign_in.html", error=text("bad_token")), 401
    session["token"] = hashed
    return redirect(url_for("board_pages.board_view"), 303)


@pages.post("/leader/sign-out")
def sign_out():
    lang = session.get("lang")
    session.clear()
    if lang:
        session["lang"] = lang
    return redirect(url_for("board_pages.sign_in"), 303)


@pages.get("/leader")
def board_view():
    """The issues under supervision of the leader's streets, overdue first."""
    return _board()


@pages.post("/leader/issues/<issue_id>/extend")
def extend(issue_id: str):
    body = _form(ExtensionFormSchema())
    until = body["until"].astimezone(UTC)
    return _act(issue_id, "extend", commands.extend, body["clock"], until, body["reason"])


@pages.post("/leader/issues/<issue_id>/close")
def close(issue_id: str):
    reason = _form(CloseSupervisionSchema())["reason"]
    return _act(issue_id, "close", commands.close_supervision, reason)


@pages.post("/leader/issues/<issue_id>/escalate")
def escalate(issue_id: str):
    _form(ManualEscalationSchema())  # the reason is asked for, as the API asks for it
    return _act(issue_id, "escalate", commands.escalate)


def _act(issue_id: str, action: str, command, *args):
    """The API's command as the signed-in leader, in one transaction; then the board again."""
    with current_store().unit_of_work() as uow:
        leader = _leader(uow.conn)
        _check_on_board(uow.conn, leader, issue_id)
        command(uow, current_context(), issue_id, leader, *args)
    flash(text(f"done_{action}"))
    return redirect(url_for("board_pages.board_view") + f"#issue-{issue_id}", 303)


def _board(error: str | None = None, status: int = 200):
    context = current_context()
    with current_store().read() as conn:
        leader = _leader(conn)
        shown = board.issues(conn, context.directory, leader, context.clock())
    d = context.directory
    streets = [d.places[s].name for s in board.streets_of(d, leader)]
    view = {
        "leader": leader,
        "streets": "、".join(streets),
        "issues": shown,
        "overdue": sum(i["overdue"] for i in shown),
        "error": error,
        "signed_in": True,
    }
    return render_template("leader/board.html", **view), status


def _form(schema) -> dict:
    fields = {k: v.strip() for k, v in request.form.items() if k in schema.fields}
    try:
        return schema.load(fields)
    except ValidationError as exc:
        raise Invalid("invalid form", exc.normalized_messages()) from None


# Who may see and act: a district leader, on the issues of its board. A unit of another type
# signed in sees nothing (403): the street office and the units below read and urge from
# dispatch's pages; their supervisory API calls stay as they are.


def _leader(conn: Connection) -> Unit:
    hashed = session.get("token")
    unit = _unit_of_hash(conn, hashed) if hashed else None
    if unit is None:
        raise SignInNeeded
    if unit.type != "district_leader":
        raise Forbidden("leaders_only")
    return unit


def _check_on_board(conn: Connection, leader: Unit, issue_id: str) -> None:
    supervision = store.get_clock(conn, issue_id, "supervision")
    if supervision is None:
        raise NotFound("not_supervised")
    if not board.on_board(current_context().directory, leader, supervision):
        raise Forbidden("not_on_board")


def _unit_of_hash(conn: Connection, hashed: str) -> Unit | None:
    unit_id = store.unit_of_token(conn, hashed)
    return current_context().directory.units.get(unit_id) if unit_id else None


# Refusals as pages, counted.


@pages.errorhandler(SignInNeeded)
def _sign_in_needed(_exc):
    return redirect(url_for("board_pages.sign_in"), 303)


@pages.errorhandler(DomainError)
def _refused(exc: DomainError):
    metrics.PAGE_REFUSALS.labels(_refusal_reason(exc)).inc()
    if isinstance(exc, Invalid):
        return _board(_invalid_words(exc.errors or {}), 422)
    if isinstance(exc, Conflict):
        action = text(f"action_{request.endpoint.rsplit('.', 1)[-1]}")
        return _message_text(text("conflict", action=action, why=_why(exc)), 409)
    if isinstance(exc, Forbidden):
        return _message(str(exc) if str(exc) in TEXTS["zh"] else "not_on_board", 403)
    return _message(str(exc) if str(exc) in TEXTS["zh"] else "no_clock", 404)


def _why(exc: Conflict) -> str:
    said = str(exc)
    if "paused" in said:
        return text("why_paused")
    if "top of its ladder" in said:
        return text("why_top")
    if "later" in said:
        return text("why_later")
    return text("why_other", state=exc.state or "")


def _invalid_words(errors: dict) -> str:
    """Which field was wrong and how: left empty, or not what it should be."""
    field = next(iter(errors), "")
    empty = not request.form.get(field, "").strip()
    message = text("err_required" if empty else "err_invalid")
    return text("err_field", field=text(FIELD_LABELS.get(field, field)), message=message)


def _refusal_reason(exc: DomainError) -> str:
    if isinstance(exc, Invalid):
        return "invalid_form"
    if isinstance(exc, Conflict):
        return "wrong_state"
    return "forbidden" if isinstance(exc, Forbidden) else "not_found"


@pages.errorhandler(HTTPException)
def _http_error(exc: HTTPException):
    if exc.code == 400 and "CSRF" in (exc.description or ""):
        metrics.PAGE_REFUSALS.labels("csrf").inc()
        return _message("expired_form", 400)
    return _message_text(text("no_such_page") if exc.code == 404 else exc.name, exc.code or 500)


def _message(key: str, status: int):
    return _message_text(text(key), status)


def _message_text(words: str, status: int):
    back = status in (403, 404, 409) and bool(session.get("token"))
    back = back and words != text("leaders_only")  # a unit not a leader has no board to go to
    return render_template("leader/message.html", message=words, back=back, status=status), status
