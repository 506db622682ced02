"""Notify's schemas: the payloads it publishes and readers for the events that trigger messages."""
from __future__ import annotations

from marshmallow import EXCLUDE, Schema, fields

from services.notify.events import NotificationFailed, NotificationSent
from shared.outbox import PayloadWriter


class NotificationSentSchema(Schema):
    issue_id = fields.String(required=True)
    delivery_id = fields.String(required=True)
    channel = fields.String(required=True)
    recipient_unit_id = fields.String(required=True)
    cause_type = fields.String(required=True)
    provider_message_id = fields.String(required=True)
    attempts = fields.Integer(required=True)
    sent_at = fields.AwareDateTime(required=True)


class NotificationFailedSchema(Schema):
    final = fields.Boolean(required=True)
    issue_id = fields.String(required=True)
    delivery_id = fields.String(required=True)
    channel = fields.String(required=True)
    recipient_unit_id = fields.String(required=True)
    cause_type = fields.String(required=True)
    reason = fields.String(required=True)
    attempts = fields.Integer(required=True)
    failed_at = fields.AwareDateTime(required=True)


write_payload = PayloadWriter({NotificationSent: NotificationSentSchema(),
                               NotificationFailed: NotificationFailedSchema()})


class _Reader(Schema):
    class Meta:
        unknown = EXCLUDE


# Unit events name the unit only; its contacts and webhook come from notify's directory. An
# event written before they left the bus still carries them: excluded here, never used.
class DispatchedReader(_Reader):
    role = fields.String(load_default="lead")
    unit_id = fields.String(required=True)
    unit_name = fields.String(load_default="")
    category = fields.String(load_default="other")
    category_name = fields.String(load_default=None)
    place_id = fields.String(load_default="")
    place_name = fields.String(load_default=None)
    tier = fields.String(load_default="")


class EscalatedReader(_Reader):
    level = fields.Integer(required=True)
    reason = fields.String(required=True)
    to_unit_id = fields.String(required=True)
    to_unit_name = fields.String(load_default="")
    next_deadline = fields.AwareDateTime(required=True)


class WarnedReader(_Reader):
    clock = fields.String(required=True)
    fraction = fields.Float(required=True)
    to_unit_id = fields.String(required=True)
    deadline = fields.AwareDateTime(required=True)


class FeedbackRequestedReader(_Reader):
    phone = fields.String(required=True)
    resolution = fields.String(load_default="")


class ResidentReader(_Reader):
    phone = fields.String(required=True)
    reason = fields.String(load_default="")


EVENT_READERS = {"issue.dispatched": DispatchedReader(), "issue.escalated": EscalatedReader(),
                 "issue.warned": WarnedReader(),
                 "resident.feedback_requested": FeedbackRequestedReader(),
                 "resident.acknowledged": ResidentReader(), "resident.closed": ResidentReader()}
