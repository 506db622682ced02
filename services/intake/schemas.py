"""Intake's schemas: what gateways send, the payloads it publishes, readers for what it consumes."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from datetime import datetime

from marshmallow import Schema, ValidationError, fields, post_load, validate, validates_schema

from district.directory import Directory
from services.intake.events import (
    FeedbackGiven,
    FeedbackRequested,
    IssueSubmitted,
    ResidentAcknowledged,
    ResidentClosed,
)
from shared.inputs import SaneDateTime
from shared.payloads import PayloadWriter, Reader

CHANNELS = ("hotline", "app", "web", "wechat", "desk", "work_day")
STATUSES = ("received", "dispatched", "claimed", "resolved", "closed")
CHINA_LAT, CHINA_LON = (18.0, 53.6), (73.5, 135.1)  # the mainland's bounding box
_CN_MOBILE = re.compile(r"^(?:\+?86)?(1[3-9]\d{9})$")
_E164 = re.compile(r"^\+[1-9]\d{7,14}$")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u2028\u2029]")
_CONTROL_ONE_LINE = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")


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


class Text(fields.String):
    """Unicode NFC, trimmed, without control characters (line breaks only where `multiline`)."""

    def __init__(self, *args, multiline: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        self._control = _CONTROL if multiline else _CONTROL_ONE_LINE

    def _deserialize(self, value, attr, data, **kwargs):
        text = unicodedata.normalize(
            "NFC", super()._deserialize(value, attr, data, **kwargs)
        ).strip()
        if self._control.search(text):
            raise ValidationError("contains control characters")
        return text


def _slug(max_length: int = 100) -> Text:
    return Text(validate=validate.Length(min=1, max=max_length))


class ReporterSchema(Schema):
    name = Text(required=True, validate=validate.Length(min=1, max=100))
    phone = PhoneField(required=True)
    email = fields.Email(load_default=None, validate=validate.Length(max=254))
    consent = fields.Boolean(load_default=False)


# The client's own attributes: FixMyStreet sends about a dozen, and a value may be as long as
# Open311's description, which FixMyStreet repeats in attribute[description].
MAX_EXTRA_ATTRIBUTES, MAX_EXTRA_VALUE = 20, 4000
_EXTRA_CODE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$")


def _unanswered(answer) -> bool:
    """Open311: "optional means empty param == absent param"; clients send blank fields as ''."""
    return answer is None or (isinstance(answer, str) and not answer.strip())


def check_attributes(directory: Directory, category: str | None, sent: dict) -> tuple[dict, dict]:
    """(answers to the category's extra questions, the client's own ones it does not ask for).
    Answers are strict: right types, required ones present. The client's own (FixMyStreet's
    fixmystreet_id, report_url, easting...) are kept as text, bounded in number and size."""
    questions = {a.code: a for a in directory.categories[category].attributes} if category else {}
    own = {
        code: value
        for code, value in sent.items()
        if code not in questions and not _unanswered(value)
    }
    if len(own) > MAX_EXTRA_ATTRIBUTES:
        raise ValidationError(
            [
                f"at most {MAX_EXTRA_ATTRIBUTES} attributes that the category does not ask "
                f"for; {len(own)} were sent"
            ],
            field_name="attributes",
        )
    errors, answers = {}, {}
    for code, question in questions.items():
        answer = sent.get(code)
        if _unanswered(answer):
            if question.required:
                errors[code] = ["required"]
        elif question.datatype == "number" and not re.fullmatch(r"-?\d+(\.\d+)?", str(answer)):
            errors[code] = ["must be a number"]
        elif question.datatype.endswith("valuelist") and not set(str(answer).split(",")) <= {
            k for k, _n in question.values
        }:
            errors[code] = [f"must be one of {', '.join(k for k, _n in question.values)}"]
        else:
            answers[code] = str(answer)
    extras = {}
    for code, value in own.items():
        problem, extras[code] = _own_attribute(code, value)
        if problem:
            errors[code[:64]] = [problem]
    if errors:
        raise ValidationError(errors, field_name="attributes")
    return answers, extras


def _own_attribute(code: str, value) -> tuple[str | None, str]:
    """(what is wrong with one of the client's own attributes or None, its value as NFC text)."""
    if not _EXTRA_CODE.match(code):
        return (
            "not a question of this category; "
            "a name of the client's own is 1–64 letters, digits, _ . : -"
        ), ""
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        return "must be text or a number", ""
    text = unicodedata.normalize("NFC", str(value)).strip()
    if len(text) > MAX_EXTRA_VALUE:
        return f"at most {MAX_EXTRA_VALUE} characters", text
    if _CONTROL.search(text):  # line breaks are fine: FixMyStreet's closest_address has them
        return "contains control characters", text
    return None, text


def submission_schema(places: Directory, clock: Callable[[], datetime]) -> Schema:
    """The POST /v1/issues body, checked against the directory's streets, communities and
    categories; `clock` tells a promised deadline in the past."""

    class LocationSchema(Schema):
        street = fields.String(required=True, validate=validate.OneOf(places.streets))
        community = _slug()
        compound = _slug()
        building = _slug()
        address = Text(validate=validate.Length(min=1, max=500))
        lat = fields.Float(
            validate=validate.Range(*CHINA_LAT, error="must be inside China (18–53.6)")
        )
        lon = fields.Float(
            validate=validate.Range(*CHINA_LON, error="must be inside China (73.5–135.1)")
        )

        @validates_schema
        def _consistent(self, data, **_kwargs):
            if ("lat" in data) != ("lon" in data):
                raise ValidationError("give both lat and lon, or neither", field_name="lat")
            community = data.get("community")
            if community is None or data.get("street") not in places.streets:
                return
            place = places.places.get(community)
            if place is None or place.kind != "community" or place.parent != data["street"]:
                raise ValidationError(
                    f"no community {community!r} in street {data['street']!r}",
                    field_name="community",
                )

    class SubmissionSchema(Schema):
        channel = fields.String(required=True, validate=validate.OneOf(CHANNELS))
        title = Text(validate=validate.Length(min=1, max=200))
        description = Text(required=True, multiline=True, validate=validate.Length(min=1, max=5000))
        category = fields.String(
            load_default=None, validate=validate.OneOf(tuple(places.categories))
        )
        location = fields.Nested(LocationSchema, required=True)
        reporter = fields.Nested(ReporterSchema, load_default=None)
        media_urls = fields.List(
            fields.Url(schemes={"http", "https"}, validate=validate.Length(max=2000)),
            load_default=list,
            validate=validate.Length(max=10),
        )
        external_id = Text(validate=validate.Length(min=1, max=100))
        attributes = fields.Dict(
            keys=fields.String(),
            values=fields.Raw(),
            load_default=dict,
            metadata={
                "description": "answers to the category's questions "
                "(GET /open311/v2/services/<code>.json); "
                f"other keys, at most {MAX_EXTRA_ATTRIBUTES}, are kept as the gateway's own and "
                "shown to it alone"
            },
        )
        meeting_id = fields.String(validate=validate.Length(min=1, max=36))
        promised_by = SaneDateTime()

        @validates_schema
        def _work_day(self, data, **_kwargs):
            if data.get("channel") == "work_day" and not data.get("meeting_id"):
                raise ValidationError(
                    "an issue raised at a work day names its meeting", field_name="meeting_id"
                )
            if data.get("channel") != "work_day" and (
                data.get("meeting_id") or data.get("promised_by")
            ):
                raise ValidationError(
                    "only issues raised at a work day (channel work_day) carry a meeting",
                    field_name="meeting_id",
                )
            if data.get("promised_by") and data["promised_by"] <= clock():
                raise ValidationError(
                    "the promised deadline is in the past", field_name="promised_by"
                )

        @post_load
        def _answers(self, data, **_kwargs):
            data["attributes"], data["extra_attributes"] = check_attributes(
                places, data.get("category"), data.get("attributes") or {}
            )
            return data

    return SubmissionSchema()


class FeedbackSchema(Schema):
    satisfied = fields.Boolean(required=True, truthy={True}, falsy={False})  # JSON true/false only
    rating = fields.Integer(required=True, strict=True, validate=validate.Range(1, 5))
    comment = Text(multiline=True, validate=validate.Length(max=2000))


class IssueQuerySchema(Schema):
    status = fields.String(validate=validate.OneOf(STATUSES))
    street = fields.String(validate=validate.Length(max=64))
    category = fields.String(validate=validate.Length(max=32))
    tier = fields.String(validate=validate.OneOf(("private", "small", "big", "hard")))
    since = SaneDateTime()
    until = SaneDateTime()
    limit = fields.Integer(load_default=50, validate=validate.Range(1, 200))
    cursor = fields.String(validate=validate.Length(max=200))


write_payload = PayloadWriter(
    IssueSubmitted,
    FeedbackGiven,
    FeedbackRequested,
    ResidentAcknowledged,
    ResidentClosed,
    checks={
        IssueSubmitted: {
            "channel": fields.String(validate=validate.OneOf(CHANNELS)),
            "description": fields.String(validate=validate.Length(min=1, max=5000)),
        },
        FeedbackGiven: {"rating": fields.Integer(validate=validate.Range(1, 5))},
    },
)


class DispatchedReader(Reader):
    role = fields.String(load_default="lead")
    unit_id = fields.String(required=True)
    unit_name = fields.String(load_default="")
    tier = fields.String(load_default=None)
    category = fields.String(load_default=None)
    assignment = fields.Integer(load_default=1)
    claim_due_at = fields.AwareDateTime(load_default=None, allow_none=True)  # a lead's


class ClaimedReader(Reader):
    role = fields.String(load_default="lead")
    unit_id = fields.String(required=True)
    assignment = fields.Integer(load_default=None)


class ResolvedReader(Reader):
    role = fields.String(load_default="lead")
    unit_id = fields.String(required=True)
    assignment = fields.Integer(load_default=None)
    resolution = fields.String(load_default="")
    linked_to = fields.String(load_default=None, allow_none=True)


class EscalatedReader(Reader):
    level = fields.Integer(required=True)
    reason = fields.String(required=True)
    to_unit_id = fields.String(required=True)
    to_unit_name = fields.String(load_default="")


class ReturnedReader(Reader):
    unit_id = fields.String(required=True)
    assignment = fields.Integer(load_default=None)
    reason = fields.String(required=True)


class NotedReader(Reader):
    unit_id = fields.String(required=True)
    note = fields.String(required=True)


class UrgedReader(Reader):
    by_unit_id = fields.String(required=True)
    by_unit_name = fields.String(load_default="")


class ClosedReader(Reader):
    reason = fields.String(required=True)


class ReopenedReader(Reader):
    tier = fields.String(required=True)


class RetieredReader(Reader):
    from_tier = fields.String(required=True)
    to_tier = fields.String(required=True)
    reason = fields.String(required=True)
    by_unit_id = fields.String(required=True)


class LinkedReader(Reader):
    primary_issue_id = fields.String(required=True)


class SupervisionOpenedReader(Reader):
    leader_id = fields.String(required=True)
    due_at = fields.AwareDateTime(required=True)


class SupervisionClosedReader(Reader):
    by_unit_id = fields.String(required=True)
    reason = fields.String(load_default="")


class ExtendedReader(Reader):
    clock = fields.String(required=True)
    by_unit_id = fields.String(required=True)
    reason = fields.String(load_default="")
    to_due = fields.AwareDateTime(required=True)


class ResidentWaitReader(Reader):
    unit_id = fields.String(required=True)
    note = fields.String(load_default="")


class ClockArmedReader(Reader):
    clock = fields.String(required=True)
    due_at = fields.AwareDateTime(required=True)


class NotificationReader(Reader):
    recipient_unit_id = fields.String(load_default=None)
    channel = fields.String(load_default="sms")
    reason = fields.String(load_default=None)


EVENT_READERS = {
    "issue.dispatched": DispatchedReader(),
    "issue.claimed": ClaimedReader(),
    "issue.returned": ReturnedReader(),
    "issue.progress_noted": NotedReader(),
    "issue.urged": UrgedReader(),
    "issue.resolved": ResolvedReader(),
    "issue.closed": ClosedReader(),
    "issue.reopened": ReopenedReader(),
    "issue.retiered": RetieredReader(),
    "issue.linked": LinkedReader(),
    "issue.escalated": EscalatedReader(),
    "issue.clock_armed": ClockArmedReader(),
    "issue.supervision_opened": SupervisionOpenedReader(),
    "issue.supervision_closed": SupervisionClosedReader(),
    "issue.deadline_extended": ExtendedReader(),
    "issue.awaiting_resident": ResidentWaitReader(),
    "issue.resident_replied": ResidentWaitReader(),
    "notification.sent": NotificationReader(),
    "notification.failed": NotificationReader(),
}
