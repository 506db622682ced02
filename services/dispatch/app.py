"""Dispatch's HTTP API: units work their inbox with their own token; street offices triage,
arbitrate and hold the work day; supervisors re-tier. The directory is public."""

from __future__ import annotations

from dataclasses import asdict

from flask import Blueprint, Flask, Response, current_app, g, request

from services.dispatch import actions, meetings, model, store, units
from services.dispatch.schemas import (
    ArbitrateSchema,
    MeetingSchema,
    NoteSchema,
    ResolveSchema,
    RetierSchema,
    ReturnSchema,
    TriageSchema,
)
from shared.http import Problem, json_body, plain, problem_response

api = Blueprint("dispatch", __name__, url_prefix="/v1")
PUBLIC_ENDPOINTS = {"dispatch.directory"}
# Domain errors and the HTTP answers they get, in one place.
ERRORS = {
    model.NotFound: (404, "Not Found"),
    model.Forbidden: (403, "Forbidden"),
    model.InvalidTransition: (409, "Conflict"),
    model.Invalid: (422, "Invalid body"),
}


def create_app(service_store, context) -> Flask:
    app = Flask("loudong.dispatch")
    app.extensions["loudong"] = {"store": service_store, "context": context}
    app.register_blueprint(api)
    for error, (status, title) in ERRORS.items():
        app.register_error_handler(error, _answer(status, title))
    return app


def _answer(status: int, title: str):
    def handle(exc):
        extra = {"state": exc.state} if isinstance(exc, model.InvalidTransition) else {}
        errors = exc.errors if isinstance(exc, model.Invalid) else None
        return problem_response(status, title, str(exc), errors=errors, **extra)

    return handle


def _store():
    return current_app.extensions["loudong"]["store"]


def _context():
    return current_app.extensions["loudong"]["context"]


@api.before_request
def _authenticate():
    """Every unit has its own token (`loudong units token UNIT`); it acts as that unit only."""
    if request.endpoint in PUBLIC_ENDPOINTS:
        return
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    with _store().read() as conn:
        unit_id = (
            units.unit_of(conn, token.strip())
            if scheme.lower() == "bearer" and token.strip()
            else None
        )
    unit = _context().directory.units.get(unit_id or "")
    if unit is None:
        raise Problem(
            401,
            "Unauthorized",
            "send Authorization: Bearer <unit token>",
            headers={"WWW-Authenticate": 'Bearer realm="loudong-units"'},
        )
    g.unit = unit


def _act(action, issue_id: str, *args) -> dict:
    with _store().unit_of_work() as uow:
        action(uow, _context(), issue_id, g.unit, *args)
    return show(issue_id)


@api.get("/inbox")
def inbox():
    """The calling unit's open assignments, oldest first."""
    with _store().read() as conn:
        rows = store.inbox(conn, g.unit.id)
    return {"unit": g.unit.id, "assignments": [plain(r) for r in rows]}


@api.get("/assignments/<issue_id>")
def show(issue_id: str):
    """The issue as dispatch sees it, to a unit that was sent it or supervises it."""
    with _store().read() as conn:
        case = store.get_case(conn, issue_id)
        if case is None:
            raise model.NotFound(f"no issue {issue_id}")
        sent = store.assignments_of(conn, issue_id)
    if g.unit.id not in {a["unit_id"] for a in sent} and not actions.supervises(
        _context(), g.unit, case
    ):
        raise model.NotFound(f"no issue {issue_id} for {g.unit.id}")
    return {**plain(case), "assignments": [plain(a) for a in sent]}


@api.post("/assignments/<issue_id>/claim")
def claim(issue_id: str):
    """The unit takes the issue on (認領)."""
    return _act(actions.claim, issue_id)


@api.post("/assignments/<issue_id>/return")
def give_back(issue_id: str):
    """The unit sends it back with a reason (退單): wrong_function, wrong_place, unclear_ownership."""
    body = json_body(ReturnSchema())
    return _act(actions.give_back, issue_id, body["reason"], body.get("note"))


@api.post("/assignments/<issue_id>/notes")
def add_note(issue_id: str):
    """Progress on a claimed issue."""
    return _act(actions.note, issue_id, json_body(NoteSchema())["note"]), 201


@api.post("/assignments/<issue_id>/await-resident")
def await_resident(issue_id: str):
    """The unit waits for the resident (the resolve clock stands still meanwhile)."""
    return _act(actions.await_resident, issue_id, json_body(NoteSchema())["note"])


@api.post("/assignments/<issue_id>/resident-replied")
def resident_replied(issue_id: str):
    """The resident answered; the resolve clock runs on from where it stood."""
    return _act(actions.resident_replied, issue_id)


@api.post("/assignments/<issue_id>/resolve")
def resolve(issue_id: str):
    """The unit reports it resolved; the resident is asked next."""
    return _act(actions.resolve, issue_id, json_body(ResolveSchema())["resolution"])


@api.post("/issues/<issue_id>/tier")
def retier(issue_id: str):
    """A supervisor moves the issue to another tier, with a reason."""
    body = json_body(RetierSchema())
    return _act(actions.retier, issue_id, body["tier"], body["reason"])


@api.get("/triage")
def triage_queue():
    """The street office's queue: issues without a category, and returned ones to arbitrate."""
    street = _office_street()
    with _store().read() as conn:
        rows = store.street_queue(conn, street, ("triage", "arbitration"))
    return {"street": street, "issues": [plain(r) for r in rows]}


@api.post("/issues/<issue_id>/triage")
def triage(issue_id: str):
    body = json_body(TriageSchema())
    return _act(actions.triage, issue_id, body["category"], body["flags"])


@api.post("/issues/<issue_id>/arbitrate")
def arbitrate(issue_id: str):
    return _act(actions.arbitrate, issue_id, json_body(ArbitrateSchema())["unit_id"])


@api.post("/meetings")
def create_meeting():
    """A street's work-day meeting, called by its street office."""
    body = json_body(MeetingSchema())
    if _office_street() != body["street"]:
        raise model.Forbidden(f"only the street office of {body['street']} calls its work day")
    with _store().unit_of_work() as uow:
        meeting_id = meetings.create(
            uow.conn,
            _context(),
            body["street"],
            body["held_on"],
            body["place"],
            body["attending_units"],
        )
    return {"id": meeting_id}, 201


@api.get("/meetings/<meeting_id>/agenda")
def agenda(meeting_id: str):
    with _store().read() as conn:
        return meetings.agenda(conn, _context(), meeting_id)


@api.get("/meetings/<meeting_id>/record")
def record(meeting_id: str):
    with _store().read() as conn:
        return meetings.record(conn, _context(), meeting_id)


@api.get("/meetings/<meeting_id>/record.md")
def record_markdown(meeting_id: str):
    with _store().read() as conn:
        rec = meetings.record(conn, _context(), meeting_id)
    return Response(meetings.record_markdown(rec, _context().directory), mimetype="text/markdown")


@api.get("/directory")
def directory():
    """The places, categories and units dispatch routes by."""
    d = _context().directory
    return {
        "places": [asdict(p) for p in d.places.values()],
        "categories": [asdict(c) for c in d.categories.values()],
        "units": [
            {
                "id": u.id,
                "name": u.name,
                "type": u.type,
                "covers": list(u.covers),
                "handles": list(u.handles),
                "supervisor": u.supervisor,
            }
            for u in d.units.values()
        ],
    }


def _office_street() -> str:
    if g.unit.type != "street_office":
        raise model.Forbidden("only a street office may do this")
    return next(p for p in g.unit.covers if p in _context().directory.streets)
