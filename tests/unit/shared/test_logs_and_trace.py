"""Logs that follow an issue: one JSON object a line with the event and its ids, a phone never
in it; a gateway's X-Request-Id becomes the correlation id of every event that follows from it;
`loudong trace` shows the issue's path through the four services from their stores."""

from __future__ import annotations

import io
import json
import logging

from services import cli
from shared import logs
from shared.envelope import Envelope
from shared.trace import trace
from tests.helpers import AUTH, SERVICES, SUBMISSION, build, emitted


def _json_lines(run) -> list[dict]:
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(logs.JsonFormatter("dispatch"))
    handler.addFilter(logs.PhoneMaskingFilter())
    logger = logging.getLogger("loudong.test.logs")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        run(logger)
    finally:
        logger.removeHandler(handler)
    return [json.loads(line) for line in out.getvalue().splitlines()]


def test_a_line_logged_while_an_event_is_applied_names_it_and_masks_phones():
    event = Envelope(
        type="issue.dispatched",
        issue_id="i-1",
        producer="dispatch",
        payload={},
        correlation_id="c-9",
    )

    def run(logger):
        with logs.about_event(event):
            logger.warning("could not reach the unit at %s", "13912345678")
        logger.info("idle")

    inside, outside = _json_lines(run)

    assert inside["service"] == "dispatch" and inside["level"] == "WARNING"
    assert inside["event_type"] == "issue.dispatched" and inside["issue_id"] == "i-1"
    assert inside["correlation_id"] == "c-9" and inside["causation_id"] == event.id
    assert "13912345678" not in json.dumps(inside) and "139" in inside["message"]
    assert "issue_id" not in outside and outside["message"] == "idle"


def test_a_gateways_request_id_follows_the_issue_through_every_event(tmp_path):
    services = {name: build(name, tmp_path) for name in SERVICES}
    client = services["intake"].app.test_client()

    created = client.post(
        "/v1/issues",
        headers={**AUTH, "X-Request-Id": "fms-req-42"},
        # a big matter, so that escalation arms a co-handling part's clock and announces it
        json={**SUBMISSION, "attributes": {"households_affected": 12}},
    )
    hostile = client.get(
        "/v1/issues?limit=1", headers={**AUTH, "X-Request-Id": "bad id with spaces"}
    )
    for _ in range(3):
        for service in services.values():
            service.bus.poll_once()

    issue_id = created.json["id"]
    assert created.headers["X-Request-Id"] == "fms-req-42"
    assert (
        hostile.headers["X-Request-Id"] != "bad id with spaces"
    )  # not carried: a fresh one instead
    events = [e for s in services.values() for e in emitted(s.store) if e.issue_id == issue_id]
    assert {(e.producer, e.type) for e in events} >= {
        ("intake", "issue.submitted"),
        ("dispatch", "issue.dispatched"),
        ("escalation", "issue.clock_armed"),
    }
    assert {e.correlation_id for e in events} == {"fms-req-42"}
    for service in services.values():
        service.store.dispose()


def test_trace_shows_each_event_committed_and_applied_by_each_service(tmp_path, capsys):
    services = {name: build(name, tmp_path) for name in SERVICES}
    issue_id = (
        services["intake"]
        .app.test_client()
        .post("/v1/issues", headers=AUTH, json=SUBMISSION)
        .json["id"]
    )
    for _ in range(3):
        for service in services.values():
            service.bus.poll_once()
    env = {"LOUDONG_DATA_DIR": str(tmp_path / "data")}

    steps = trace(issue_id, env)

    seen = {(s.service, s.what, s.subject) for s in steps}
    assert ("intake", "committed", "issue.submitted") in seen
    assert ("dispatch", "applied", "issue.submitted") in seen
    assert ("dispatch", "committed", "issue.dispatched") in seen
    assert ("escalation", "applied", "issue.dispatched") in seen
    assert ("notify", "applied", "issue.dispatched") in seen
    assert any(s.service == "notify" and s.subject.startswith("sms to ") for s in steps)
    assert [s.at for s in steps] == sorted(s.at for s in steps)
    assert "13800000000" not in "\n".join(s.line() for s in steps)
    for service in services.values():
        service.store.dispose()


def test_trace_of_an_unknown_issue_says_so(tmp_path, monkeypatch, capsys):
    for name in SERVICES:
        build(name, tmp_path).store.dispose()
    monkeypatch.setenv("LOUDONG_DATA_DIR", str(tmp_path / "data"))

    assert cli.main(["trace", "00000000-0000-0000-0000-000000000000"]) == 1
    assert "nothing about issue" in capsys.readouterr().err
