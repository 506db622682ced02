"""The payload writers' quick check passes only what their schemas accept, and passes the
payloads the services really write, so the whole schema is the exception, not the rule."""

from datetime import UTC, datetime
from types import SimpleNamespace

import pytest
from marshmallow import fields, validate

from services.dispatch.schemas import write_payload as dispatch_writer
from services.escalation.schemas import write_payload as escalation_writer
from services.intake.schemas import write_payload as intake_writer
from services.notify.schemas import write_payload as notify_writer
from shared.payloads import quick_check, quick_dump

WRITERS = (intake_writer, dispatch_writer, escalation_writer, notify_writer)
SCHEMAS = [
    pytest.param(writer.schema_for(cls), id=cls.__name__)
    for writer in WRITERS
    for cls in writer.event_classes
]
# A value of every kind, valid and not, for any field.
CANDIDATES = [
    None, "x", "", "taibai", "claim", "claim@2", "resolve@x", "a" * 6000, True, False, 0, 1, 3, 7,
    -1, 2**40, 1.5, float("nan"), float("inf"), {}, {"street": "taibai"}, [], ["x"], [1],
    [None], "2026-12-07T09:30:00+08:00", "2026-12-07T09:30:00", "not a time",
    datetime(2026, 12, 7, tzinfo=UTC),
]  # fmt: skip


def _choices(field) -> list:
    return [c for v in field.validators if isinstance(v, validate.OneOf) for c in v.choices]


def _valid(schema) -> dict:
    """A payload the schema accepts: for each field the first candidate it takes."""
    payload = dict.fromkeys(schema.fields)
    for name, field in schema.fields.items():
        for value in [*_choices(field), *CANDIDATES]:
            payload[name] = value
            if name not in schema.validate(payload):
                break
    assert schema.validate(payload) == {}, "no candidate value fits every field"
    return payload


@pytest.mark.parametrize("schema", SCHEMAS)
def test_the_quick_check_passes_a_payload_only_if_the_schema_accepts_it(schema):
    quick = quick_check(schema)
    assert quick is not None, "every event's fields are of kinds the quick check knows"
    valid = _valid(schema)
    assert quick(valid), "the quick check would send every payload to the schema"
    variants = [valid, dict(list(valid.items())[1:]), {**valid, "extra": 1}]
    for name, field in schema.fields.items():
        variants += [{**valid, name: value} for value in [*_choices(field), *CANDIDATES]]
    passed = 0
    for variant in variants:
        if quick(variant):
            passed += 1
            assert schema.validate(variant) == {}, f"quick check passed {variant}"
    assert passed > len(schema.fields)  # it passes more than the one valid payload


def test_a_payload_the_quick_check_refuses_is_judged_by_the_whole_schema():
    """Out of its range, a rating is refused by the schema's own message."""
    from services.intake.events import FeedbackGiven

    at = datetime(2026, 12, 7, 9, 30, tzinfo=UTC)
    event = FeedbackGiven(issue_id="i-1", satisfied=False, rating=9, given_at=at)
    with pytest.raises(ValueError, match="rating"):
        intake_writer(event)
    assert intake_writer(FeedbackGiven(issue_id="i-1", satisfied=True, rating=5, given_at=at))


# Values as an event's fields hold them, before dump(): of every type, exact or convertible.
NATIVE = [
    None, "x", "", 3, 3.0, 2**40, True, datetime(2026, 12, 7, 9, 30, tzinfo=UTC),
    datetime(2026, 12, 7, 9, 30), {}, {"a": [1]}, [], ["x"], [1], [None],
    [datetime(2026, 12, 7, tzinfo=UTC)], ("x",),
]  # fmt: skip


def _native(schema) -> dict:
    """A valid payload's values as an event holds them: times as datetimes, not text."""
    values = _valid(schema)
    for name, field in schema.fields.items():
        if isinstance(field, fields.DateTime) and isinstance(values[name], str):
            values[name] = datetime.fromisoformat(values[name])
        if isinstance(field, fields.Float) and values[name] is not None:
            values[name] = float(values[name])
    return values


@pytest.mark.parametrize("schema", SCHEMAS)
def test_the_quick_dump_writes_what_the_schema_dumps_or_leaves_it_to_the_schema(schema):
    dump = quick_dump(schema)
    assert dump is not None, "every event's fields are of kinds the quick dump knows"
    base = _native(schema)
    assert dump(SimpleNamespace(**base)) == schema.dump(base), "a valid event, dumped alike"
    written = 0
    for name in schema.fields:
        for value in NATIVE:
            event = {**base, name: value}
            quick = dump(SimpleNamespace(**event))
            if quick is not None:
                written += 1
                assert quick == schema.dump(event), f"{name}={value!r}"
                assert type(quick[name]) is type(schema.dump(event)[name]), f"{name}={value!r}"
    assert written > len(schema.fields)


def test_a_value_dump_would_convert_is_left_to_dump():
    """An int where a float goes: dump() writes 3.0, so the quick dump does not write 3."""
    from services.escalation.events import IssueWarned

    at = datetime(2026, 12, 7, 9, 30, tzinfo=UTC)
    event = IssueWarned(
        issue_id="i-1", clock="claim", level=0, fraction=1, deadline=at, to_unit_id="u",
        to_unit_name="U", warned_at=at,
    )  # fmt: skip
    schema = escalation_writer.schema_for(IssueWarned)
    assert quick_dump(schema)(event) is None
    _, _, payload = escalation_writer(event)
    assert payload["fraction"] == 1.0 and type(payload["fraction"]) is float
