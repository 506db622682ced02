"""Notify's HTTP API: what was sent about an issue."""

from __future__ import annotations

import hmac

from flask import Blueprint, Flask, current_app, request
from marshmallow import Schema, ValidationError, fields, validate

from services.notify import handlers, metrics, model, receipts, store, templates
from services.notify.schemas import EVENT_READERS
from shared.http import Problem, json_body
from shared.privacy import mask_address


class PreviewSchema(Schema):
    type = fields.String(required=True, validate=validate.OneOf(tuple(model.ROUTES)))
    issue_id = fields.String(load_default="00000000-0000-0000-0000-000000000000")
    payload = fields.Dict()
    language = fields.String(validate=validate.OneOf(("zh", "en")))


api = Blueprint("notifications", __name__, url_prefix="/v1")


def create_app(service_store, context) -> Flask:
    app = Flask("loudong.notify")
    app.extensions["loudong"] = {"store": service_store, "context": context}
    app.register_blueprint(api)
    return app


@api.get("/notifications")
def notifications():
    """Deliveries for ?issue_id=, with addresses masked."""
    issue_id = request.args.get("issue_id")
    if not issue_id:
        raise Problem(400, "Bad Request", "issue_id is required", errors={"issue_id": ["required"]})
    with current_app.extensions["loudong"]["store"].read() as conn:
        rows = store.for_issue(conn, issue_id)
    keep = (
        "id",
        "event_id",
        "cause_type",
        "recipient_unit_id",
        "channel",
        "status",
        "attempts",
        "provider",
        "provider_message_id",
        "last_error",
        "receipt_status",
    )
    return {
        "notifications": [
            {
                **{k: r[k] for k in keep},
                "address": mask_address(r["address"]),
                "created_at": r["created_at"].isoformat(),
                "finished_at": r["finished_at"].isoformat() if r["finished_at"] else None,
            }
            for r in rows
        ]
    }


@api.post("/templates/preview")
def preview():
    """A template rendered for an event: {"type", "issue_id", "payload", "language"}; the sample
    payload when none is given. Shows the SMS encoding and parts too."""
    body = json_body(PreviewSchema())
    context = current_app.extensions["loudong"]["context"]
    try:
        loaded = (
            EVENT_READERS[body["type"]].load(body["payload"])
            if body.get("payload")
            else templates.SAMPLES[body["type"]]
        )
        text = context.renderer.render(
            body["type"], model.reference(body["issue_id"]), loaded, body.get("language")
        )
    except ValidationError as exc:
        raise Problem(
            422,
            "Invalid body",
            "the payload does not fit the event",
            errors={"payload": exc.messages},
        ) from None
    except templates.TemplateError as exc:
        raise Problem(422, "Template error", str(exc)) from None
    encoding, units, parts = templates.sms_parts(text)
    fitted = templates.fit(text, context.max_parts)
    return {
        "text": fitted,
        "encoding": encoding,
        "units": units,
        "parts": parts,
        "shortened": fitted != text,
    }


class ReceiptSchema(Schema):
    message_id = fields.String(required=True, validate=validate.Length(min=1, max=128))
    status = fields.String(required=True, validate=validate.OneOf(("delivered", "undelivered")))
    error_code = fields.String(validate=validate.Length(max=64))


@api.post("/receipts/<provider>")
def receipt(provider: str):
    """A provider's delivery receipt, signed with the shared secret; duplicates are ignored."""
    context = current_app.extensions["loudong"]["context"]
    try:
        if provider not in {p.name for p in context.channels["sms"].providers}:
            raise receipts.Rejected(404, "unknown_provider", f"no provider {provider}")
        receipts.verify(
            context.receipt_secret,
            request.headers.get("X-Loudong-Timestamp"),
            request.headers.get("X-Loudong-Signature"),
            request.get_data(),
        )
        body = json_body(ReceiptSchema())
        with current_app.extensions["loudong"]["store"].unit_of_work() as uow:
            changed = receipts.apply(uow, provider, body, context.clock())
    except receipts.Rejected as exc:
        metrics.RECEIPTS_REJECTED.labels(exc.reason).inc()
        raise Problem(exc.status, "Receipt refused", str(exc)) from None
    if not changed:
        metrics.RECEIPTS_REJECTED.labels("duplicate").inc()
    return {"applied": changed}


@api.post("/notifications/<delivery_id>/resend")
def resend(delivery_id: str):
    """An administrator sends a delivery again (Authorization: Bearer LOUDONG_ADMIN_TOKEN)."""
    context = current_app.extensions["loudong"]["context"]
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if (
        not context.admin_token
        or scheme.lower() != "bearer"
        or not hmac.compare_digest(token.strip(), context.admin_token)
    ):
        raise Problem(
            401,
            "Unauthorized",
            "an administrator's token is needed (LOUDONG_ADMIN_TOKEN)",
            headers={"WWW-Authenticate": 'Bearer realm="loudong-admin"'},
        )
    with current_app.extensions["loudong"]["store"].unit_of_work() as uow:
        new_id = handlers.resend(uow, context, delivery_id)
    if new_id is None:
        raise Problem(404, "Not Found", f"no delivery {delivery_id}")
    return {"id": new_id, "resends": delivery_id}, 201
