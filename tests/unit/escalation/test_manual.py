"""Supervisors escalate by hand, extend a deadline with a reason, close supervision; others
may not."""

import random
from datetime import timedelta

from shared.tokens import token_hash
from tests.helpers import emitted, event

UNIT = "baian-xincun-property"
DISPATCHED = {
    "assignment": 1,
    "unit_id": UNIT,
    "tier": "small",
    "street": "baianba",
    "category": "property_management",
}


def _token(escalation, unit_id: str) -> dict:
    """What dispatch's `loudong units token` publishes, as escalation receives it."""
    token = f"lu_test_{unit_id}_{random.random()}"
    escalation.subscriber.apply(
        event(
            "unit.token_issued",
            f"unit:{unit_id}",
            {"unit_id": unit_id, "token_hash": token_hash(token)},
        ).to_json()
    )
    return {"Authorization": f"Bearer {token}"}


def _post(escalation, path, headers, body):
    return escalation.app.test_client().post(path, headers=headers, json=body)


def test_a_supervisor_escalates_by_hand_and_a_unit_below_may_not(escalation):
    escalation.subscriber.apply(event("issue.dispatched", "i1", DISPATCHED).to_json())

    refused = _post(
        escalation, "/v1/issues/i1/escalate", _token(escalation, UNIT), {"reason": "我想"}
    )
    nobody = _post(
        escalation, "/v1/issues/i1/escalate", {"Authorization": "Bearer nope"}, {"reason": "x"}
    )
    done = _post(
        escalation,
        "/v1/issues/i1/escalate",
        _token(escalation, "baianba-office"),
        {"reason": "群众反映强烈"},
    )

    assert (refused.status_code, nobody.status_code, done.status_code) == (403, 401, 200)
    [escalated] = emitted(escalation.store, "issue.escalated")
    assert (
        escalated.payload["reason"] == "manual"
        and escalated.payload["to_unit_id"] == "baian-committee"
    )


def test_an_extension_is_recorded_with_its_reason_and_moves_the_deadline(escalation, clock, sweep):
    escalation.subscriber.apply(event("issue.dispatched", "i1", DISPATCHED).to_json())
    until = clock.now + timedelta(hours=5)

    earlier = _post(
        escalation,
        "/v1/issues/i1/extend",
        _token(escalation, "baian-committee"),
        {"clock": "claim", "until": clock.now.isoformat(), "reason": "x"},
    )
    extended = _post(
        escalation,
        "/v1/issues/i1/extend",
        _token(escalation, "baian-committee"),
        {"clock": "claim", "until": until.isoformat(), "reason": "物业经理出差"},
    )
    clock.advance(hours=4)
    sweep()

    assert earlier.status_code == 409 and extended.status_code == 200
    [recorded] = emitted(escalation.store, "issue.deadline_extended")
    assert (
        recorded.payload["reason"] == "物业经理出差"
        and recorded.payload["by_unit_id"] == "baian-committee"
    )
    assert emitted(escalation.store, "issue.escalated") == []


def test_only_a_district_leader_closes_supervision(escalation, clock, sweep):
    escalation.subscriber.apply(event("issue.dispatched", "i1", DISPATCHED).to_json())
    for _ in range(3):
        clock.advance(hours=8)
        sweep()

    refused = _post(
        escalation,
        "/v1/issues/i1/supervision/close",
        _token(escalation, "baianba-office"),
        {"reason": "已办结"},
    )
    closed = _post(
        escalation,
        "/v1/issues/i1/supervision/close",
        _token(escalation, "leader-north"),
        {"reason": "已办结"},
    )

    assert refused.status_code == 403 and closed.status_code == 200
    assert [
        e.payload["by_unit_id"] for e in emitted(escalation.store, "issue.supervision_closed")
    ] == ["leader-north"]


def test_policies_escalations_and_overdue_can_be_looked_at(escalation, clock, sweep):
    escalation.subscriber.apply(event("issue.dispatched", "i1", DISPATCHED).to_json())
    clock.advance(hours=3)
    overdue = escalation.app.test_client().get("/v1/overdue").json
    sweep()
    client = escalation.app.test_client()

    listed = client.get("/v1/escalations?reason=claim_overdue&issue_id=i1").json["escalations"]
    bad = client.get("/v1/escalations?reason=boredom")

    assert overdue == {"overdue": [{"street": "baianba", "unit_id": UNIT, "count": 1}]}
    assert [e["to_unit_id"] for e in listed] == ["baian-committee"] and bad.status_code == 400
    assert client.get("/v1/policies").json["tiers"]["small"]["claim"]["time"] == "calendar"
