"""聯辦: a big issue goes to the street office as lead with district departments co-handling
their parts. Each part carries its own claim and resolve clocks from the tier's policy and
climbs its own ladder (the department's supervisor in the directory) when it sits on its part,
whatever the lead does; a part declined or resolved stops; the lead's resolution stops the
parts still running, each recorded as it stood."""

from tests.helpers import emitted, event

ISSUE = "big-1"
LEAD = {
    "role": "lead",
    "assignment": 1,
    "unit_id": "baianba-office",
    "tier": "big",
    "street": "baianba",
    "category": "urban_management",
}
PART = {**LEAD, "role": "co", "assignment": 2, "unit_id": "urban-management-bureau"}


def _apply(escalation, type_, payload):
    escalation.subscriber.apply(event(type_, ISSUE, payload).to_json())


def _clocks(escalation) -> dict:
    shown = escalation.app.test_client().get(f"/v1/issues/{ISSUE}/clocks").json["clocks"]
    return {c["clock"]: c for c in shown}


def test_a_part_has_its_own_claim_clock_and_escalates_on_its_own(escalation, clock, sweep):
    _apply(escalation, "issue.dispatched", LEAD)
    _apply(escalation, "issue.dispatched", PART)
    _apply(escalation, "issue.claimed", LEAD)  # the lead is on time; the department is not

    clock.advance(hours=2, seconds=1)
    sweep()

    clocks = _clocks(escalation)
    assert clocks["claim@2"]["unit_id"] != "urban-management-bureau"  # it climbed
    [escalated] = emitted(escalation.store, "issue.escalated")
    assert escalated.payload["clock"] == "claim@2" and escalated.payload["assignment"] == 2
    assert escalated.payload["from_unit_id"] == "urban-management-bureau"
    assert escalated.payload["to_unit_id"] == "leader-executive"  # the department's supervisor
    assert escalated.payload["reason"] == "claim_overdue"
    assert clocks["claim"]["state"] == "stopped" and clocks["resolve"]["state"] == "armed"
    armed = {e.payload["clock"] for e in emitted(escalation.store, "issue.clock_armed")}
    assert {"claim", "claim@2", "resolve"} <= armed


def test_a_claimed_part_runs_its_resolve_clock_and_its_resolution_stops_it(
    escalation, clock, sweep
):
    _apply(escalation, "issue.dispatched", LEAD)
    _apply(escalation, "issue.dispatched", PART)
    _apply(escalation, "issue.claimed", PART)
    _apply(escalation, "issue.claimed", LEAD)

    part_running = _clocks(escalation)["resolve@2"]["state"]
    _apply(escalation, "issue.resolved", {**PART, "resolution": "已清理"})
    clock.advance(days=4)
    sweep()

    clocks = _clocks(escalation)
    assert part_running == "armed" and clocks["claim@2"]["state"] == "stopped"
    assert clocks["resolve@2"]["state"] == "stopped"
    assert [e.payload["clock"] for e in emitted(escalation.store, "issue.escalated")] == [
        "resolve"
    ]  # only the lead's own resolve clock, which it let run out


def test_a_declined_part_stops_and_the_leads_resolution_stops_the_parts_still_running(
    escalation, clock, sweep
):
    other = {**PART, "assignment": 3, "unit_id": "housing-bureau"}
    _apply(escalation, "issue.dispatched", LEAD)
    _apply(escalation, "issue.dispatched", PART)
    _apply(escalation, "issue.dispatched", other)
    _apply(escalation, "issue.returned", {"assignment": 3, "unit_id": "housing-bureau"})
    _apply(escalation, "issue.claimed", LEAD)
    _apply(escalation, "issue.resolved", {**LEAD, "resolution": "已协调办结"})

    clock.advance(days=5)
    fired = sweep()

    clocks = _clocks(escalation)
    assert clocks["claim@3"]["state"] == "stopped"  # declined
    assert clocks["claim@2"]["state"] == "stopped"  # stopped with the lead's resolution
    assert fired == 0 and emitted(escalation.store, "issue.escalated") == []
