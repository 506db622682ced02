"""Escalation's API fuzzed from its document, as a district leader (who may escalate, extend
and close supervision): no input yields a 5xx, every answer is one the document declares."""

from shared.tokens import token_hash
from tests.fuzz.fuzzing import call_and_check, schema_of, service, sized
from tests.helpers import event

ESCALATION = service("escalation")
schema = schema_of(ESCALATION)

LEADER_TOKEN = "lu_fuzz_leader-north_0123456789"
ESCALATION.subscriber.apply(  # as dispatch's `loudong units token leader-north` publishes it
    event(
        "unit.token_issued",
        "unit:leader-north",
        {"unit_id": "leader-north", "token_hash": token_hash(LEADER_TOKEN)},
    ).to_json()
)
LEADER = {"Authorization": f"Bearer {LEADER_TOKEN}"}


@schema.parametrize()
@sized
def test_escalation_answers_every_request_as_documented(case):
    call_and_check("escalation", case, LEADER)
