"""Dispatch's schemas: unit and supervisor actions over HTTP, the payloads it publishes,
readers for the events it consumes."""
from __future__ import annotations

from marshmallow import EXCLUDE, Schema, fields, validate

from services.dispatch import events
from services.dispatch.model import RETURN_REASONS
from district.directory import TIERS
from shared.outbox import PayloadWriter, payload_schema


class ReturnSchema(Schema):
    reason = fields.String(required=True, validate=validate.OneOf(RETURN_REASONS))
    note = fields.String(validate=validate.Length(max=2000))


class NoteSchema(Schema):
    note = fields.String(required=True, validate=validate.Length(min=1, max=2000))


class EmptySchema(Schema):
    pass


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
    held_on = fields.Date(required=True)
    place = fields.String(required=True, validate=validate.Length(min=1, max=200))
    attending_units = fields.List(fields.String(), required=True, validate=validate.Length(min=1, max=50))


_tier = fields.String(required=True, validate=validate.OneOf(TIERS))
write_payload = PayloadWriter({
    events.IssueDispatched: payload_schema(  # strict: a unit's contacts or webhook would be refused
        events.IssueDispatched, tier=_tier,
        role=fields.String(required=True, validate=validate.OneOf(("lead", "co")))),
    events.IssueClaimed: payload_schema(events.IssueClaimed, tier=_tier),
    events.IssueReturned: payload_schema(
        events.IssueReturned, reason=fields.String(required=True, validate=validate.OneOf(RETURN_REASONS))),
    events.ArbitrationNeeded: payload_schema(events.ArbitrationNeeded),
    events.TriageNeeded: payload_schema(events.TriageNeeded),
    events.ProgressNoted: payload_schema(events.ProgressNoted),
    events.IssueResolved: payload_schema(events.IssueResolved),
    events.IssueClosed: payload_schema(
        events.IssueClosed, reason=fields.String(required=True, validate=validate.OneOf(
            ("satisfied", "no_feedback", "with_linked")))),
    events.IssueReopened: payload_schema(events.IssueReopened, tier=_tier),
    events.IssueRetiered: payload_schema(events.IssueRetiered, from_tier=_tier, to_tier=_tier),
    events.IssueLinked: payload_schema(events.IssueLinked),
    events.AwaitingResident: payload_schema(events.AwaitingResident),
    events.ResidentReplied: payload_schema(events.ResidentReplied),
    events.UnitTokenIssued: payload_schema(events.UnitTokenIssued),
})


class _Reader(Schema):
    class Meta:
        unknown = EXCLUDE


class LocationReader(_Reader):
    street = fields.String(required=True)
    community = fields.String(load_default=None)
    compound = fields.String(load_default=None)
    building = fields.String(load_default=None)


class SubmittedReader(_Reader):
    description = fields.String(load_default="")
    category = fields.String(load_default=None, allow_none=True)
    location = fields.Nested(LocationReader, required=True)
    attributes = fields.Dict(load_default=dict)
    meeting_id = fields.String(load_default=None, allow_none=True)
    promised_by = fields.AwareDateTime(load_default=None, allow_none=True)
    submitted_at = fields.AwareDateTime(load_default=None)


class FeedbackReader(_Reader):
    satisfied = fields.Boolean(required=True)
    rating = fields.Integer(load_default=None)


class EscalatedReader(_Reader):
    level = fields.Integer(required=True)


class ClockArmedReader(_Reader):
    clock = fields.String(required=True)
    due_at = fields.AwareDateTime(required=True)


EVENT_READERS = {
    "issue.submitted": SubmittedReader(),
    "issue.feedback_given": FeedbackReader(),
    "issue.escalated": EscalatedReader(),
    "issue.clock_armed": ClockArmedReader(),
}
