"""Dispatch's schemas: unit actions over HTTP, the payloads it publishes, the reader for submissions."""
from __future__ import annotations

from marshmallow import EXCLUDE, Schema, fields, validate

from services.dispatch.events import IssueClaimed, IssueDispatched, IssueResolved
from shared.directory import TIERS
from shared.outbox import PayloadWriter


class ClaimSchema(Schema):
    unit_id = fields.String(required=True, validate=validate.Length(min=1, max=64))


class ResolveSchema(Schema):
    unit_id = fields.String(required=True, validate=validate.Length(min=1, max=64))
    resolution = fields.String(required=True, validate=validate.Length(min=1, max=2000))


class ContactSchema(Schema):
    name = fields.String(required=True)
    phone = fields.String(required=True)


class IssueDispatchedSchema(Schema):
    issue_id = fields.String(required=True)
    assignment = fields.Integer(required=True, validate=validate.Range(min=1))
    unit_id = fields.String(required=True)
    unit_name = fields.String(required=True)
    unit_contacts = fields.List(fields.Nested(ContactSchema), required=True)
    supervisor_id = fields.String(required=True, allow_none=True)
    tier = fields.String(required=True, validate=validate.OneOf(TIERS))
    category = fields.String(required=True)
    category_name = fields.String(required=True)
    street = fields.String(required=True)
    place_id = fields.String(required=True)
    place_name = fields.String(required=True)
    dispatched_at = fields.AwareDateTime(required=True)


class IssueClaimedSchema(Schema):
    issue_id = fields.String(required=True)
    assignment = fields.Integer(required=True)
    unit_id = fields.String(required=True)
    tier = fields.String(required=True, validate=validate.OneOf(TIERS))
    street = fields.String(required=True)
    claimed_at = fields.AwareDateTime(required=True)


class IssueResolvedSchema(Schema):
    issue_id = fields.String(required=True)
    assignment = fields.Integer(required=True)
    unit_id = fields.String(required=True)
    resolution = fields.String(required=True)
    resolved_at = fields.AwareDateTime(required=True)


write_payload = PayloadWriter({IssueDispatched: IssueDispatchedSchema(), IssueClaimed: IssueClaimedSchema(),
                               IssueResolved: IssueResolvedSchema()})


class LocationReader(Schema):
    class Meta:
        unknown = EXCLUDE

    street = fields.String(required=True)
    community = fields.String(load_default=None)
    compound = fields.String(load_default=None)
    building = fields.String(load_default=None)


class SubmittedReader(Schema):
    class Meta:
        unknown = EXCLUDE

    category = fields.String(load_default=None, allow_none=True)
    location = fields.Nested(LocationReader, required=True)


EVENT_READERS = {"issue.submitted": SubmittedReader()}
