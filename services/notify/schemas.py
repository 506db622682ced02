"""Notify's schemas: its HTTP bodies and answers, the payloads it publishes, and readers for
the events that trigger messages."""

from __future__ import annotations

from marshmallow import EXCLUDE, Schema, fields, validate

from services.notify.events import NotificationFailed, NotificationSent, UnitReplied
from services.notify.model import ACTION_WORDS, ROUTES
from services.notify.settings import LANGUAGES
from shared.payloads import PayloadWriter, Reader
from shared.privacy import mask_address

ACTIONS = tuple(ACTION_WORDS)
write_payload = PayloadWriter(
    NotificationSent,
    NotificationFailed,
    UnitReplied,
    checks={UnitReplied: {"action": fields.String(validate=validate.OneOf(ACTIONS))}},
)


# Unit events name the unit only; its contacts and webhook come from notify's directory. An
# event written before they left the bus still carries them: excluded here, never used.
class DispatchedReader(Reader):
    role = fields.String(load_default="lead")
    assignment = fields.Integer(load_default=1)
    unit_id = fields.String(required=True)
    unit_name = fields.String(load_default="")
    category = fields.String(load_default="other")
    category_name = fields.String(load_default=None)
    place_id = fields.String(load_default="")
    place_name = fields.String(load_default=None)
    tier = fields.String(load_default="")
    building = fields.String(load_default=None, allow_none=True)
    description = fields.String(load_default="")
    # A lead's claim deadline, named by dispatch; older events left it to issue.clock_armed.
    claim_due_at = fields.AwareDateTime(load_default=None, allow_none=True)


class EscalatedReader(Reader):
    assignment = fields.Integer(load_default=None, allow_none=True)
    level = fields.Integer(required=True)
    reason = fields.String(required=True)
    to_unit_id = fields.String(required=True)
    to_unit_name = fields.String(load_default="")
    next_deadline = fields.AwareDateTime(required=True)


class WarnedReader(Reader):
    assignment = fields.Integer(load_default=None, allow_none=True)  # if escalation says it
    clock = fields.String(required=True)
    fraction = fields.Float(required=True)
    to_unit_id = fields.String(required=True)
    deadline = fields.AwareDateTime(required=True)


class UrgedReader(Reader):
    assignment = fields.Integer(required=True)
    unit_id = fields.String(required=True)
    by_unit_name = fields.String(load_default="")
    note = fields.String(required=True)


class FeedbackRequestedReader(Reader):
    phone = fields.String(required=True)
    resolution = fields.String(load_default="")


class ResidentReader(Reader):
    phone = fields.String(required=True)
    reason = fields.String(load_default="")


class ClockArmedReader(Reader):
    clock = fields.String(required=True)
    assignment = fields.Integer(required=True)
    due_at = fields.AwareDateTime(required=True)


class AssignmentEndedReader(Reader):
    """Returned or resolved: the unit's reply code for that assignment closes."""

    assignment = fields.Integer(required=True)
    unit_id = fields.String(required=True)


class ReplyAppliedReader(Reader):
    inbound_id = fields.String(required=True)
    unit_id = fields.String(required=True)
    accepted = fields.Boolean(required=True)
    detail = fields.String(load_default="")


EVENT_READERS = {
    "issue.dispatched": DispatchedReader(),
    "issue.escalated": EscalatedReader(),
    "issue.warned": WarnedReader(),
    "issue.urged": UrgedReader(),
    "resident.feedback_requested": FeedbackRequestedReader(),
    "resident.acknowledged": ResidentReader(),
    "resident.closed": ResidentReader(),
    "issue.clock_armed": ClockArmedReader(),
    "issue.returned": AssignmentEndedReader(),
    "issue.resolved": AssignmentEndedReader(),
    "issue.closed": Reader(),
    "unit.reply_applied": ReplyAppliedReader(),
}


class PreviewSchema(Schema):
    type = fields.String(required=True, validate=validate.OneOf(tuple(ROUTES)))
    issue_id = fields.String(load_default="00000000-0000-0000-0000-000000000000")
    payload = fields.Dict()
    language = fields.String(validate=validate.OneOf(LANGUAGES))


class ReceiptSchema(Schema):
    message_id = fields.String(required=True, validate=validate.Length(min=1, max=128))
    status = fields.String(required=True, validate=validate.OneOf(("delivered", "undelivered")))
    error_code = fields.String(validate=validate.Length(max=64))


class InboundSchema(Schema):
    """A reply through the generic provider: {message_id, from, text, received_at}."""

    class Meta:
        unknown = EXCLUDE

    message_id = fields.String(required=True, validate=validate.Length(min=1, max=128))
    phone = fields.String(required=True, data_key="from", validate=validate.Length(min=1, max=32))
    text = fields.String(required=True, validate=validate.Length(max=1000))
    received_at = fields.AwareDateTime(load_default=None)


class AliyunUpSchema(Schema):
    """One reply in Aliyun's SmsUp push (an array of these)."""

    class Meta:
        unknown = EXCLUDE

    phone_number = fields.String(required=True, validate=validate.Length(min=1, max=32))
    content = fields.String(required=True, validate=validate.Length(max=1000))
    sequence_id = fields.Raw(required=True)  # a number, sometimes sent as a string
    send_time = fields.String(load_default=None)
    dest_code = fields.String(load_default=None)


class AliyunReportSchema(Schema):
    """One receipt in Aliyun's SmsReport push (an array of these)."""

    class Meta:
        unknown = EXCLUDE

    biz_id = fields.String(required=True, validate=validate.Length(min=1, max=128))
    out_id = fields.String(load_default=None)
    success = fields.Boolean(required=True)
    err_code = fields.String(load_default=None, validate=validate.Length(max=64))
    phone_number = fields.String(load_default=None)


class NotificationSchema(Schema):
    """A delivery as GET /v1/notifications lists it: the address masked."""

    id = fields.String()
    event_id = fields.String()
    cause_type = fields.String()
    recipient_unit_id = fields.String()
    channel = fields.String()
    status = fields.String()
    attempts = fields.Integer()
    provider = fields.String()
    provider_message_id = fields.String()
    last_error = fields.String()
    receipt_status = fields.String()
    address = fields.Function(lambda d: mask_address(d.address))
    created_at = fields.Function(lambda d: d.created_at.isoformat())
    finished_at = fields.Function(lambda d: d.finished_at.isoformat() if d.finished_at else None)


NOTIFICATIONS = NotificationSchema(many=True)
