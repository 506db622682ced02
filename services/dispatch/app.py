"""Dispatch's HTTP API: units claim and resolve their assignments; the directory is visible."""
from __future__ import annotations

from dataclasses import asdict

from flask import Blueprint, Flask, current_app

from services.dispatch import handlers, model, store
from services.dispatch.schemas import ClaimSchema, ResolveSchema
from shared.http import json_body, problem_response

api = Blueprint("assignments", __name__, url_prefix="/v1")
# Domain errors and the HTTP answers they get, in one place.
ERRORS = {
    model.AssignmentNotFound: (404, "Not Found"),
    model.NotAssignedToUnit: (403, "Forbidden"),
    model.InvalidTransition: (409, "Conflict"),
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
        return problem_response(status, title, str(exc), **extra)
    return handle


def _store():
    return current_app.extensions["loudong"]["store"]


def _view(assignment: dict) -> dict:
    return {k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in assignment.items()}


@api.get("/assignments/<issue_id>")
def show(issue_id: str):
    """The current assignment of an issue."""
    with _store().read() as conn:
        assignment = store.get(conn, issue_id)
    if assignment is None:
        raise model.AssignmentNotFound(f"no assignment for issue {issue_id}")
    return _view(assignment)


@api.post("/assignments/<issue_id>/claim")
def claim(issue_id: str):
    """The assigned unit takes the issue on (認領)."""
    body = json_body(ClaimSchema())
    with _store().unit_of_work() as uow:
        return _view(handlers.claim(uow, issue_id, body["unit_id"]))


@api.post("/assignments/<issue_id>/resolve")
def resolve(issue_id: str):
    """The unit reports the issue resolved."""
    body = json_body(ResolveSchema())
    with _store().unit_of_work() as uow:
        return _view(handlers.resolve(uow, issue_id, body["unit_id"], body["resolution"]))


@api.get("/directory")
def directory():
    """The places and units dispatch routes by."""
    d = current_app.extensions["loudong"]["context"].directory
    return {
        "places": [asdict(p) for p in d.places.values()],
        "categories": [asdict(c) for c in d.categories.values()],
        "units": [{"id": u.id, "name": u.name, "type": u.type, "covers": list(u.covers),
                   "handles": list(u.handles), "supervisor": u.supervisor} for u in d.units.values()],
    }
