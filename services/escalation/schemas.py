"""Escalation's schemas: the payload it publishes and readers for what it consumes."""
from __future__ import annotations

from marshmallow import EXCLUDE, Schema, fields, validate

from services.escalation.events import IssueClockArmed, IssueEscalated
from services.escalation.policies import CLOCKS
from shared.outbox import PayloadWriter

REASONS = ("claim_overdue", "resolve_overdue", "returned_too_often", "reopened", "undeliverable", "manual")


class ContactSchema(Schema):
    name = fields.String(required=True)
    phone = fields.String(required=True)


class IssueEscalatedSchema(Schema):
    issue_id = fields.String(required=True)
    clock = fields.String(required=True, validate=validate.OneOf(CLOCKS))
    assignment = fields.Integer(required=True)
    level = fields.Integer(required=True, validate=validate.Range(min=1))
    reason = fields.String(required=True, validate=validate.OneOf(REASONS))
    from_unit_id = fields.String(required=True)
    to_unit_id = fields.String(required=True)
    to_unit_name = fields.String(required=True)
    to_unit_contacts = fields.List(fields.Nested(ContactSchema), required=True)
    missed_deadline = fields.AwareDateTime(required=True)
    next_deadline = fields.AwareDateTime(required=True)
    escalated_at = fields.AwareDateTime(required=True)


class IssueClockArmedSchema(Schema):
    issue_id = fields.String(required=True)
    clock = fields.String(required=True, validate=validate.OneOf(CLOCKS))
    assignment = fields.Integer(required=True)
    level = fields.Integer(required=True, validate=validate.Range(min=0))
    unit_id = fields.String(required=True)
    due_at = fields.AwareDateTime(required=True)


write_payload = PayloadWriter({IssueEscalated: IssueEscalatedSchema(), IssueClockArmed: IssueClockArmedSchema()})


class _Reader(Schema):
    class Meta:
        unknown = EXCLUDE


class DispatchedReader(_Reader):
    role = fields.String(load_default="lead")
    assignment = fields.Integer(required=True)
    unit_id = fields.String(required=True)
    tier = fields.String(required=True)
    street = fields.String(load_default="")


class ClaimedReader(_Reader):
    role = fields.String(load_default="lead")
    assignment = fields.Integer(required=True)
    unit_id = fields.String(required=True)
    tier = fields.String(required=True)
    street = fields.String(load_default="")
    promised_by = fields.AwareDateTime(load_default=None, allow_none=True)


class ResolvedReader(_Reader):
    role = fields.String(load_default="lead")
    assignment = fields.Integer(required=True)
    unit_id = fields.String(required=True)


EVENT_READERS = {
    "issue.dispatched": DispatchedReader(),
    "issue.claimed": ClaimedReader(),
    "issue.resolved": ResolvedReader(),
}
