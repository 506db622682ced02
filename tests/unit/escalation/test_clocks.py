"""Escalation arms a claim deadline on dispatch and climbs the ladder when it passes, once."""

from services.escalation import store as escalation_store
from tests.helpers import count_rows, emitted, event

DISPATCHED = {
    "assignment": 1,
    "unit_id": "baian-xincun-property",
    "tier": "small",
    "street": "baianba",
}
CLAIMED = {
    "assignment": 1,
    "unit_id": "baian-xincun-property",
    "tier": "small",
    "street": "baianba",
}


def test_nothing_fires_before_the_claim_deadline(escalation, clock, sweep):
    escalation.subscriber.apply(event("issue.dispatched", "i1", DISPATCHED).to_json())
    clock.advance(hours=1, minutes=59)

    assert sweep() == 0
    assert emitted(escalation.store, "issue.escalated") == []


def test_escalates_to_the_supervisor_when_not_claimed_in_time(escalation, clock, sweep):
    escalation.subscriber.apply(event("issue.dispatched", "i1", DISPATCHED).to_json())
    clock.advance(hours=2, seconds=1)

    fired = sweep()

    assert fired == 1
    [escalated] = emitted(escalation.store, "issue.escalated")
    assert escalated.payload["level"] == 1
    assert escalated.payload["reason"] == "claim_overdue"
    assert escalated.payload["from_unit_id"] == "baian-xincun-property"
    assert escalated.payload["to_unit_id"] == "baian-committee"
    [claim_clock] = escalation.app.test_client().get("/v1/issues/i1/clocks").json["clocks"]
    assert claim_clock["level"] == 1 and claim_clock["unit_id"] == "baian-committee"


def test_each_level_fires_once_however_often_the_sweeper_runs(escalation, clock, sweep):
    escalation.subscriber.apply(event("issue.dispatched", "i1", DISPATCHED).to_json())
    clock.advance(hours=2, seconds=1)

    sweep()
    sweep()
    clock.advance(hours=2, seconds=1)
    sweep()
    sweep()

    levels = [e.payload["level"] for e in emitted(escalation.store, "issue.escalated")]
    assert levels == [1, 2]
    assert count_rows(escalation.store, escalation_store.escalations) == 2


def test_the_ladder_ends_at_the_district_leader(escalation, clock, sweep):
    escalation.subscriber.apply(event("issue.dispatched", "i1", DISPATCHED).to_json())

    for _ in range(8):
        clock.advance(hours=2, seconds=1)
        sweep()

    targets = [e.payload["to_unit_id"] for e in emitted(escalation.store, "issue.escalated")]
    assert targets == ["baian-committee", "baianba-office", "leader-north"]
    clocks = {
        c["clock"]: c
        for c in escalation.app.test_client().get("/v1/issues/i1/clocks").json["clocks"]
    }
    assert clocks["claim"]["state"] == "exhausted"
    assert (
        clocks["supervision"]["unit_id"] == "leader-north"
        and clocks["supervision"]["state"] == "armed"
    )
    [opened] = emitted(escalation.store, "issue.supervision_opened")
    assert opened.payload["leader_id"] == "leader-north"


def test_a_claim_in_time_disarms_the_claim_clock_and_arms_resolve(escalation, clock, sweep):
    escalation.subscriber.apply(event("issue.dispatched", "i1", DISPATCHED).to_json())
    clock.advance(hours=1)
    escalation.subscriber.apply(event("issue.claimed", "i1", CLAIMED).to_json())
    clock.advance(hours=5)

    sweep()

    assert emitted(escalation.store, "issue.escalated") == []
    states = {
        c["clock"]: c["state"]
        for c in escalation.app.test_client().get("/v1/issues/i1/clocks").json["clocks"]
    }
    assert states == {"claim": "stopped", "resolve": "armed"}


def test_a_claim_seen_before_its_dispatch_keeps_the_clock_stopped(escalation, clock, sweep):
    escalation.subscriber.apply(event("issue.claimed", "i1", CLAIMED).to_json())
    escalation.subscriber.apply(event("issue.dispatched", "i1", DISPATCHED).to_json())
    clock.advance(hours=3)

    sweep()

    assert emitted(escalation.store, "issue.escalated") == []


def test_the_same_dispatch_twice_arms_one_clock(escalation, clock, sweep):
    dispatched = event("issue.dispatched", "i1", DISPATCHED).to_json()
    escalation.subscriber.apply(dispatched)
    clock.advance(minutes=30)
    escalation.subscriber.apply(dispatched)
    clock.advance(hours=1, minutes=31)

    assert sweep() == 1
