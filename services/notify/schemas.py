"""Notify's schemas: the payloads it publishes and readers for the events that trigger messages."""

from __future__ import annotations

from marshmallow import fields

from services.notify.events import NotificationFailed, NotificationSent
from shared.payloads import PayloadWriter, Reader

write_payload = PayloadWriter(NotificationSent, NotificationFailed)


# Unit events name the unit only; its contacts and webhook come from notify's directory. An
# event written before they left the bus still carries them: excluded here, never used.
class DispatchedReader(Reader):
    role = fields.String(load_default="lead")
    unit_id = fields.String(required=True)
    unit_name = fields.String(load_default="")
    category = fields.String(load_default="other")
    category_name = fields.String(load_default=None)
    place_id = fields.String(load_default="")
    place_name = fields.String(load_default=None)
    tier = fields.String(load_default="")


class EscalatedReader(Reader):
    level = fields.Integer(required=True)
    reason = fields.String(required=True)
    to_unit_id = fields.String(required=True)
    to_unit_name = fields.String(load_default="")
    next_deadline = fields.AwareDateTime(required=True)


class WarnedReader(Reader):
    clock = fields.String(required=True)
    fraction = fields.Float(required=True)
    to_unit_id = fields.String(required=True)
    deadline = fields.AwareDateTime(required=True)


class FeedbackRequestedReader(Reader):
    phone = fields.String(required=True)
    resolution = fields.String(load_default="")


class ResidentReader(Reader):
    phone = fields.String(required=True)
    reason = fields.String(load_default="")


EVENT_READERS = {
    "issue.dispatched": DispatchedReader(),
    "issue.escalated": EscalatedReader(),
    "issue.warned": WarnedReader(),
    "resident.feedback_requested": FeedbackRequestedReader(),
    "resident.acknowledged": ResidentReader(),
    "resident.closed": ResidentReader(),
}
