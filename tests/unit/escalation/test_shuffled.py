"""Events out of order change nothing wrongly: the same final clocks whatever order they came in."""

import itertools

import pytest

from tests.helpers import FakeClock, build, event

UNIT = "baian-xincun-property"
FIRST = {
    "assignment": 1,
    "unit_id": UNIT,
    "tier": "small",
    "street": "baianba",
    "category": "property_management",
    "role": "lead",
}
SECOND = {**FIRST, "assignment": 2, "unit_id": "baian-committee"}
EVENTS = [
    ("issue.dispatched", FIRST),
    ("issue.dispatched", FIRST),
    ("issue.claimed", {**FIRST, "tier": "small"}),
    ("issue.dispatched", SECOND),
]


def _final_clocks(tmp_path, order, n) -> dict:
    service = build("escalation", tmp_path / str(n), FakeClock())
    envelopes = [event(t, "i1", p) for t, p in EVENTS]
    for i in order:
        service.subscriber.apply(envelopes[i].to_json())
    clocks = service.app.test_client().get("/v1/issues/i1/clocks").json["clocks"]
    service.store.dispose()
    return {c["clock"]: (c["assignment"], c["unit_id"], c["state"]) for c in clocks}


def test_every_order_ends_with_the_newest_assignment_armed(tmp_path):
    outcomes = {
        str(_final_clocks(tmp_path, order, n))
        for n, order in enumerate(itertools.permutations(range(len(EVENTS))))
    }

    assert len(outcomes) == 1
    final = _final_clocks(tmp_path, range(len(EVENTS)), "in-order")
    assert final["claim"] == (2, "baian-committee", "armed") and final["resolve"][0] == 1


@pytest.mark.parametrize("claim_first", [True, False])
def test_a_claim_before_its_dispatch_leaves_no_claim_clock_running(tmp_path, claim_first):
    order = [2, 0] if claim_first else [0, 2]

    final = _final_clocks(tmp_path, order, f"c{claim_first}")

    assert final["claim"][2] == "stopped"
