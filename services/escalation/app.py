"""Escalation's HTTP API: clocks, escalations and policies, to look at."""
from __future__ import annotations

from flask import Blueprint, Flask, current_app, request

from services.escalation import store
from shared.http import Problem

api = Blueprint("escalation", __name__, url_prefix="/v1")


def create_app(service_store, context) -> Flask:
    app = Flask("loudong.escalation")
    app.extensions["loudong"] = {"store": service_store, "context": context}
    app.register_blueprint(api)
    return app


def _store():
    return current_app.extensions["loudong"]["store"]


def _view(row: dict) -> dict:
    return {k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in row.items()}


@api.get("/issues/<issue_id>/clocks")
def clocks(issue_id: str):
    """An issue's claim and resolve clocks."""
    with _store().read() as conn:
        rows = store.list_clocks(conn, issue_id)
    if not rows:
        raise Problem(404, "Not Found", f"no clocks for issue {issue_id}")
    return {"issue_id": issue_id, "clocks": [_view(r) for r in rows]}


@api.get("/escalations")
def escalations():
    """Escalations fired, newest first; ?issue_id= filters, ?limit= caps (≤ 500)."""
    try:
        limit = min(int(request.args.get("limit", 100)), 500)
    except ValueError:
        raise Problem(400, "Bad Request", "limit must be an integer", errors={"limit": ["not an integer"]})
    with _store().read() as conn:
        rows = store.list_escalations(conn, request.args.get("issue_id"), limit)
    return {"escalations": [_view(r) for r in rows]}


@api.get("/policies")
def policies():
    """The time limits in force for new clocks."""
    p = current_app.extensions["loudong"]["context"].policies
    return {"version": p.version, "tiers": {t: {"claim_within": str(tp.claim_within),
                                                 "resolve_within": str(tp.resolve_within)}
                                             for t, tp in p.tiers.items()}}
