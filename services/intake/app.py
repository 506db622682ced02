"""Intake's HTTP API for gateway systems: submit, follow, list, give feedback."""

from __future__ import annotations

from flask import Blueprint, Flask, g, request, url_for
from marshmallow import ValidationError

from services.intake import commands, metrics, open311, openapi, queries
from services.intake.auth import require_scope
from services.intake.schemas import FeedbackSchema, IssueQuerySchema
from shared.http import Problem, json_body, problem_response
from shared.web import bearer_token, current_context, current_store, service_app

api = Blueprint("issues", __name__, url_prefix="/v1")
PUBLIC_ENDPOINTS = {"issues.openapi_document", "issues.openapi_page"}


def create_app(service_store, context) -> Flask:
    return service_app("intake", service_store, context, api, open311.api)


@api.before_request
def _authenticate():
    if request.endpoint in PUBLIC_ENDPOINTS:
        return
    authenticator = current_context().authenticator
    g.principal = authenticator.from_bearer(bearer_token())
    authenticator.check_rate(g.principal)


@api.after_request
def _count_rejections(response):
    if request.method == "POST" and 400 <= response.status_code < 500:
        metrics.SUBMISSIONS_REJECTED.labels(str(response.status_code)).inc()
    return response


@api.errorhandler(commands.BadIdempotencyKey)
def _bad_idempotency_key(exc: commands.BadIdempotencyKey):
    errors = {"Idempotency-Key": ["1–200 characters"]}
    return problem_response(400, "Bad Request", str(exc), errors=errors)


@api.errorhandler(commands.IdempotencyConflict)
def _idempotency_conflict(exc: commands.IdempotencyConflict):
    return problem_response(422, "Idempotency conflict", str(exc))


@api.errorhandler(queries.BadCursor)
def _bad_cursor(exc: queries.BadCursor):
    return problem_response(400, "Bad Request", str(exc), errors={"cursor": [str(exc)]})


@api.post("/issues")
def submit():
    """Accept an issue: 201 once it and its event are committed, 200 for a repeat."""
    require_scope(g.principal, "submit")
    submission = json_body(current_context().submission_schema)
    issue_id, created = commands.submit(
        current_store(),
        current_context(),
        g.principal.gateway,
        submission,
        request.headers.get("Idempotency-Key"),
        request.headers.get("X-Request-Id"),
    )
    location = {"Location": url_for("issues.show", issue_id=issue_id)}
    return {"id": issue_id, "status": "received"}, 201 if created else 200, location


@api.get("/issues/<issue_id>")
def show(issue_id: str):
    """An issue's status, deadlines and timeline; the reporter whole only to its own gateway."""
    require_scope(g.principal, "read")
    with current_store().read() as conn:
        return queries.issue_status(conn, g.principal, issue_id)


@api.get("/issues")
def index():
    """Issues newest first, filtered; `next_cursor` fetches the following page. Reporters masked."""
    require_scope(g.principal, "read")
    filters = _query(IssueQuerySchema())
    with current_store().read() as conn:
        return queries.issue_list(conn, g.principal, filters)


@api.post("/issues/<issue_id>/feedback")
def feedback(issue_id: str):
    """The resident's verdict on the outcome, relayed by the gateway."""
    require_scope(g.principal, "feedback")
    body = json_body(FeedbackSchema())
    with current_store().unit_of_work() as uow:
        commands.give_feedback(uow, current_context(), g.principal.gateway, issue_id, body)
    return {"id": issue_id, "feedback": "recorded"}, 201


@api.get("/openapi.json")
def openapi_document():
    """The OpenAPI 3 document of this API, generated from its marshmallow schemas."""
    return openapi.document(current_context().submission_schema)


@api.get("/docs")
def openapi_page():
    """The same document as a page for people."""
    html = openapi.page(current_context().submission_schema)
    return html, 200, {"Content-Type": "text/html; charset=utf-8"}


def _query(schema) -> dict:
    try:
        return schema.load(request.args.to_dict())
    except ValidationError as exc:
        detail, errors = "some query parameters are invalid", exc.normalized_messages()
        raise Problem(400, "Bad Request", detail, errors=errors) from None
