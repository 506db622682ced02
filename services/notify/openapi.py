"""Notify's v1 API as an OpenAPI 3 document: deliveries and resends for an administrator
(bearer LOUDONG_ADMIN_TOKEN), template previews (public), and what providers push — receipts
and units' SMS replies — signed with the receipt secret instead of a bearer token."""

from __future__ import annotations

from functools import lru_cache

from marshmallow import fields

from services.notify.schemas import (
    AliyunReportSchema,
    AliyunUpSchema,
    InboundSchema,
    NotificationSchema,
    PreviewSchema,
    ReceiptSchema,
)
from shared.openapi import Answer, new_spec, operation, path_parameter


class NotificationsSchema(Answer):
    notifications = fields.List(fields.Nested(NotificationSchema), required=True)


class PreviewedSchema(Answer):
    text = fields.String(required=True)
    encoding = fields.String(required=True)
    units = fields.Integer(required=True)
    parts = fields.Integer(required=True)
    shortened = fields.Boolean(required=True)


class AliyunAnswerSchema(Answer):
    """What Aliyun expects back from a push: code 0 and a message."""

    code = fields.Integer(required=True)
    msg = fields.String(required=True)


class AppliedSchema(Answer):
    applied = fields.Boolean(required=True)


class OutcomeSchema(Answer):
    outcome = fields.String(required=True)


class ResentSchema(Answer):
    id = fields.String(required=True)
    resends = fields.String(required=True)


SCHEMAS = {
    "Preview": PreviewSchema,
    "Receipt": ReceiptSchema,
    "Inbound": InboundSchema,
    "AliyunReport": AliyunReportSchema,
    "AliyunUp": AliyunUpSchema,
    "Notification": NotificationSchema,
    "Notifications": NotificationsSchema,
    "Previewed": PreviewedSchema,
    "AliyunAnswer": AliyunAnswerSchema,
    "Applied": AppliedSchema,
    "Outcome": OutcomeSchema,
    "Resent": ResentSchema,
}
SIGNED = [  # receipts.verify: HMAC-SHA256 of "<timestamp>." + body with the receipt secret
    {
        "in": "header",
        "name": "X-Loudong-Timestamp",
        "description": "Unix seconds, within 300 s of notify's clock",
        "schema": {"type": "string"},
    },
    {
        "in": "header",
        "name": "X-Loudong-Signature",
        "description": "hex HMAC-SHA256 of '<timestamp>.<body>' with the receipt secret",
        "schema": {"type": "string"},
    },
]
TOKEN = {  # Aliyun cannot sign: the URL in its console carries the secret
    "in": "query",
    "name": "token",
    "description": "the receipt secret, for providers that cannot sign (over HTTPS)",
    "schema": {"type": "string"},
}
PUSH_ERRORS = (400, 401, 413, 422, 503)  # 503: receipts not configured, or the database


def _array_of(ref: str) -> dict:
    return {
        "required": True,
        "content": {
            "application/json": {
                "schema": {"type": "array", "items": {"$ref": f"#/components/schemas/{ref}"}}
            }
        },
    }


def _push(summary: str, answer: tuple, errors: tuple, body: str, *, array: bool, token: bool):
    """A provider's push: signed, not bearer; an array body is read raw (no 415)."""
    parameters = [*SIGNED, TOKEN] if token else list(SIGNED)
    op = operation(
        summary,
        {200: answer},
        (*PUSH_ERRORS, *errors),
        body=None if array else body,
        parameters=parameters,
        public=True,
    )
    if array:
        op["requestBody"] = _array_of(body)
    return op


@lru_cache(maxsize=1)
def document() -> dict:
    spec = new_spec(
        "Loudong notify",
        "What was sent about an issue and resends, to an administrator (Authorization: "
        "Bearer LOUDONG_ADMIN_TOKEN); template previews; providers' receipts and units' SMS "
        "replies, signed with the receipt secret.",
        SCHEMAS,
    )
    spec.path(
        "/v1/notifications",
        operations={
            "get": operation(
                "Deliveries for an issue, addresses masked",
                {200: ("deliveries", "Notifications")},
                (400,),
                parameters=[
                    {
                        "in": "query",
                        "name": "issue_id",
                        "required": True,
                        "schema": {"type": "string", "minLength": 1},
                    }
                ],
            )
        },
    )
    spec.path(
        "/v1/notifications/{delivery_id}/resend",
        operations={
            "post": operation(
                "An administrator sends a delivery again",
                {201: ("the new delivery", "Resent")},
                (404,),
                parameters=[path_parameter("delivery_id", "the delivery to send again")],
            )
        },
    )
    spec.path(
        "/v1/templates/preview",
        operations={
            "post": operation(
                "A template rendered, with the SMS parts it takes",
                {200: ("the text", "Previewed")},
                body="Preview",
                public=True,
            )
        },
    )
    spec.path(
        "/v1/receipts/{provider}",
        operations={
            "post": {
                **_push(
                    "A provider's delivery receipt; duplicates are ignored",
                    ("applied, or a duplicate", "Applied"),
                    (404, 415),
                    "Receipt",
                    array=False,
                    token=False,
                ),
                "parameters": [path_parameter("provider", "the SMS provider"), *SIGNED],
            }
        },
    )
    spec.path(
        "/v1/receipts/aliyun",
        operations={
            "post": _push(
                "Aliyun's SmsReport push",
                ("taken", "AliyunAnswer"),
                (404,),
                "AliyunReport",
                array=True,
                token=True,
            )
        },
    )
    spec.path(
        "/v1/inbound/generic",
        operations={
            "post": _push(
                "A unit's SMS reply through the generic provider",
                ("what the reply did", "Outcome"),
                (415,),
                "Inbound",
                array=False,
                token=True,
            )
        },
    )
    spec.path(
        "/v1/inbound/aliyun",
        operations={
            "post": _push(
                "Aliyun's SmsUp push; each sequence_id applied once",
                ("taken", "AliyunAnswer"),
                (),
                "AliyunUp",
                array=True,
                token=True,
            )
        },
    )
    spec.path(
        "/v1/openapi.json",
        operations={
            "get": operation("This document", {200: ("OpenAPI 3", {"type": "object"})}, public=True)
        },
    )
    return spec.to_dict()
