"""Event payloads: one way to write them, one way to read them.

Writers are strict: a publisher's schema is built from its event dataclass's own type hints
(`payload_schema`), with validation added per field where the type alone says too little,
and a payload that schema refuses is a bug that never reaches the outbox. Readers are
tolerant: a consumer's `Reader` ignores fields it does not know, so a publisher may add one
without breaking anybody.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from datetime import datetime

from marshmallow import EXCLUDE, Schema, fields
from marshmallow.fields import Field

_FIELD_FOR = {
    str: fields.String,
    int: fields.Integer,
    float: fields.Float,
    bool: fields.Boolean,
    datetime: fields.AwareDateTime,
    dict: fields.Dict,
}


class Reader(Schema):
    """A consumer's view of a payload: the fields it needs; unknown ones are ignored."""

    class Meta:
        unknown = EXCLUDE


def payload_schema(event_cls: type, **checks: Field) -> Schema:
    """A strict schema for `event_cls`'s payload: every field required, None only where the
    type says `| None`; `checks` replace a field's schema to add validation (OneOf, Range…)."""
    hints = typing.get_type_hints(event_cls)
    declared = {}
    for f in dataclasses.fields(event_cls):
        declared[f.name] = checks[f.name] if f.name in checks else _field_for(hints[f.name])
        declared[f.name].required = True
        declared[f.name].allow_none = declared[f.name].allow_none or _optional(hints[f.name])
    return Schema.from_dict(declared, name=f"{event_cls.__name__}Payload")()


def _optional(hint) -> bool:
    return isinstance(hint, types.UnionType) and type(None) in typing.get_args(hint)


def _field_for(hint) -> Field:
    if isinstance(hint, types.UnionType):
        hint = next(arg for arg in typing.get_args(hint) if arg is not type(None))
    origin = typing.get_origin(hint) or hint
    if origin is list:
        args = typing.get_args(hint)
        return fields.List(_field_for(args[0]) if args else fields.Raw())
    return _FIELD_FOR[origin]()


class PayloadWriter:
    """Turns a service's event dataclass into (type, issue_id, payload), strictly."""

    def __init__(self, *event_classes: type, checks: dict[type, dict[str, Field]] | None = None):
        checks = checks or {}
        self._schemas = {cls: payload_schema(cls, **checks.get(cls, {})) for cls in event_classes}
        self._names = {cls: [f.name for f in dataclasses.fields(cls)] for cls in event_classes}

    @property
    def event_classes(self) -> tuple[type, ...]:
        return tuple(self._schemas)

    def schema_for(self, event_cls: type) -> Schema:
        return self._schemas[event_cls]

    def __call__(self, event) -> tuple[str, str, dict]:
        schema = self._schemas[type(event)]
        # the fields as they are: dump() builds the payload's own containers, so the deep
        # copy dataclasses.asdict() makes of every list and dict would be made for nothing
        payload = schema.dump({name: getattr(event, name) for name in self._names[type(event)]})
        errors = schema.validate(payload)
        if errors:
            raise ValueError(f"{event.type} payload refused by its own schema: {errors}")
        return event.type, event.issue_id, payload
