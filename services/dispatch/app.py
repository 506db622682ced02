"""Dispatch's HTTP API: units work their inbox with their own token; street offices triage,
arbitrate and hold the work day; supervisors re-tier. The directory is public."""

from __future__ import annotations

from dataclasses import asdict

from flask import Blueprint, Flask, Response, g, request

from services.dispatch import (
    commands,
    desk,
    meetings,
    openapi,
    queries,
    showcase,
    showcase_desk,
    unit_pages,
    units,
)
from services.dispatch.schemas import (
    ArbitrateSchema,
    MeetingSchema,
    NoteSchema,
    ResolveSchema,
    RetierSchema,
    ReturnSchema,
    TriageSchema,
    UrgeSchema,
)
from shared import openapi as shared_openapi
from shared.http import json_body
from shared.web import (
    current_context,
    current_store,
    service_app,
    unit_signed_in,
)

api = Blueprint("dispatch", __name__, url_prefix="/v1")
PUBLIC_ENDPOINTS = {"dispatch.directory", "dispatch.openapi_document", "dispatch.openapi_page"}


def create_app(service_store, context) -> Flask:
    app = service_app("dispatch", service_store, context, api)
    unit_pages.install(app, context, api)  # the units' pages; the bearer-token API keeps no CSRF
    app.register_blueprint(showcase.public)  # 雙亮, public; approvals on the units' session
    app.register_blueprint(showcase_desk.desk)
    app.register_blueprint(desk.desk)  # the street office's desk, signed in as on the units' pages
    return app


@api.before_request
def _authenticate():
    """Every unit has its own token (`loudong units token UNIT`); it acts as that unit only."""
    if request.endpoint in PUBLIC_ENDPOINTS:
        return
    g.unit = unit_signed_in(_unit_of_token)


def _unit_of_token(token: str) -> str | None:
    with current_store().read() as conn:
        return units.unit_of(conn, token)


def _act(command, issue_id: str, *args) -> dict:
    """Run the unit's command in one transaction; answer with the issue as it now stands."""
    with current_store().unit_of_work() as uow:
        command(uow, current_context(), issue_id, g.unit, *args)
    return show(issue_id)


def _read(query, *args):
    with current_store().read() as conn:
        return query(conn, *args)


@api.get("/inbox")
def inbox():
    """The calling unit's open assignments, oldest first."""
    return _read(queries.inbox, g.unit)


@api.get("/assignments/<issue_id>")
def show(issue_id: str):
    """The issue as dispatch sees it, to a unit that was sent it or supervises it."""
    return _read(queries.issue, current_context(), g.unit, issue_id)


@api.post("/assignments/<issue_id>/claim")
def claim(issue_id: str):
    """The unit takes the issue on (認領)."""
    return _act(commands.claim, issue_id)


@api.post("/assignments/<issue_id>/return")
def give_back(issue_id: str):
    """The unit sends it back (退單): wrong_function, wrong_place or unclear_ownership."""
    body = json_body(ReturnSchema())
    return _act(commands.give_back, issue_id, body["reason"], body.get("note"))


@api.post("/assignments/<issue_id>/notes")
def add_note(issue_id: str):
    """Progress on a claimed issue."""
    return _act(commands.note, issue_id, json_body(NoteSchema())["note"]), 201


@api.post("/assignments/<issue_id>/await-resident")
def await_resident(issue_id: str):
    """The unit waits for the resident (the resolve clock stands still meanwhile)."""
    return _act(commands.await_resident, issue_id, json_body(NoteSchema())["note"])


@api.post("/assignments/<issue_id>/resident-replied")
def resident_replied(issue_id: str):
    """The resident answered; the resolve clock runs on from where it stood."""
    return _act(commands.resident_replied, issue_id)


@api.post("/assignments/<issue_id>/resolve")
def resolve(issue_id: str):
    """The unit reports it resolved; the resident is asked next."""
    return _act(commands.resolve, issue_id, json_body(ResolveSchema())["resolution"])


@api.post("/issues/<issue_id>/tier")
def retier(issue_id: str):
    """A supervisor moves the issue to another tier, with a reason."""
    body = json_body(RetierSchema())
    return _act(commands.retier, issue_id, body["tier"], body["reason"])


@api.post("/issues/<issue_id>/urge")
def urge(issue_id: str):
    """A supervisor presses the unit in charge (督办意见); notify passes it on by SMS."""
    return _act(commands.urge, issue_id, json_body(UrgeSchema())["note"]), 201


@api.get("/triage")
def triage_queue():
    """The street office's queue: issues without a category, and returned ones to arbitrate."""
    return _read(queries.triage_queue, current_context(), g.unit)


@api.post("/issues/<issue_id>/triage")
def triage(issue_id: str):
    """The street office sets the category (and flags) the keywords could not find."""
    body = json_body(TriageSchema())
    return _act(commands.triage, issue_id, body["category"], body["flags"])


@api.post("/issues/<issue_id>/arbitrate")
def arbitrate(issue_id: str):
    """The street office chooses the lead unit, which cannot return it."""
    return _act(commands.arbitrate, issue_id, json_body(ArbitrateSchema())["unit_id"])


@api.post("/meetings")
def create_meeting():
    """A street's work-day meeting, called by its street office."""
    body = json_body(MeetingSchema())
    with current_store().unit_of_work() as uow:
        meeting_id = meetings.create(uow, current_context(), g.unit, **body)
    return {"id": meeting_id}, 201


@api.get("/meetings/<meeting_id>/agenda")
def agenda(meeting_id: str):
    """The street's open issues by tier, the overdue and escalated ones first."""
    return _read(meetings.agenda, current_context(), meeting_id)


@api.get("/meetings/<meeting_id>/record")
def record(meeting_id: str):
    """What was raised at the meeting, who took it, what was promised."""
    return _read(meetings.record, current_context(), meeting_id)


@api.get("/meetings/<meeting_id>/record.md")
def record_markdown(meeting_id: str):
    """The record as Markdown, to file or print."""
    rec = _read(meetings.record, current_context(), meeting_id)
    markdown = meetings.record_markdown(rec, current_context().directory)
    return Response(markdown, mimetype="text/markdown")


@api.get("/directory")
def directory():
    """The places, categories and units dispatch routes by."""
    d = current_context().directory
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


@api.get("/openapi.json")
def openapi_document():
    """This API as an OpenAPI 3 document; public, like the directory."""
    return openapi.document()


@api.get("/docs")
def openapi_page():
    """The same document as a page for people."""
    page = shared_openapi.page(openapi.document(), "unit token")
    return page, 200, {"Content-Type": "text/html; charset=utf-8"}
