"""Notify's HTTP API: what was sent about an issue, resends, receipts and template previews."""

from __future__ import annotations

import hmac

from flask import Blueprint, Flask, request

from services.notify import commands, receipts, store
from services.notify.schemas import NOTIFICATIONS, PreviewSchema, ReceiptSchema
from shared.http import Problem, json_body
from shared.web import (
    bearer_token,
    current_context,
    current_store,
    service_app,
    unauthorized,
)

api = Blueprint("notifications", __name__, url_prefix="/v1")


def create_app(service_store, context) -> Flask:
    return service_app("notify", service_store, context, api)


@api.get("/notifications")
def notifications():
    """Deliveries for ?issue_id=, with addresses masked."""
    issue_id = request.args.get("issue_id")
    if not issue_id:
        raise Problem(400, "Bad Request", "issue_id is required", errors={"issue_id": ["required"]})
    with current_store().read() as conn:
        return {"notifications": NOTIFICATIONS.dump(store.for_issue(conn, issue_id))}


@api.post("/templates/preview")
def preview():
    """A template rendered for {"type", "issue_id", "payload", "language"}, with its SMS parts."""
    body = json_body(PreviewSchema())
    return commands.preview(
        current_context(), body["type"], body["issue_id"], body.get("payload"), body.get("language")
    )


@api.post("/receipts/<provider>")
def receipt(provider: str):
    """A provider's delivery receipt, signed with the shared secret; duplicates are ignored."""
    context, headers = current_context(), request.headers
    signature = headers.get("X-Loudong-Timestamp"), headers.get("X-Loudong-Signature")
    receipts.admit(context, provider, *signature, request.get_data())
    body = json_body(ReceiptSchema())
    with current_store().unit_of_work() as uow:
        applied = commands.record_receipt(uow, context, provider, body)
    return {"applied": applied}


@api.post("/notifications/<delivery_id>/resend")
def resend(delivery_id: str):
    """An administrator sends a delivery again (Authorization: Bearer LOUDONG_ADMIN_TOKEN)."""
    context = current_context()
    _administrator(context.settings.admin_token)
    with current_store().unit_of_work() as uow:
        new_id = commands.resend(uow, context, delivery_id)
    return {"id": new_id, "resends": delivery_id}, 201


def _administrator(admin_token: str | None) -> None:
    token = bearer_token()
    if not admin_token or token is None or not hmac.compare_digest(token, admin_token):
        raise unauthorized(
            "loudong-admin", "an administrator's token is needed (LOUDONG_ADMIN_TOKEN)"
        )
