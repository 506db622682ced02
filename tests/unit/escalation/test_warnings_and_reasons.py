"""Warnings before each deadline; supervision at the leader; the other reasons to escalate;
the resolve clock standing still while the resident is awaited."""

from datetime import timedelta

import pytest

from tests.helpers import emitted, event

POLICIES = (
    """
tiers:
"""
    + "".join(
        f"""  {tier}:
    claim_within: PT10H
    resolve_within: PT100H
    time: calendar
    warnings: [{{at: 0.5, to: unit}}, {{at: 0.8, to: supervisor}}]
"""
        for tier in ("private", "small", "big", "hard")
    )
    + "supervision_within: PT48H\nsupervision_time: calendar\n"
)
UNIT = "baian-xincun-property"
DISPATCHED = {
    "assignment": 1,
    "unit_id": UNIT,
    "tier": "small",
    "street": "baianba",
    "category": "property_management",
}
CLAIMED = {"assignment": 1, "unit_id": UNIT, "tier": "small", "street": "baianba"}


@pytest.fixture
def policies_text():
    return POLICIES


def _warned(escalation):
    return [
        (e.payload["clock"], e.payload["fraction"], e.payload["to_unit_id"])
        for e in emitted(escalation.store, "issue.warned")
    ]


def test_the_unit_is_warned_at_half_time_and_its_supervisor_at_eighty_percent(
    escalation, clock, sweep
):
    escalation.subscriber.apply(event("issue.dispatched", "i1", DISPATCHED).to_json())

    clock.advance(hours=4, minutes=59)
    sweep()
    assert _warned(escalation) == []
    clock.advance(minutes=2)
    sweep()
    clock.advance(hours=3)
    sweep()
    sweep()

    assert _warned(escalation) == [("claim", 0.5, UNIT), ("claim", 0.8, "baian-committee")]
    assert emitted(escalation.store, "issue.escalated") == []


def test_a_named_deadline_counts_its_warnings_from_the_dispatch(escalation, clock, sweep):
    """Seen three hours late (escalation was down), the dispatch's own times stand: half time
    is five hours after the dispatch, not after escalation saw it."""
    dispatched_at = clock()
    clock.advance(hours=3)
    payload = {
        **DISPATCHED,
        "dispatched_at": dispatched_at.isoformat(),
        "claim_due_at": (dispatched_at + timedelta(hours=10)).isoformat(),
    }
    escalation.subscriber.apply(event("issue.dispatched", "i1", payload).to_json())

    clock.advance(hours=1, minutes=59)
    sweep()
    assert _warned(escalation) == []
    clock.advance(minutes=2)
    sweep()
    assert _warned(escalation) == [("claim", 0.5, UNIT)]


def test_warnings_due_in_the_sweep_that_escalates_their_clock_are_not_sent(
    escalation, clock, sweep
):
    """The sweeper was down past the deadline: the climb supersedes the claim warnings still
    pending (a "deadline near" after the escalation would say the wrong thing), and the
    clock's new level gets its own warnings."""
    escalation.subscriber.apply(event("issue.dispatched", "i1", DISPATCHED).to_json())

    clock.advance(hours=10, minutes=1)
    sweep()

    assert _warned(escalation) == []
    assert [e.payload["level"] for e in emitted(escalation.store, "issue.escalated")] == [1]
    clock.advance(hours=5)  # half of the next level's ten hours
    sweep()
    assert [w[:2] for w in _warned(escalation)] == [("claim", 0.5)]


def test_a_claim_cancels_the_claim_warnings_and_arms_the_resolve_ones(escalation, clock, sweep):
    escalation.subscriber.apply(event("issue.dispatched", "i1", DISPATCHED).to_json())
    clock.advance(hours=1)
    escalation.subscriber.apply(event("issue.claimed", "i1", CLAIMED).to_json())

    clock.advance(hours=9)
    sweep()
    clock.advance(hours=45)
    sweep()

    assert _warned(escalation) == [("resolve", 0.5, UNIT)]


