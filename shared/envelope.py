"""The event envelope every message on the bus travels in.

Writers are strict (every field present, payload already validated by the
publisher's schema); readers are tolerant (unknown fields are ignored).
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime

from marshmallow import EXCLUDE, Schema, ValidationError, fields, validate

ENVELOPE_VERSION = 1


class MalformedMessage(Exception):
    """A message that is not a valid envelope or payload; it goes to the dead-letter queue."""


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Envelope:
    type: str
    issue_id: str
    producer: str
    payload: dict
    id: str = field(default_factory=lambda: str(uuid.uuid4()))
    occurred_at: datetime = field(default_factory=utcnow)
    correlation_id: str = ""
    causation_id: str | None = None

    @classmethod
    def caused_by(cls, cause: Envelope | None, **kwargs) -> Envelope:
        """A new event in the same conversation as `cause` (or the first of a new one)."""
        event_id = str(uuid.uuid4())
        if cause is None:
            return cls(
                id=event_id, correlation_id=kwargs.pop("correlation_id", None) or event_id, **kwargs
            )
        kwargs.pop("correlation_id", None)
        return cls(
            id=event_id, correlation_id=cause.correlation_id, causation_id=cause.id, **kwargs
        )

    def to_json(self) -> str:
        return json.dumps(_WRITER.dump(self), ensure_ascii=False, separators=(",", ":"))


class EnvelopeSchema(Schema):
    class Meta:
        unknown = EXCLUDE

    id = fields.UUID(required=True)
    type = fields.String(required=True, validate=validate.Regexp(r"^[a-z_]+(\.[a-z_]+)+$"))
    occurred_at = fields.AwareDateTime(required=True, default_timezone=UTC)
    issue_id = fields.String(required=True, validate=validate.Length(min=1, max=64))
    correlation_id = fields.String(required=True, validate=validate.Length(min=1, max=64))
    causation_id = fields.String(load_default=None, allow_none=True)
    producer = fields.String(required=True)
    payload = fields.Dict(required=True)
    version = fields.Integer(load_default=ENVELOPE_VERSION, dump_default=ENVELOPE_VERSION)


_READER = _WRITER = EnvelopeSchema()


def parse(body: bytes | str) -> Envelope:
    """Read an envelope from the wire, or raise MalformedMessage saying what is wrong."""
    try:
        raw = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise MalformedMessage(f"not JSON: {exc}") from None
    if not isinstance(raw, dict):
        raise MalformedMessage("envelope is not a JSON object")
    try:
        data = _READER.load(raw)
    except ValidationError as exc:
        raise MalformedMessage(f"invalid envelope: {exc.messages}") from None
    data.pop("version", None)
    data["id"] = str(data["id"])
    return Envelope(**data)
