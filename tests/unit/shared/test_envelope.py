"""The envelope on the wire: what a writer wrote reads back as it was, and parse()'s quick
path for our own writers' output accepts and refuses exactly what EnvelopeSchema does."""

import json

import pytest

from shared.envelope import Envelope, EnvelopeSchema, MalformedMessage, parse

WRITTEN = Envelope(
    type="issue.dispatched",
    issue_id="i-1",
    producer="dispatch",
    payload={"unit_id": "taibai-office", "unit_contacts": [{"name": "值班室", "phone": "+86"}]},
    correlation_id="c-1",
    causation_id="e-0",
)


def _by_schema(raw: dict) -> Envelope | str:
    """The schema's own verdict: the envelope it loads, or 'refused'."""
    try:
        data = EnvelopeSchema().load(raw)
    except Exception:
        return "refused"
    data.pop("version", None)
    return Envelope(**{**data, "id": str(data["id"])})


def _by_parse(raw: dict) -> Envelope | str:
    try:
        return parse(json.dumps(raw))
    except MalformedMessage:
        return "refused"


def test_what_a_writer_wrote_reads_back_as_it_was():
    assert parse(WRITTEN.to_json()) == WRITTEN
    assert parse(WRITTEN.to_json().encode()) == WRITTEN


def _variant(**changes) -> dict:
    raw = json.loads(WRITTEN.to_json())
    for key, value in changes.items():
        if value is ...:
            raw.pop(key)
        else:
            raw[key] = value
    return raw


@pytest.mark.parametrize(
    "raw",
    [
        _variant(),
        _variant(id=WRITTEN.id.upper()),  # not as we write it, still a UUID
        _variant(id="not-a-uuid"),
        _variant(occurred_at="2026-12-01T08:00:00Z"),
        _variant(occurred_at="2026-12-01T08:00:00"),  # no offset
        _variant(occurred_at="2026-02-30T08:00:00+08:00"),
        _variant(occurred_at="2026-12-01T08:00:00.5+08:00"),
        _variant(version=...),
        _variant(version=2),
        _variant(version="1"),
        _variant(causation_id=...),
        _variant(causation_id=7),
        _variant(issue_id=""),
        _variant(issue_id="x" * 65),
        _variant(type="Issue.Dispatched"),
        _variant(type="dispatched"),
        _variant(payload=[]),
        _variant(producer=None),
        _variant(correlation_id=...),
        _variant(extra="ignored"),
    ],
)
def test_the_quick_path_says_what_the_schema_says(raw):
    assert _by_parse(raw) == _by_schema(raw)
