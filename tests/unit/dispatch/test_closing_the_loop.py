"""On resolve the resident is asked: satisfied closes, dissatisfied reopens one tier higher to
the same lead unit, silence closes it after the configured time. Twins follow their primary."""

from services.dispatch.loops import close_silent_once
from tests.helpers import emitted, event
from tests.unit.dispatch.conftest import dispatched_to

PROPERTY = "baian-xincun-property"


def _resolve(dispatch, as_unit, issue_id, unit_id=PROPERTY):
    headers = as_unit(unit_id)
    client = dispatch.app.test_client()
    client.post(f"/v1/assignments/{issue_id}/claim", headers=headers)
    return client.post(
        f"/v1/assignments/{issue_id}/resolve", headers=headers, json={"resolution": "已清理"}
    )


def _feedback(dispatch, issue_id, satisfied):
    dispatch.subscriber.apply(
        event("issue.feedback_given", issue_id, {"satisfied": satisfied, "rating": 4}).to_json()
    )


def test_a_satisfied_resident_closes_it(dispatch, submit, as_unit):
    issue_id = submit()
    _resolve(dispatch, as_unit, issue_id)

    _feedback(dispatch, issue_id, True)

    [closed] = emitted(dispatch.store, "issue.closed")
    assert closed.issue_id == issue_id and closed.payload["reason"] == "satisfied"


def test_a_dissatisfied_resident_reopens_it_one_tier_higher_to_the_same_lead(
    dispatch, submit, as_unit
):
    issue_id = submit()
    _resolve(dispatch, as_unit, issue_id)

    _feedback(dispatch, issue_id, False)

    [reopened] = emitted(dispatch.store, "issue.reopened")
    assert reopened.payload["tier"] == "big"
    assert dispatched_to(dispatch, issue_id) == [(PROPERTY, "lead"), (PROPERTY, "lead")]
    assert emitted(dispatch.store, "issue.dispatched")[-1].payload["tier"] == "big"
    assert (
        _resolve(dispatch, as_unit, issue_id).status_code == 200
    )  # the new assignment can be worked


def test_no_answer_in_time_closes_it_as_no_feedback(dispatch, submit, as_unit, clock):
    issue_id = submit()
    _resolve(dispatch, as_unit, issue_id)

    clock.advance(days=2, hours=23)
    assert close_silent_once(dispatch.store, dispatch.context) == 0
    clock.advance(hours=2)
    assert close_silent_once(dispatch.store, dispatch.context) == 1

    [closed] = emitted(dispatch.store, "issue.closed")
    assert closed.payload["reason"] == "no_feedback"


def test_feedback_before_resolution_changes_nothing(dispatch, submit):
    issue_id = submit()

    _feedback(dispatch, issue_id, True)

    assert emitted(dispatch.store, "issue.closed") == []


def test_the_linked_residents_hear_the_outcome_too(dispatch, submit, as_unit):
    first, second = submit(), submit()

    _resolve(dispatch, as_unit, first)
    _feedback(dispatch, first, True)

    resolved = {e.issue_id: e.payload for e in emitted(dispatch.store, "issue.resolved")}
    assert resolved[second]["linked_to"] == first and resolved[second]["resolution"] == "已清理"
    closed = {e.issue_id: e.payload["reason"] for e in emitted(dispatch.store, "issue.closed")}
    assert closed == {first: "satisfied", second: "with_linked"}


def test_silence_closes_a_twin_once_with_its_primary(dispatch, submit, as_unit, clock):
    first, second = submit(), submit()
    _resolve(dispatch, as_unit, first)

    clock.advance(days=4)
    close_silent_once(dispatch.store, dispatch.context)

    closed = [(e.issue_id, e.payload["reason"]) for e in emitted(dispatch.store, "issue.closed")]
    assert sorted(closed) == sorted([(first, "no_feedback"), (second, "with_linked")])
