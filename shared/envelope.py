"""The event envelope every message on the bus travels in.

Writers are strict (every field present, payload already validated by the
publisher's schema); readers are tolerant (unknown fields are ignored).
"""

from __future__ import annotations

import json
import re
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
        """What EnvelopeSchema dumps, written out by hand: every event is written once and
        read several times, and marshmallow's dump of these nine fields cost more than the
        JSON encoding itself."""
        return json.dumps(
            {
                "id": self.id,
                "type": self.type,
                "occurred_at": self.occurred_at.isoformat(),
                "issue_id": self.issue_id,
                "correlation_id": self.correlation_id,
                "causation_id": self.causation_id,
                "producer": self.producer,
                "payload": self.payload,
                "version": ENVELOPE_VERSION,
            },
            ensure_ascii=False,
            separators=(",", ":"),
        )


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


_READER = EnvelopeSchema()
# What our own writers produce, to the letter: the quick path of parse() takes only these.
_CANONICAL_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_TYPE = re.compile(r"[a-z_]+(\.[a-z_]+)+")
_ISO_AWARE = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{6})?[+-]\d\d:\d\d")


def parse(body: bytes | str) -> Envelope:
    """Read an envelope from the wire, or raise MalformedMessage saying what is wrong."""
    try:
        raw = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise MalformedMessage(f"not JSON: {exc}") from None
    if not isinstance(raw, dict):
        raise MalformedMessage("envelope is not a JSON object")
    quick = _as_written(raw)
    if quick is not None:
        return quick
    try:
        data = _READER.load(raw)
    except ValidationError as exc:
        raise MalformedMessage(f"invalid envelope: {exc.messages}") from None
    data.pop("version", None)
    data["id"] = str(data["id"])
    return Envelope(**data)


def _as_written(raw: dict) -> Envelope | None:
    """The envelope, if `raw` is exactly as Envelope.to_json() writes one; else None, and
    EnvelopeSchema decides (what it accepts, and the error naming what is wrong). Nearly
    every message takes this path, at a fraction of the schema's cost."""
    try:
        event_id, event_type, occurred_at = raw["id"], raw["type"], raw["occurred_at"]
        issue_id, correlation_id = raw["issue_id"], raw["correlation_id"]
        causation_id, producer, payload = raw["causation_id"], raw["producer"], raw["payload"]
    except KeyError:
        return None
    if not (
        type(event_id) is str
        and _CANONICAL_UUID.fullmatch(event_id)
        and type(event_type) is str
        and _TYPE.fullmatch(event_type)
        and type(occurred_at) is str
        and _ISO_AWARE.fullmatch(occurred_at)
        and type(issue_id) is str
        and 1 <= len(issue_id) <= 64
        and type(correlation_id) is str
        and 1 <= len(correlation_id) <= 64
        and (causation_id is None or type(causation_id) is str)
        and type(producer) is str
        and type(payload) is dict
        and raw.get("version", ENVELOPE_VERSION) == ENVELOPE_VERSION
        and type(raw.get("version", ENVELOPE_VERSION)) is int
    ):
        return None
    try:
        when = datetime.fromisoformat(occurred_at)
    except ValueError:  # 2026-02-30 and the like: the schema says so
        return None
    return Envelope(
        type=event_type,
        issue_id=issue_id,
        producer=producer,
        payload=payload,
        id=event_id,
        occurred_at=when,
        correlation_id=correlation_id,
        causation_id=causation_id,
    )
