"""Escalation arms a claim deadline on dispatch and climbs the ladder when it passes, once."""

from datetime import datetime, timedelta

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


def test_a_dispatch_naming_its_claim_deadline_holds_the_unit_to_it_unannounced(
    escalation, clock, sweep
):
    """The deadline the unit's SMS named is the one enforced (not the policy's two hours
    from when escalation saw the dispatch), and no issue.clock_armed repeats it."""
    dispatched_at = clock() - timedelta(minutes=30)
    named = dispatched_at + timedelta(minutes=75)
    payload = {
        **DISPATCHED,
        "dispatched_at": dispatched_at.isoformat(),
        "claim_due_at": named.isoformat(),
    }
    escalation.subscriber.apply(event("issue.dispatched", "i1", payload).to_json())

    clock.advance(minutes=44)
    assert sweep() == 0
    clock.advance(minutes=2)
    assert sweep() == 1
    armed = emitted(escalation.store, "issue.clock_armed")
    assert [e.payload["level"] for e in armed] == [1]  # the supervisor's, once it climbed
    [escalated] = emitted(escalation.store, "issue.escalated")
    assert datetime.fromisoformat(escalated.payload["missed_deadline"]) == named


def test_a_dispatch_without_a_named_deadline_is_reckoned_and_announced(escalation, clock):
    """An event from before dispatch named deadlines: escalation's own, and everyone told."""
    escalation.subscriber.apply(event("issue.dispatched", "i1", DISPATCHED).to_json())

    [armed] = emitted(escalation.store, "issue.clock_armed")
    assert armed.payload["clock"] == "claim" and armed.payload["level"] == 0
    assert datetime.fromisoformat(armed.payload["due_at"]) == clock() + timedelta(hours=2)
