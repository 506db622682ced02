"""Intake's HTTP API for gateway systems: submit, follow, list, give feedback."""

from __future__ import annotations

from flask import Blueprint, Flask, current_app, g, request, url_for
from marshmallow import ValidationError

from services.intake import metrics, open311, openapi, queries, store, submissions
from services.intake.auth import require_scope
from services.intake.handlers import IdempotencyConflict, give_feedback
from services.intake.schemas import FeedbackSchema, IssueQuerySchema
from services.intake.views import issue_view
from shared.http import Problem, json_body

api = Blueprint("issues", __name__, url_prefix="/v1")
PUBLIC_ENDPOINTS = {"issues.openapi_document", "issues.openapi_page"}


def create_app(service_store, context) -> Flask:
    app = Flask("loudong.intake")
    app.extensions["loudong"] = {"store": service_store, "context": context}
    app.register_blueprint(api)
    app.register_blueprint(open311.api)
    return app


def _store():
    return current_app.extensions["loudong"]["store"]


def _context():
    return current_app.extensions["loudong"]["context"]


@api.before_request
def _authenticate():
    if request.endpoint in PUBLIC_ENDPOINTS:
        return
    g.principal = _context().authenticator.from_header(request.headers.get("Authorization"))
    _context().authenticator.check_rate(g.principal)


@api.after_request
def _count_rejections(response):
    if request.method == "POST" and 400 <= response.status_code < 500:
        metrics.SUBMISSIONS_REJECTED.labels(str(response.status_code)).inc()
    return response


@api.post("/issues")
def submit():
    """Accept an issue; 201 once it and its event are committed, 200 for a repeat of an earlier one."""
    require_scope(g.principal, "submit")
    submission = json_body(_context().submission_schema)
    headers = request.headers
    try:
        keys = submissions.idempotency_keys(
            headers.get("Idempotency-Key"), submission.get("external_id")
        )
        issue_id, created = submissions.accept(
            _store(), g.principal.gateway, submission, keys, headers.get("X-Request-Id")
        )
    except submissions.BadIdempotencyKey as exc:
        raise Problem(
            400, "Bad Request", str(exc), errors={"Idempotency-Key": ["1–200 characters"]}
        ) from None
    except IdempotencyConflict as exc:
        raise Problem(422, "Idempotency conflict", str(exc)) from None
    location = {"Location": url_for("issues.show", issue_id=issue_id)}
    return {"id": issue_id, "status": "received"}, 201 if created else 200, location


@api.get("/issues/<issue_id>")
def show(issue_id: str):
    """An issue's status, deadlines and timeline; the reporter only to the gateway that sent it."""
    require_scope(g.principal, "read")
    with _store().read() as conn:
        issue = store.get_issue(conn, issue_id)
        if issue is None or not g.principal.may_read(issue):
            raise Problem(404, "Not Found", f"no issue {issue_id} for this gateway")
        timeline, reporter = store.get_timeline(conn, issue_id), store.get_reporter(conn, issue_id)
    own = issue["gateway"] == g.principal.gateway
    return issue_view(issue, timeline, reporter, masked=not own)


@api.get("/issues")
def index():
    """Issues newest first, filtered; `next_cursor` fetches the following page. Reporters masked."""
    require_scope(g.principal, "read")
    try:
        filters = IssueQuerySchema().load(request.args.to_dict())
    except ValidationError as exc:
        raise Problem(
            400,
            "Bad Request",
            "some query parameters are invalid",
            errors=exc.normalized_messages(),
        ) from None
    gateway = None if "read:all" in g.principal.scopes else g.principal.gateway
    try:
        with _store().read() as conn:
            page, next_cursor = queries.list_issues(
                conn, filters, gateway, filters["limit"], filters.get("cursor")
            )
    except queries.BadCursor as exc:
        raise Problem(400, "Bad Request", str(exc), errors={"cursor": [str(exc)]}) from None
    items = [
        issue_view(
            row,
            reporter={
                "name": row["reporter_name"],
                "phone": row["reporter_phone"],
                "consent": row["reporter_consent"],
            }
            if row["reporter_phone"]
            else None,
        )
        for row in page
    ]
    return {"issues": items, "next_cursor": next_cursor}


@api.post("/issues/<issue_id>/feedback")
def feedback(issue_id: str):
    """The resident's verdict on the outcome, relayed by the gateway."""
    require_scope(g.principal, "feedback")
    body = json_body(FeedbackSchema())
    with _store().unit_of_work() as uow:
        issue = store.get_issue(uow.conn, issue_id, for_update=True)
        if issue is None or issue["gateway"] != g.principal.gateway:
            raise Problem(404, "Not Found", f"no issue {issue_id} for this gateway")
        if issue["status"] != "resolved":
            raise Problem(
                409,
                "Conflict",
                f"feedback is asked for once the issue is resolved; it is {issue['status']}",
                state=issue["status"],
            )
        give_feedback(uow, issue_id, body)
    return {"id": issue_id, "feedback": "recorded"}, 201


@api.get("/openapi.json")
def openapi_document():
    """The OpenAPI 3 document of this API, generated from its marshmallow schemas."""
    return openapi.document(_context().submission_schema)


@api.get("/docs")
def openapi_page():
    """The same document as a page for people."""
    return (
        openapi.page(_context().submission_schema),
        200,
        {"Content-Type": "text/html; charset=utf-8"},
    )
