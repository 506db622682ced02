"""Escalation's schemas: the payload it publishes and readers for what it consumes."""
from __future__ import annotations

from marshmallow import EXCLUDE, Schema, fields, validate

from services.escalation.events import IssueClockArmed, IssueEscalated
from services.escalation.policies import CLOCKS
from services.escalation import events
from shared.outbox import PayloadWriter, payload_schema

REASONS = ("claim_overdue", "resolve_overdue", "returned_too_often", "reopened", "undeliverable", "manual")
CLOCK_NAMES = (*CLOCKS, "supervision", "reopen", "notify", "returns", "manual")


class IssueEscalatedSchema(Schema):
    issue_id = fields.String(required=True)
    clock = fields.String(required=True, validate=validate.OneOf(CLOCK_NAMES))
    assignment = fields.Integer(required=True)
    level = fields.Integer(required=True, validate=validate.Range(min=1))
    reason = fields.String(required=True, validate=validate.OneOf(REASONS))
    from_unit_id = fields.String(required=True)
    to_unit_id = fields.String(required=True)
    to_unit_name = fields.String(required=True)
    missed_deadline = fields.AwareDateTime(required=True)
    next_deadline = fields.AwareDateTime(required=True)
    escalated_at = fields.AwareDateTime(required=True)


class IssueClockArmedSchema(Schema):
    issue_id = fields.String(required=True)
    clock = fields.String(required=True, validate=validate.OneOf(CLOCK_NAMES))
    assignment = fields.Integer(required=True)
    level = fields.Integer(required=True, validate=validate.Range(min=0))
    unit_id = fields.String(required=True)
    due_at = fields.AwareDateTime(required=True)


write_payload = PayloadWriter({
    IssueEscalated: IssueEscalatedSchema(), IssueClockArmed: IssueClockArmedSchema(),
    events.IssueWarned: payload_schema(events.IssueWarned),
    events.SupervisionOpened: payload_schema(events.SupervisionOpened),
    events.SupervisionClosed: payload_schema(events.SupervisionClosed),
    events.DeadlineExtended: payload_schema(events.DeadlineExtended),
})


class ManualEscalationSchema(Schema):
    reason = fields.String(required=True, validate=validate.Length(min=1, max=500))


class ExtensionSchema(Schema):
    clock = fields.String(required=True, validate=validate.OneOf((*CLOCKS, "supervision")))
    until = fields.AwareDateTime(required=True)
    reason = fields.String(required=True, validate=validate.Length(min=1, max=500))


class CloseSupervisionSchema(Schema):
    reason = fields.String(required=True, validate=validate.Length(min=1, max=500))


class EscalationQuerySchema(Schema):
    issue_id = fields.String()
    reason = fields.String(validate=validate.OneOf(REASONS))
    to_unit_id = fields.String()
    level = fields.Integer(validate=validate.Range(min=1))
    since = fields.AwareDateTime()
    limit = fields.Integer(load_default=100, validate=validate.Range(1, 500))


class _Reader(Schema):
    class Meta:
        unknown = EXCLUDE


class DispatchedReader(_Reader):
    role = fields.String(load_default="lead")
    assignment = fields.Integer(required=True)
    unit_id = fields.String(required=True)
    tier = fields.String(required=True)
    category = fields.String(load_default=None)
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


class IssueOnlyReader(_Reader):
    """Events where only the issue matters (awaiting or replying resident)."""


class ArbitrationReader(_Reader):
    street_office_id = fields.String(required=True)


class FailedNotificationReader(_Reader):
    recipient_unit_id = fields.String(required=True)
    cause_type = fields.String(required=True)
    final = fields.Boolean(load_default=True)


class TokenIssuedReader(_Reader):
    unit_id = fields.String(required=True)
    token_hash = fields.String(required=True, validate=validate.Length(equal=64))


EVENT_READERS = {
    "issue.dispatched": DispatchedReader(),
    "issue.claimed": ClaimedReader(),
    "issue.resolved": ResolvedReader(),
    "issue.awaiting_resident": IssueOnlyReader(),
    "issue.resident_replied": IssueOnlyReader(),
    "issue.arbitration_needed": ArbitrationReader(),
    "issue.reopened": IssueOnlyReader(),
    "notification.failed": FailedNotificationReader(),
    "unit.token_issued": TokenIssuedReader(),
}