def test_waiting_for_the_resident_stops_the_resolve_clock_and_it_resumes_where_it_stood(
    escalation, clock, sweep
):
    escalation.subscriber.apply(event("issue.dispatched", "i1", DISPATCHED).to_json())
    escalation.subscriber.apply(event("issue.claimed", "i1", CLAIMED).to_json())
    clock.advance(hours=40)
    escalation.subscriber.apply(event("issue.awaiting_resident", "i1", {}).to_json())

    clock.advance(hours=200)
    sweep()
    escalation.subscriber.apply(event("issue.resident_replied", "i1", {}).to_json())
    clock.advance(hours=59)
    sweep()
    assert [e.payload["reason"] for e in emitted(escalation.store, "issue.escalated")] == []
    clock.advance(hours=1, seconds=1)
    sweep()

    assert [e.payload["reason"] for e in emitted(escalation.store, "issue.escalated")] == [
        "resolve_overdue"
    ]


def test_reaching_the_leader_opens_supervision_which_warns_the_leader_when_it_runs_over(
    escalation, clock, sweep
):
    escalation.subscriber.apply(event("issue.dispatched", "i1", DISPATCHED).to_json())
    for _ in range(3):
        clock.advance(hours=10, seconds=1)
        sweep()
    [opened] = emitted(escalation.store, "issue.supervision_opened")

    clock.advance(hours=48, seconds=1)
    sweep()

    assert opened.payload["leader_id"] == "leader-north"
    assert ("supervision", 1.0, "leader-north") in _warned(escalation)


@pytest.mark.parametrize(
    "event_type, payload, reason, to_unit",
    [
        (
            "issue.arbitration_needed",
            {"street_office_id": "baianba-office"},
            "returned_too_often",
            "baianba-office",
        ),
        ("issue.reopened", {"tier": "big"}, "reopened", "baian-committee"),
        (
            "notification.failed",
            {"recipient_unit_id": UNIT, "cause_type": "issue.dispatched"},
            "undeliverable",
            "baian-committee",
        ),
    ],
)
def test_every_escalation_says_why(escalation, event_type, payload, reason, to_unit):
    escalation.subscriber.apply(event("issue.dispatched", "i1", DISPATCHED).to_json())

    escalation.subscriber.apply(event(event_type, "i1", payload).to_json())

    [escalated] = emitted(escalation.store, "issue.escalated")
    assert (escalated.payload["reason"], escalated.payload["to_unit_id"]) == (reason, to_unit)


def test_a_failed_sms_to_a_resident_is_no_reason_to_escalate(escalation):
    escalation.subscriber.apply(event("issue.dispatched", "i1", DISPATCHED).to_json())

    escalation.subscriber.apply(
        event(
            "notification.failed",
            "i1",
            {"recipient_unit_id": "resident", "cause_type": "resident.feedback_requested"},
        ).to_json()
    )

    assert emitted(escalation.store, "issue.escalated") == []


def test_warnings_escalations_and_supervision_name_units_by_id_without_their_contacts(
    escalation, clock, sweep
):
    # Every queue bound to these events gets them: a unit's phones and webhook stay in the
    # directory, which notify reads for itself.
    escalation.subscriber.apply(event("issue.dispatched", "i1", DISPATCHED).to_json())
    for _ in range(3):  # warned at half and 80 % time, then up the ladder to the leader
        clock.advance(hours=10, seconds=1)
        sweep()
    clock.advance(hours=48, seconds=1)  # supervision runs over: the leader is warned
    sweep()

    published = [e for e in emitted(escalation.store) if e.type != "issue.clock_armed"]
    assert {"issue.warned", "issue.escalated", "issue.supervision_opened"} <= {
        e.type for e in published
    }
    units = escalation.context.directory.units.values()
    private = {c.phone for u in units for c in u.contacts} | {
        c.email for u in units for c in u.contacts if c.email
    }
    for e in published:
        assert not {"to_unit_contacts", "to_unit_webhook"} & set(e.payload), e.type
        assert not [v for v in private if v in str(e.payload)], e.type
