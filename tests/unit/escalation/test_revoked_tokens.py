"""A unit token dispatch revoked (unit.token_revoked) stops here too, at once on every replica,
and stays stopped whatever order the two events arrive in."""

from datetime import UTC, datetime

from shared.tokens import token_hash
from tests.helpers import build, event

OFFICE = "baianba-office"
DISPATCHED = {
    "assignment": 1,
    "unit_id": "baian-xincun-property",
    "tier": "small",
    "street": "baianba",
    "category": "property_management",
}


def _issued(escalation, token: str, unit_id: str = OFFICE) -> None:
    payload = {"unit_id": unit_id, "token_hash": token_hash(token)}
    escalation.subscriber.apply(event("unit.token_issued", f"unit:{unit_id}", payload).to_json())


def _revoked(escalation, token: str, unit_id: str = OFFICE) -> str:
    payload = {
        "unit_id": unit_id,
        "token_hash": token_hash(token),
        "revoked_at": datetime(2026, 11, 26, 3, 0, tzinfo=UTC).isoformat(),
    }
    body = event("unit.token_revoked", f"unit:{unit_id}", payload).to_json()
    return escalation.subscriber.apply(body)


def _escalate(escalation, token: str) -> int:
    return (
        escalation.app.test_client()
        .post(
            "/v1/issues/i1/escalate",
            headers={"Authorization": f"Bearer {token}"},
            json={"reason": "群众反映强烈"},
        )
        .status_code
    )


def test_a_revoked_token_is_refused_on_every_replica_and_another_still_works(escalation, tmp_path):
    other_replica = build("escalation", tmp_path, LOUDONG_POLICIES=tmp_path / "policies.yaml")
    escalation.subscriber.apply(event("issue.dispatched", "i1", DISPATCHED).to_json())
    _issued(escalation, "lu_old")
    _issued(escalation, "lu_new")

    outcome = _revoked(escalation, "lu_old")

    assert outcome == "applied"
    assert (_escalate(escalation, "lu_old"), _escalate(other_replica, "lu_old")) == (401, 401)
    assert _escalate(other_replica, "lu_new") == 200
    other_replica.store.dispose()


def test_a_revocation_arriving_before_its_issue_still_holds(escalation):
    escalation.subscriber.apply(event("issue.dispatched", "i1", DISPATCHED).to_json())

    _revoked(escalation, "lu_late")
    _issued(escalation, "lu_late")

    assert _escalate(escalation, "lu_late") == 401
