"""Escalation's HTTP API: clocks, escalations, policies and what is overdue, to look at;
escalating, extending and closing supervision by hand, for supervisors with their unit token."""

from __future__ import annotations

from flask import Blueprint, Flask, request
from marshmallow import ValidationError

from district.directory import Unit
from services.escalation import board_pages, commands, openapi, store
from services.escalation.schemas import (
    CloseSupervisionSchema,
    EscalationQuerySchema,
    ExtensionSchema,
    ManualEscalationSchema,
)
from shared import openapi as shared_openapi
from shared.http import Problem, json_body, plain
from shared.tokens import token_hash
from shared.web import (
    current_context,
    current_store,
    service_app,
    unit_signed_in,
)

api = Blueprint("escalation", __name__, url_prefix="/v1")


def create_app(service_store, context) -> Flask:
    app = service_app("escalation", service_store, context, api)
    board_pages.install(app, context, api)  # the leader's board; the bearer-token API keeps no CSRF
    return app


@api.get("/issues/<issue_id>/clocks")
def clocks(issue_id: str):
    """An issue's claim, resolve and supervision clocks."""
    with current_store().read() as conn:
        found = store.list_clocks(conn, issue_id)
    if not found:
        raise Problem(404, "Not Found", f"no clocks for issue {issue_id}")
    return {"issue_id": issue_id, "clocks": [plain(store.as_row(c)) for c in found]}


@api.post("/issues/<issue_id>/escalate")
def escalate(issue_id: str):
    """A supervisor moves the issue one level up now (reason manual)."""
    json_body(ManualEscalationSchema())
    return _act(commands.escalate, issue_id)


@api.post("/issues/<issue_id>/extend")
def extend(issue_id: str):
    """A supervisor extends a deadline, with a reason; the extension is recorded."""
    body = json_body(ExtensionSchema())
    return _act(commands.extend, issue_id, body["clock"], body["until"], body["reason"])


@api.post("/issues/<issue_id>/supervision/close")
def close_supervision(issue_id: str):
    """The district leader closes supervision (督辦)."""
    reason = json_body(CloseSupervisionSchema())["reason"]
    return _act(commands.close_supervision, issue_id, reason)


@api.get("/escalations")
def escalations():
    """Escalations fired, newest first; filters issue_id, reason, to_unit_id, level, since."""
    try:
        filters = EscalationQuerySchema().load(request.args.to_dict())
    except ValidationError as exc:
        raise Problem(
            400, "Bad Request", "some query parameters are invalid", exc.normalized_messages()
        ) from None
    with current_store().read() as conn:
        rows = store.list_escalations(conn, filters, filters["limit"])
    return {"escalations": [plain(r) for r in rows]}


@api.get("/overdue")
def overdue():
    """Deadlines past due right now, per street and unit."""
    with current_store().read() as conn:
        rows = store.overdue_now(conn, current_context().clock())
    return {"overdue": [{"street": s, "unit_id": u, "count": n} for s, u, n in rows]}


@api.get("/policies")
def policies():
    """The time limits in force for new clocks, and how far the holiday calendar reaches."""
    context = current_context()
    today = context.clock().astimezone(context.policies.calendar.zone).date()
    return {**context.policies.describe(), "calendar": context.schedule.describe(today)}


@api.get("/openapi.json")
def openapi_document():
    """This API as an OpenAPI 3 document."""
    return openapi.document()


@api.get("/docs")
def openapi_page():
    """The same document as a page for people."""
    page = shared_openapi.page(openapi.document(), "unit token")
    return page, 200, {"Content-Type": "text/html; charset=utf-8"}


def _act(command, issue_id: str, *args):
    """Run a supervisor's command as the unit behind the token; answer with the clocks."""
    unit = _unit()
    with current_store().unit_of_work() as uow:
        command(uow, current_context(), issue_id, unit, *args)
    return clocks(issue_id)


def _unit() -> Unit:
    """The unit behind a dispatch-issued token, known from dispatch's unit.token_issued."""
    return unit_signed_in(_unit_of_token)


def _unit_of_token(token: str) -> str | None:
    with current_store().read() as conn:
        return store.unit_of_token(conn, token_hash(token))
