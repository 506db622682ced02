"""Escalation's HTTP API: clocks, escalations, policies and what is overdue, to look at;
escalating, extending and closing supervision by hand, for supervisors with their unit token."""

from __future__ import annotations

import hashlib

from flask import Blueprint, Flask, current_app, request
from marshmallow import ValidationError

from services.escalation import manual, store
from services.escalation.schemas import (
    CloseSupervisionSchema,
    EscalationQuerySchema,
    ExtensionSchema,
    ManualEscalationSchema,
)
from shared.http import Problem, json_body, plain, problem_response

api = Blueprint("escalation", __name__, url_prefix="/v1")
ERRORS = {
    manual.NotFound: (404, "Not Found"),
    manual.Forbidden: (403, "Forbidden"),
    manual.Conflict: (409, "Conflict"),
}


def create_app(service_store, context) -> Flask:
    app = Flask("loudong.escalation")
    app.extensions["loudong"] = {"store": service_store, "context": context}
    app.register_blueprint(api)
    for error, (status, title) in ERRORS.items():
        app.register_error_handler(error, _answer(status, title))
    return app


def _answer(status: int, title: str):
    def handle(exc):
        extra = {"state": exc.state} if isinstance(exc, manual.Conflict) else {}
        return problem_response(status, title, str(exc), **extra)

    return handle


def _store():
    return current_app.extensions["loudong"]["store"]


def _context():
    return current_app.extensions["loudong"]["context"]


def _unit():
    """The unit behind a dispatch-issued token, known here from dispatch's unit.token_issued events."""
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    unit_id = None
    if scheme.lower() == "bearer" and token.strip():
        with _store().read() as conn:
            unit_id = store.unit_of_token(conn, hashlib.sha256(token.strip().encode()).hexdigest())
    unit = _context().directory.units.get(unit_id or "")
    if unit is None:
        raise Problem(
            401,
            "Unauthorized",
            "send Authorization: Bearer <unit token>",
            headers={"WWW-Authenticate": 'Bearer realm="loudong-units"'},
        )
    return unit


def _act(action, issue_id: str, *args):
    unit = _unit()
    with _store().unit_of_work() as uow:
        action(uow, _context(), issue_id, unit, *args)
    return clocks(issue_id)


@api.get("/issues/<issue_id>/clocks")
def clocks(issue_id: str):
    """An issue's claim, resolve and supervision clocks."""
    with _store().read() as conn:
        rows = store.list_clocks(conn, issue_id)
    if not rows:
        raise Problem(404, "Not Found", f"no clocks for issue {issue_id}")
    return {"issue_id": issue_id, "clocks": [plain(r) for r in rows]}


@api.post("/issues/<issue_id>/escalate")
def escalate(issue_id: str):
    """A supervisor moves the issue one level up now (reason manual)."""
    json_body(ManualEscalationSchema())
    return _act(manual.escalate, issue_id)


@api.post("/issues/<issue_id>/extend")
def extend(issue_id: str):
    """A supervisor extends a deadline, with a reason; the extension is recorded."""
    body = json_body(ExtensionSchema())
    return _act(manual.extend, issue_id, body["clock"], body["until"], body["reason"])


@api.post("/issues/<issue_id>/supervision/close")
def close_supervision(issue_id: str):
    """The district leader closes supervision (督辦)."""
    return _act(manual.close_supervision, issue_id, json_body(CloseSupervisionSchema())["reason"])


@api.get("/escalations")
def escalations():
    """Escalations fired, newest first; filters issue_id, reason, to_unit_id, level, since; limit ≤ 500."""
    try:
        filters = EscalationQuerySchema().load(request.args.to_dict())
    except ValidationError as exc:
        raise Problem(
            400,
            "Bad Request",
            "some query parameters are invalid",
            errors=exc.normalized_messages(),
        ) from None
    with _store().read() as conn:
        rows = store.list_escalations(conn, filters, filters["limit"])
    return {"escalations": [plain(r) for r in rows]}


@api.get("/overdue")
def overdue():
    """Deadlines past due right now, per street and unit."""
    with _store().read() as conn:
        rows = store.overdue_now(conn, _context().clock())
    return {"overdue": [{"street": s, "unit_id": u, "count": n} for s, u, n in rows]}


@api.get("/policies")
def policies():
    """The time limits in force for new clocks."""
    p = _context().policies

    def clock(c):
        return {
            "within": str(c.within),
            "time": "working" if c.working else "calendar",
            "warnings": [{"at": w.at, "to": w.to} for w in c.warnings],
        }

    return {
        "version": p.version,
        "supervision": clock(p.supervision),
        "tiers": {
            t: {"claim": clock(tp.claim), "resolve": clock(tp.resolve)} for t, tp in p.tiers.items()
        },
        "categories": {
            c: {
                t: {"claim": clock(tp.claim), "resolve": clock(tp.resolve)}
                for t, tp in tiers.items()
            }
            for c, tiers in p.categories.items()
        },
    }
