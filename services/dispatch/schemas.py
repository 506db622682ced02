"""Dispatch's schemas: unit and supervisor actions over HTTP, the payloads it publishes,
readers for the events it consumes."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from district.directory import TIERS
from services.dispatch import events
from services.dispatch.model import RETURN_REASONS
from services.dispatch.replies import REPLY_ACTIONS
from shared.inputs import SaneDate
from shared.payloads import PayloadWriter, Reader


class ReturnSchema(Schema):
    reason = fields.String(required=True, validate=validate.OneOf(RETURN_REASONS))
    note = fields.String(validate=validate.Length(max=2000))


class NoteSchema(Schema):
    note = fields.String(required=True, validate=validate.Length(min=1, max=2000))


class UrgeSchema(Schema):
    note = fields.String(required=True, validate=validate.Length(min=1, max=500))


class ResolveSchema(Schema):
    resolution = fields.String(required=True, validate=validate.Length(min=1, max=2000))


class RetierSchema(Schema):
    tier = fields.String(required=True, validate=validate.OneOf(TIERS))
    reason = fields.String(required=True, validate=validate.Length(min=1, max=500))


class FlagsSchema(Schema):
    households_affected = fields.Integer(validate=validate.Range(min=0, max=100_000))
    needs_several_departments = fields.Boolean()
    repeated_complaint = fields.Boolean()


class TriageSchema(Schema):
    category = fields.String(required=True)
    flags = fields.Nested(FlagsSchema, load_default=dict)


class ArbitrateSchema(Schema):
    unit_id = fields.String(required=True, validate=validate.Length(min=1, max=64))


class MeetingSchema(Schema):
    street = fields.String(required=True)
    held_on = SaneDate(required=True)
    place = fields.String(required=True, validate=validate.Length(min=1, max=200))
    attending_units = fields.List(
        fields.String(), required=True, validate=validate.Length(min=1, max=50)
    )


_tier = fields.String(validate=validate.OneOf(TIERS))
write_payload = PayloadWriter(  # strict: a unit's contacts or webhook would be refused
    events.IssueDispatched,
    events.IssueClaimed,
    events.IssueReturned,
    events.ArbitrationNeeded,
    events.TriageNeeded,
    events.ProgressNoted,
    events.IssueUrged,
    events.IssueResolved,
    events.IssueClosed,
    events.IssueReopened,
    events.IssueRetiered,
    events.IssueLinked,
    events.AwaitingResident,
    events.ResidentReplied,
    events.UnitTokenIssued,
    events.UnitTokenRevoked,
    events.UnitReplyApplied,
    checks={
        events.IssueDispatched: {
            "tier": _tier,
            "role": fields.String(validate=validate.OneOf(("lead", "co"))),
        },
        events.IssueClaimed: {"tier": _tier},
        events.IssueReturned: {"reason": fields.String(validate=validate.OneOf(RETURN_REASONS))},
        events.IssueClosed: {
            "reason": fields.String(
                validate=validate.OneOf(("satisfied", "no_feedback", "with_linked"))
            )
        },
        events.IssueReopened: {"tier": _tier},
        events.IssueRetiered: {"from_tier": _tier, "to_tier": _tier},
    },
)


class LocationReader(Reader):
    street = fields.String(required=True)
    community = fields.String(load_default=None)
    compound = fields.String(load_default=None)
    building = fields.String(load_default=None)


class SubmittedReader(Reader):
    description = fields.String(load_default="")
    category = fields.String(load_default=None, allow_none=True)
    location = fields.Nested(LocationReader, required=True)
    attributes = fields.Dict(load_default=dict)
    meeting_id = fields.String(load_default=None, allow_none=True)
    promised_by = fields.AwareDateTime(load_default=None, allow_none=True)
    submitted_at = fields.AwareDateTime(load_default=None)


class FeedbackReader(Reader):
    satisfied = fields.Boolean(required=True)
    rating = fields.Integer(load_default=None)


class EscalatedReader(Reader):
    level = fields.Integer(required=True)
    to_unit_id = fields.String(load_default=None)  # the supervisor's link needs it


class WarnedReader(Reader):
    to_unit_id = fields.String(required=True)


class ClockArmedReader(Reader):
    clock = fields.String(required=True)
    due_at = fields.AwareDateTime(required=True)


class UnitRepliedReader(Reader):
    """A unit's SMS reply as notify parsed it; who sent it was checked there (a contact)."""

    issue_id = fields.String(required=True)
    assignment = fields.Integer(required=True)
    unit_id = fields.String(required=True)
    action = fields.String(required=True, validate=validate.OneOf(REPLY_ACTIONS))
    text = fields.String(load_default="")
    inbound_id = fields.String(required=True)


EVENT_READERS = {
    "issue.submitted": SubmittedReader(),
    "issue.feedback_given": FeedbackReader(),
    "issue.escalated": EscalatedReader(),
    "issue.warned": WarnedReader(),
    "issue.clock_armed": ClockArmedReader(),
    "unit.replied": UnitRepliedReader(),
}
