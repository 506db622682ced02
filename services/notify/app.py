"""Notify's HTTP API: what was sent about an issue."""
from __future__ import annotations

from flask import Blueprint, Flask, current_app, request

from services.notify import store
from shared.http import Problem

api = Blueprint("notifications", __name__, url_prefix="/v1")


def create_app(service_store, context) -> Flask:
    app = Flask("loudong.notify")
    app.extensions["loudong"] = {"store": service_store, "context": context}
    app.register_blueprint(api)
    return app


def _masked(address: str) -> str:
    return address[:5] + "****" + address[-2:] if len(address) > 8 else "****"


@api.get("/notifications")
def notifications():
    """Deliveries for ?issue_id=, with addresses masked."""
    issue_id = request.args.get("issue_id")
    if not issue_id:
        raise Problem(400, "Bad Request", "issue_id is required", errors={"issue_id": ["required"]})
    with current_app.extensions["loudong"]["store"].read() as conn:
        rows = store.for_issue(conn, issue_id)
    keep = ("id", "event_id", "cause_type", "recipient_unit_id", "channel", "status", "attempts",
            "provider", "provider_message_id", "last_error")
    return {"notifications": [{**{k: r[k] for k in keep}, "address": _masked(r["address"]),
                               "created_at": r["created_at"].isoformat(),
                               "finished_at": r["finished_at"].isoformat() if r["finished_at"] else None}
                              for r in rows]}
