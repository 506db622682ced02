"""Ceiling 1: the least a Flask + marshmallow POST endpoint costs on this machine.

It parses the same JSON body as POST /v1/issues with a schema of the same size and
validators, and answers 201 with JSON, but touches no database and no broker.
Served by gunicorn exactly like the services (sync workers, 2 of them):
    python -m gunicorn -w 2 -k sync --no-control-socket -b 127.0.0.1:PORT bench.bare_app:app
"""

from __future__ import annotations

import re
import unicodedata
import uuid

from flask import Flask, request
from marshmallow import Schema, ValidationError, fields, validate

CHANNELS = ("hotline", "app", "web", "wechat", "desk", "work_day")
STREETS = ("baianba", "wuqiao", "taibai", "zhonggulou")
CATEGORIES = (
    "urban_management",
    "social_assistance",
    "property_management",
    "traffic_parking",
    "public_safety",
    "neighbour_dispute",
    "other",
)
_CN_MOBILE = re.compile(r"^(?:\+?86)?(1[3-9]\d{9})$")


class PhoneField(fields.String):
    def _deserialize(self, value, attr, data, **kwargs):
        compact = re.sub(r"[\s-]", "", super()._deserialize(value, attr, data, **kwargs))
        mobile = _CN_MOBILE.match(compact)
        if not mobile:
            raise ValidationError("not a Chinese mobile number")
        return "+86" + mobile.group(1)


class NfcString(fields.String):
    def _deserialize(self, value, attr, data, **kwargs):
        return unicodedata.normalize(
            "NFC", super()._deserialize(value, attr, data, **kwargs)
        ).strip()


class LocationSchema(Schema):
    street = fields.String(required=True, validate=validate.OneOf(STREETS))
    community = fields.String(validate=validate.Length(min=1, max=100))
    compound = fields.String(validate=validate.Length(min=1, max=100))
    building = fields.String(validate=validate.Length(min=1, max=100))
    address = NfcString(validate=validate.Length(min=1, max=500))


class ReporterSchema(Schema):
    name = NfcString(required=True, validate=validate.Length(min=1, max=100))
    phone = PhoneField(required=True)


class SubmissionSchema(Schema):
    channel = fields.String(required=True, validate=validate.OneOf(CHANNELS))
    description = NfcString(required=True, validate=validate.Length(min=1, max=5000))
    category = fields.String(load_default=None, validate=validate.OneOf(CATEGORIES))
    location = fields.Nested(LocationSchema, required=True)
    reporter = fields.Nested(ReporterSchema, load_default=None)


app = Flask("loudong.bench.bare")
app.config["MAX_CONTENT_LENGTH"] = 64 * 1024
submission_schema = SubmissionSchema()


@app.post("/v1/issues")
def submit():
    try:
        submission = submission_schema.load(request.get_json())
    except ValidationError as exc:
        return {"errors": exc.normalized_messages()}, 422
    return {"id": str(uuid.uuid4()), "status": "received", "channel": submission["channel"]}, 201


@app.get("/healthz")
def healthz():
    return {"status": "ok"}
