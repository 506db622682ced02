"""Event payloads: one way to write them, one way to read them.

Writers are strict: a publisher's schema is built from its event dataclass's own type hints
(`payload_schema`), with validation added per field where the type alone says too little,
and a payload that schema refuses is a bug that never reaches the outbox. Readers are
tolerant: a consumer's `Reader` ignores fields it does not know, so a publisher may add one
without breaking anybody.
"""

from __future__ import annotations

import dataclasses
import math
import types
import typing
from collections.abc import Callable
from datetime import datetime

from marshmallow import EXCLUDE, Schema, ValidationError, fields
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


# What each plain field type accepts without conversion, as dump() writes it.
_IS = {
    fields.String: lambda v: isinstance(v, str),
    fields.Integer: lambda v: isinstance(v, int) and not isinstance(v, bool),
    fields.Float: lambda v: (
        isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)
    ),
    fields.Boolean: lambda v: isinstance(v, bool),
    fields.AwareDateTime: lambda v: isinstance(v, str) and _aware(v),
    fields.Dict: lambda v: isinstance(v, dict),
    fields.Raw: lambda v: True,
}


def _aware(text: str) -> bool:
    try:
        return datetime.fromisoformat(text).tzinfo is not None
    except ValueError:
        return False


def quick_check(schema: Schema) -> Callable[[dict], bool] | None:
    """A check that passes only payloads `schema.validate` accepts, a dozen times cheaper:
    types compared, not converted, and each field's own validators called. A payload it
    does not pass may still be valid (an int where a float goes…): the schema decides then.
    None if a field is of a kind it does not know (nested, email…)."""
    checks = []
    for name, f in schema.fields.items():
        is_ = _plain(f)
        if is_ is None:
            return None
        checks.append((name, is_, f.allow_none, tuple(f.validators)))

    def passes(payload: dict) -> bool:
        if len(payload) != len(checks):
            return False
        try:
            for name, is_, allow_none, validators in checks:
                value = payload[name]
                if value is None:
                    if not allow_none:
                        return False
                    continue  # marshmallow does not validate None either
                if not is_(value):
                    return False
                for validator in validators:
                    if validator(value) is False:
                        return False
        except (KeyError, ValidationError):
            return False
        return True

    return passes


def _plain(f: Field) -> Callable[[object], bool] | None:
    """The type test for `f`, None if it is not one of the plain kinds."""
    if type(f) is fields.List:
        inner = _plain(f.inner)
        if inner is None or f.inner.validators or f.inner.allow_none:
            return None
        return lambda v: isinstance(v, list) and all(x is not None and inner(x) for x in v)
    if type(f) is fields.Dict and (f.key_field or f.value_field):
        return None
    if type(f) is fields.AwareDateTime and f.validators:
        return None  # they would be called with the datetime, not the text dump() wrote
    return _IS.get(type(f))


def _as_is(kind: type) -> Callable[[object], object]:
    """A value of exactly `kind` as dump() writes it: itself (bool is not an int here)."""
    return lambda v: v if type(v) is kind else _REFUSED


def _iso(v: object) -> object:
    return v.isoformat() if isinstance(v, datetime) else _REFUSED


_REFUSED = object()  # a value the quick dump does not write as dump() would: dump() writes it
_DUMP = {
    fields.String: _as_is(str),
    fields.Integer: _as_is(int),
    fields.Float: _as_is(float),
    fields.Boolean: _as_is(bool),
    fields.AwareDateTime: _iso,
    fields.Dict: lambda v: dict(v) if type(v) is dict else _REFUSED,
    fields.Raw: lambda v: v,
}


def quick_dump(schema: Schema) -> Callable[[object], dict | None] | None:
    """What `schema.dump` writes of an event, by a plain loop over its fields: a value of
    exactly its field's type taken as it is, a datetime as its ISO text, a dict or list
    copied; None when a value is anything else (dump() converts it then). None if a field
    is of a kind it does not know or renamed."""
    writers = []
    for name, f in schema.fields.items():
        write = _dumper(f)
        if write is None or f.data_key not in (None, name) or f.attribute not in (None, name):
            return None
        writers.append((name, write))

    def dump(event: object) -> dict | None:
        payload = {}
        for name, write in writers:
            value = getattr(event, name)
            if value is not None:
                value = write(value)
                if value is _REFUSED:
                    return None
            payload[name] = value
        return payload

    return dump


def _dumper(f: Field) -> Callable[[object], object] | None:
    if type(f) is fields.List:
        inner = _dumper(f.inner)
        if inner is None:
            return None

        def each(v: object) -> object:
            if type(v) is not list:
                return _REFUSED
            out = [None if x is None else inner(x) for x in v]
            return _REFUSED if _REFUSED in out else out

        return each
    if type(f) is fields.Dict and (f.key_field or f.value_field):
        return None
    if type(f) is fields.AwareDateTime and f.format not in (None, "iso"):
        return None
    return _DUMP.get(type(f))


class PayloadWriter:
    """Turns a service's event dataclass into (type, issue_id, payload), strictly."""

    def __init__(self, *event_classes: type, checks: dict[type, dict[str, Field]] | None = None):
        checks = checks or {}
        self._schemas = {cls: payload_schema(cls, **checks.get(cls, {})) for cls in event_classes}
        self._names = {cls: [f.name for f in dataclasses.fields(cls)] for cls in event_classes}
        self._quick = {cls: quick_check(schema) for cls, schema in self._schemas.items()}
        self._dump = {cls: quick_dump(schema) for cls, schema in self._schemas.items()}

    @property
    def event_classes(self) -> tuple[type, ...]:
        return tuple(self._schemas)

    def schema_for(self, event_cls: type) -> Schema:
        return self._schemas[event_cls]

    def __call__(self, event) -> tuple[str, str, dict]:
        schema = self._schemas[type(event)]
        dump = self._dump[type(event)]
        payload = dump(event) if dump is not None else None  # a fifth of what dump() costs
        if payload is None:
            # the fields as they are: dump() builds the payload's own containers, so the
            # deep copy dataclasses.asdict() makes of every list and dict is not needed
            payload = schema.dump({n: getattr(event, n) for n in self._names[type(event)]})
        quick = self._quick[type(event)]
        if quick is None or not quick(payload):  # most never need the whole schema's load
            errors = schema.validate(payload)
            if errors:
                raise ValueError(f"{event.type} payload refused by its own schema: {errors}")
        return event.type, event.issue_id, payload
