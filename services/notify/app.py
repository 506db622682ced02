"""Notify's HTTP API: what was sent about an issue, resends, receipts, units' SMS replies and
template previews."""

from __future__ import annotations

import hmac
from datetime import datetime

from flask import Blueprint, Flask, request
from marshmallow import Schema, ValidationError

from district.local_time import LOCAL_TIME
from services.notify import commands, openapi, receipts, store
from services.notify.schemas import (
    NOTIFICATIONS,
    AliyunReportSchema,
    AliyunUpSchema,
    InboundSchema,
    PreviewSchema,
    ReceiptSchema,
)
from shared import openapi as shared_openapi
from shared.http import Problem, json_body, load_json
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
    """Deliveries for ?issue_id=, with addresses masked; to an administrator alone
    (Authorization: Bearer LOUDONG_ADMIN_TOKEN)."""
    _administrator(current_context().settings.admin_token)
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


@api.post("/receipts/aliyun")
def aliyun_receipts():
    """Aliyun's SmsReport push (a JSON array), answered as Aliyun expects."""
    context = current_context()
    receipts.admit(context, "aliyun", *_credential())
    reports = _json_array(AliyunReportSchema())
    commands.record_aliyun_receipts(current_store(), context, reports)
    return {"code": 0, "msg": "成功"}


@api.post("/inbound/generic")
def inbound_generic():
    """A unit's SMS reply {message_id, from, text, received_at}, signed like receipts."""
    context = current_context()
    receipts.admit_reply(context, "generic", *_credential())
    body = json_body(InboundSchema())
    [outcome] = commands.receive_replies(current_store(), context, "generic", [body])
    return {"outcome": outcome}


@api.post("/inbound/aliyun")
def inbound_aliyun():
    """Aliyun's SmsUp push (a JSON array); each sequence_id is applied once."""
    context = current_context()
    receipts.admit_reply(context, "aliyun", *_credential())
    messages = [_aliyun_message(up) for up in _json_array(AliyunUpSchema())]
    commands.receive_replies(current_store(), context, "aliyun", messages)
    return {"code": 0, "msg": "接收成功"}


def _aliyun_message(up: dict) -> dict:
    return {
        "message_id": str(up["sequence_id"]),
        "phone": up["phone_number"],
        "text": up["content"],
        "received_at": _beijing(up.get("send_time")),
    }


def _beijing(stamp: str | None) -> datetime | None:
    """Aliyun's "2026-11-26 10:00:00", Beijing time; None if absent or unreadable."""
    try:
        return datetime.strptime(stamp or "", "%Y-%m-%d %H:%M:%S").replace(tzinfo=LOCAL_TIME)
    except ValueError:
        return None


def _credential() -> tuple:
    """(timestamp, signature, body, token) of a provider's push."""
    headers = request.headers
    return (
        headers.get("X-Loudong-Timestamp"),
        headers.get("X-Loudong-Signature"),
        request.get_data(),
        request.args.get("token"),
    )


def _json_array(schema: Schema) -> list[dict]:
    """A provider's push: a JSON array of objects, each loaded by `schema`."""
    data = load_json(request.get_data() or b"null")
    if not isinstance(data, list):
        raise Problem(422, "Invalid body", "the body must be a JSON array")
    try:
        return schema.load(data, many=True)
    except ValidationError as exc:
        raise Problem(
            422, "Invalid body", "some items are invalid", errors=exc.normalized_messages()
        ) from None


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


@api.get("/openapi.json")
def openapi_document():
    """This API as an OpenAPI 3 document."""
    return openapi.document()


@api.get("/docs")
def openapi_page():
    """The same document as a page for people."""
    page = shared_openapi.page(openapi.document(), "administrator token")
    return page, 200, {"Content-Type": "text/html; charset=utf-8"}


def _administrator(admin_token: str | None) -> None:
    token = bearer_token()
    if (
        not admin_token
        or token is None
        or not hmac.compare_digest(token.encode(), admin_token.encode())
    ):
        raise unauthorized(
            "loudong-admin", "an administrator's token is needed (LOUDONG_ADMIN_TOKEN)"
        )
