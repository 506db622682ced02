"""Intake's schemas: the submission body, the payload it publishes, readers for what it consumes."""
from __future__ import annotations

import re
import unicodedata

from marshmallow import EXCLUDE, Schema, ValidationError, fields, validate, validates_schema

from services.intake.events import IssueSubmitted
from shared.directory import Directory
from shared.outbox import PayloadWriter

CHANNELS = ("hotline", "app", "web", "wechat", "desk", "work_day")
_CN_MOBILE = re.compile(r"^(?:\+?86)?(1[3-9]\d{9})$")
_E164 = re.compile(r"^\+[1-9]\d{7,14}$")


def normalize_phone(value: str) -> str:
    """A Chinese mobile number or an E.164 number, returned as E.164."""
    compact = re.sub(r"[\s-]", "", value)
    mobile = _CN_MOBILE.match(compact)
    if mobile:
        return "+86" + mobile.group(1)
    if _E164.match(compact):
        return compact
    raise ValidationError("not a Chinese mobile number (11 digits, 13x–19x) nor an E.164 number")


class PhoneField(fields.String):
    def _deserialize(self, value, attr, data, **kwargs):
        return normalize_phone(super()._deserialize(value, attr, data, **kwargs))


class NfcString(fields.String):
    def _deserialize(self, value, attr, data, **kwargs):
        return unicodedata.normalize("NFC", super()._deserialize(value, attr, data, **kwargs)).strip()


class ReporterSchema(Schema):
    name = NfcString(required=True, validate=validate.Length(min=1, max=100))
    phone = PhoneField(required=True)


def submission_schema(places: Directory) -> Schema:
    """The POST /v1/issues body, checked against the directory's streets, communities and categories."""

    class LocationSchema(Schema):
        street = fields.String(required=True, validate=validate.OneOf(places.streets))
        community = fields.String(validate=validate.Length(min=1, max=100))
        compound = fields.String(validate=validate.Length(min=1, max=100))
        building = fields.String(validate=validate.Length(min=1, max=100))
        address = NfcString(validate=validate.Length(min=1, max=500))

        @validates_schema
        def _community_in_street(self, data, **_kwargs):
            community = data.get("community")
            if community is None or data.get("street") not in places.streets:
                return
            place = places.places.get(community)
            if place is None or place.kind != "community" or place.parent != data["street"]:
                raise ValidationError(f"no community {community!r} in street {data['street']!r}",
                                      field_name="community")

    class SubmissionSchema(Schema):
        channel = fields.String(required=True, validate=validate.OneOf(CHANNELS))
        description = NfcString(required=True, validate=validate.Length(min=1, max=5000))
        category = fields.String(load_default=None, validate=validate.OneOf(tuple(places.categories)))
        location = fields.Nested(LocationSchema, required=True)
        reporter = fields.Nested(ReporterSchema, load_default=None)

    return SubmissionSchema()


class IssueSubmittedSchema(Schema):
    issue_id = fields.String(required=True)
    channel = fields.String(required=True, validate=validate.OneOf(CHANNELS))
    description = fields.String(required=True, validate=validate.Length(min=1, max=5000))
    category = fields.String(allow_none=True, required=True)
    location = fields.Dict(required=True)
    submitted_at = fields.AwareDateTime(required=True)


write_payload = PayloadWriter({IssueSubmitted: IssueSubmittedSchema()})


class _Reader(Schema):
    class Meta:
        unknown = EXCLUDE


class DispatchedReader(_Reader):
    unit_id = fields.String(required=True)
    unit_name = fields.String(load_default="")
    tier = fields.String(load_default=None)
    category = fields.String(load_default=None)
    assignment = fields.Integer(load_default=1)


class ClaimedReader(_Reader):
    unit_id = fields.String(required=True)


class ResolvedReader(_Reader):
    unit_id = fields.String(required=True)
    resolution = fields.String(load_default="")


class EscalatedReader(_Reader):
    level = fields.Integer(required=True)
    reason = fields.String(required=True)
    to_unit_id = fields.String(required=True)
    to_unit_name = fields.String(load_default="")


class NotificationReader(_Reader):
    recipient_unit_id = fields.String(load_default=None)
    channel = fields.String(load_default="sms")
    reason = fields.String(load_default=None)


EVENT_READERS = {
    "issue.dispatched": DispatchedReader(),
    "issue.claimed": ClaimedReader(),
    "issue.resolved": ResolvedReader(),
    "issue.escalated": EscalatedReader(),
    "notification.sent": NotificationReader(),
    "notification.failed": NotificationReader(),
}
