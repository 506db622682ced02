"""Escalation arms a claim deadline on dispatch and climbs the ladder when it passes, once."""
import pytest

from services.escalation import store as escalation_store
from services.escalation.sweeper import sweep_once
from tests.helpers import FakeClock, build, count_rows, emitted, event

DISPATCHED = {"assignment": 1, "unit_id": "baian-xincun-property", "tier": "small", "street": "baianba"}
CLAIMED = {"assignment": 1, "unit_id": "baian-xincun-property", "tier": "small", "street": "baianba"}


@pytest.fixture
def clock():
    return FakeClock()


@pytest.fixture
def escalation(tmp_path, clock):
    service = build("escalation", tmp_path, clock)
    yield service
    service.store.dispose()


def _sweep(service):
    return sweep_once(service.store, service.context)


def test_nothing_fires_before_the_claim_deadline(escalation, clock):
    escalation.subscriber.apply(event("issue.dispatched", "i1", DISPATCHED).to_json())
    clock.advance(hours=1, minutes=59)

    assert _sweep(escalation) == 0
    assert emitted(escalation.store, "issue.escalated") == []


def test_escalates_to_the_supervisor_when_not_claimed_in_time(escalation, clock):
    escalation.subscriber.apply(event("issue.dispatched", "i1", DISPATCHED).to_json())
    clock.advance(hours=2, seconds=1)

    fired = _sweep(escalation)

    assert fired == 1
    [escalated] = emitted(escalation.store, "issue.escalated")
    assert escalated.payload["level"] == 1
    assert escalated.payload["reason"] == "claim_overdue"
    assert escalated.payload["from_unit_id"] == "baian-xincun-property"
    assert escalated.payload["to_unit_id"] == "baian-committee"
    [claim_clock] = escalation.app.test_client().get("/v1/issues/i1/clocks").json["clocks"]
    assert claim_clock["level"] == 1 and claim_clock["unit_id"] == "baian-committee"


def test_each_level_fires_once_however_often_the_sweeper_runs(escalation, clock):
    escalation.subscriber.apply(event("issue.dispatched", "i1", DISPATCHED).to_json())
    clock.advance(hours=2, seconds=1)

    _sweep(escalation)
    _sweep(escalation)
    clock.advance(hours=2, seconds=1)
    _sweep(escalation)
    _sweep(escalation)

    levels = [e.payload["level"] for e in emitted(escalation.store, "issue.escalated")]
    assert levels == [1, 2]
    assert count_rows(escalation.store, escalation_store.escalations) == 2


def test_the_ladder_ends_at_the_district_leader(escalation, clock):
    escalation.subscriber.apply(event("issue.dispatched", "i1", DISPATCHED).to_json())

    for _ in range(8):
        clock.advance(hours=2, seconds=1)
        _sweep(escalation)

    targets = [e.payload["to_unit_id"] for e in emitted(escalation.store, "issue.escalated")]
    assert targets == ["baian-committee", "baianba-office", "leader-north"]
    [claim_clock] = escalation.app.test_client().get("/v1/issues/i1/clocks").json["clocks"]
    assert claim_clock["state"] == "exhausted"


def test_a_claim_in_time_disarms_the_claim_clock_and_arms_resolve(escalation, clock):
    escalation.subscriber.apply(event("issue.dispatched", "i1", DISPATCHED).to_json())
    clock.advance(hours=1)
    escalation.subscriber.apply(event("issue.claimed", "i1", CLAIMED).to_json())
    clock.advance(hours=5)

    _sweep(escalation)

    assert emitted(escalation.store, "issue.escalated") == []
    states = {c["clock"]: c["state"] for c in escalation.app.test_client().get("/v1/issues/i1/clocks").json["clocks"]}
    assert states == {"claim": "stopped", "resolve": "armed"}


def test_a_claim_seen_before_its_dispatch_keeps_the_clock_stopped(escalation, clock):
    escalation.subscriber.apply(event("issue.claimed", "i1", CLAIMED).to_json())
    escalation.subscriber.apply(event("issue.dispatched", "i1", DISPATCHED).to_json())
    clock.advance(hours=3)

    _sweep(escalation)

    assert emitted(escalation.store, "issue.escalated") == []


def test_the_same_dispatch_twice_arms_one_clock(escalation, clock):
    dispatched = event("issue.dispatched", "i1", DISPATCHED).to_json()
    escalation.subscriber.apply(dispatched)
    clock.advance(minutes=30)
    escalation.subscriber.apply(dispatched)
    clock.advance(hours=1, minutes=31)

    assert _sweep(escalation) == 1
