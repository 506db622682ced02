"""Intake's HTTP API: submissions in, public status out."""
from __future__ import annotations

from flask import Blueprint, Flask, current_app, request, url_for

from services.intake import metrics, store
from services.intake.handlers import submit_issue
from shared.http import Problem, json_body

api = Blueprint("issues", __name__, url_prefix="/v1")


def create_app(service_store, context) -> Flask:
    app = Flask("loudong.intake")
    app.extensions["loudong"] = {"store": service_store, "context": context}
    app.register_blueprint(api)
    return app


def _store():
    return current_app.extensions["loudong"]["store"]


@api.after_request
def _count_rejections(response):
    if request.method == "POST" and 400 <= response.status_code < 500:
        metrics.SUBMISSIONS_REJECTED.labels(str(response.status_code)).inc()
    return response


@api.post("/issues")
def submit():
    """Accept an issue; 201 only once it and its event are committed."""
    submission = json_body(current_app.extensions["loudong"]["context"].submission_schema)
    with _store().unit_of_work(correlation_id=request.headers.get("X-Request-Id")) as uow:
        issue_id = submit_issue(uow, submission)
    metrics.ISSUES_ACCEPTED.labels(submission["channel"], submission.get("category") or "unclassified").inc()
    return {"id": issue_id, "status": "received"}, 201, {"Location": url_for("issues.show", issue_id=issue_id)}


@api.get("/issues/<issue_id>")
def show(issue_id: str):
    """An issue's public status and timeline (never the reporter)."""
    with _store().read() as conn:
        issue = store.get_issue(conn, issue_id)
        if issue is None:
            raise Problem(404, "Not Found", f"no issue {issue_id}")
        timeline = store.get_timeline(conn, issue_id)
    return {
        "id": issue["id"], "status": issue["status"], "channel": issue["channel"],
        "category": issue["category"], "tier": issue["tier"],
        "location": {k: issue[k] for k in store.LOCATION_KEYS if issue[k] is not None},
        "assigned_unit": ({"id": issue["assigned_unit_id"], "name": issue["assigned_unit_name"]}
                          if issue["assigned_unit_id"] else None),
        "escalation_level": issue["escalation_level"],
        "submitted_at": issue["submitted_at"].isoformat(), "updated_at": issue["updated_at"].isoformat(),
        "timeline": [{"at": issue["submitted_at"].isoformat(), "type": "issue.submitted", "summary": "received"}]
                    + [{"at": t["occurred_at"].isoformat(), "type": t["type"], "summary": t["summary"]}
                       for t in timeline],
    }
