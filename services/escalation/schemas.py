"""Escalation's schemas: the payload it publishes and readers for what it consumes."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from district.local_time import LOCAL_TIME
from district.policies import CLOCKS
from services.escalation import events
from shared.inputs import SaneDateTime
from shared.payloads import PayloadWriter, Reader

REASONS = (
    "claim_overdue",
    "resolve_overdue",
    "returned_too_often",
    "reopened",
    "undeliverable",
    "manual",
    "supervision_overdue",
)
CLOCK_NAMES = (*CLOCKS, "supervision", "reopen", "notify", "returns", "manual")
# a co-handling department's part carries its own claim and resolve clocks: claim@<assignment>
_clock_name = validate.Regexp(
    rf"^(?:{'|'.join(CLOCK_NAMES)})$|^(?:{'|'.join(CLOCKS)})@[0-9]{{1,9}}$",
    error="not a clock: claim, resolve, supervision, or claim@N / resolve@N for a part",
)


write_payload = PayloadWriter(
    events.IssueEscalated,
    events.IssueClockArmed,
    events.IssueWarned,
    events.SupervisionOpened,
    events.SupervisionClosed,
    events.DeadlineExtended,
    checks={
        events.IssueEscalated: {
            "clock": fields.String(validate=_clock_name),
            "level": fields.Integer(validate=validate.Range(min=1)),
            "reason": fields.String(validate=validate.OneOf(REASONS)),
        },
        events.IssueClockArmed: {
            "clock": fields.String(validate=_clock_name),
            "level": fields.Integer(validate=validate.Range(min=0)),
        },
    },
)


class ManualEscalationSchema(Schema):
    reason = fields.String(required=True, validate=validate.Length(min=1, max=500))


class ExtensionSchema(Schema):
    clock = fields.String(required=True, validate=validate.OneOf((*CLOCKS, "supervision")))
    until = SaneDateTime(required=True)
    reason = fields.String(required=True, validate=validate.Length(min=1, max=500))


class ExtensionFormSchema(ExtensionSchema):
    """The board's extension form: a browser's date-time field is Beijing wall-clock time."""

    until = SaneDateTime(required=True, default_timezone=LOCAL_TIME)


class CloseSupervisionSchema(Schema):
    reason = fields.String(required=True, validate=validate.Length(min=1, max=500))


class EscalationQuerySchema(Schema):
    issue_id = fields.String()
    reason = fields.String(validate=validate.OneOf(REASONS))
    to_unit_id = fields.String()
    level = fields.Integer(validate=validate.Range(min=1, max=1000))  # SQLite: 64-bit at most
    since = SaneDateTime()
    limit = fields.Integer(load_default=100, validate=validate.Range(1, 500))


class DispatchedReader(Reader):
    role = fields.String(load_default="lead")
    assignment = fields.Integer(required=True)
    unit_id = fields.String(required=True)
    tier = fields.String(required=True)
    category = fields.String(load_default=None)
    street = fields.String(load_default="")
    # What the leader's board shows; older events carry none of it.
    category_name = fields.String(load_default=None, allow_none=True)
    place_id = fields.String(load_default=None, allow_none=True)
    place_name = fields.String(load_default=None, allow_none=True)
    building = fields.String(load_default=None, allow_none=True)
    description = fields.String(load_default="", allow_none=True)
    # A lead's claim deadline as dispatch named it; events from before it did carry none.
    dispatched_at = fields.AwareDateTime(load_default=None, allow_none=True)
    claim_due_at = fields.AwareDateTime(load_default=None, allow_none=True)


class ClaimedReader(Reader):
    role = fields.String(load_default="lead")
    assignment = fields.Integer(required=True)
    unit_id = fields.String(required=True)
    tier = fields.String(required=True)
    street = fields.String(load_default="")
    promised_by = fields.AwareDateTime(load_default=None, allow_none=True)


class ResolvedReader(Reader):
    role = fields.String(load_default="lead")
    assignment = fields.Integer(required=True)
    unit_id = fields.String(required=True)


class ReturnedReader(Reader):
    assignment = fields.Integer(required=True)
    unit_id = fields.String(required=True)


class IssueOnlyReader(Reader):
    """Events where only the issue matters (awaiting or replying resident)."""


class ArbitrationReader(Reader):
    street_office_id = fields.String(required=True)


class FailedNotificationReader(Reader):
    recipient_unit_id = fields.String(required=True)
    cause_type = fields.String(required=True)
    final = fields.Boolean(load_default=True)


class TokenIssuedReader(Reader):
    unit_id = fields.String(required=True)
    token_hash = fields.String(required=True, validate=validate.Length(equal=64))


class TokenRevokedReader(Reader):
    unit_id = fields.String(required=True)
    token_hash = fields.String(required=True, validate=validate.Length(equal=64))
    revoked_at = fields.AwareDateTime(required=True)


EVENT_READERS = {
    "issue.dispatched": DispatchedReader(),
    "issue.claimed": ClaimedReader(),
    "issue.resolved": ResolvedReader(),
    "issue.returned": ReturnedReader(),
    "issue.awaiting_resident": IssueOnlyReader(),
    "issue.resident_replied": IssueOnlyReader(),
    "issue.arbitration_needed": ArbitrationReader(),
    "issue.reopened": IssueOnlyReader(),
    "notification.failed": FailedNotificationReader(),
    "unit.token_issued": TokenIssuedReader(),
    "unit.token_revoked": TokenRevokedReader(),
}
