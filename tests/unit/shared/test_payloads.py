"""The payload writers' quick check passes only what their schemas accept, and passes the
payloads the services really write, so the whole schema is the exception, not the rule."""

from datetime import UTC, datetime

import pytest
from marshmallow import validate

from services.dispatch.schemas import write_payload as dispatch_writer
from services.escalation.schemas import write_payload as escalation_writer
from services.intake.schemas import write_payload as intake_writer
from services.notify.schemas import write_payload as notify_writer
from shared.payloads import quick_check

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
