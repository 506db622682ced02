"""Dispatch sends each issue to exactly one responsible unit, which must claim it."""
import pytest

from services.dispatch import store as dispatch_store
from tests.helpers import SUBMISSION, build, count_rows, emitted, event


@pytest.fixture
def dispatch(tmp_path):
    service = build("dispatch", tmp_path)
    yield service
    service.store.dispose()


def _submitted(issue_id="issue-1", **changes):
    payload = {"channel": "hotline", "description": SUBMISSION["description"],
               "category": SUBMISSION["category"], "location": SUBMISSION["location"],
               "submitted_at": "2026-11-26T02:00:00+00:00", **changes}
    return event("issue.submitted", issue_id, payload, producer="intake")


def test_a_property_issue_in_a_managed_compound_goes_to_its_property_company(dispatch):
    dispatch.subscriber.apply(_submitted().to_json())

    [dispatched] = emitted(dispatch.store, "issue.dispatched")
    assert dispatched.payload["unit_id"] == "baian-xincun-property"
    assert dispatched.payload["tier"] == "small"
    assert dispatched.payload["unit_contacts"] == [{"name": "物业前台", "phone": "+8613800000042"}]
    assert dispatched.payload["supervisor_id"] == "baian-committee"


def test_an_issue_without_category_goes_to_the_street_office(dispatch):
    dispatch.subscriber.apply(_submitted(category=None, location={"street": "wuqiao"}).to_json())

    [dispatched] = emitted(dispatch.store, "issue.dispatched")
    assert dispatched.payload["unit_id"] == "wuqiao-office"
    assert dispatched.payload["category"] == "other"


def test_the_same_submission_twice_is_dispatched_once(dispatch):
    submitted = _submitted().to_json()

    dispatch.subscriber.apply(submitted)
    dispatch.subscriber.apply(submitted)

    assert len(emitted(dispatch.store, "issue.dispatched")) == 1
    assert count_rows(dispatch.store, dispatch_store.assignments) == 1


def test_the_assigned_unit_claims_and_then_resolves(dispatch):
    dispatch.subscriber.apply(_submitted().to_json())
    client = dispatch.app.test_client()

    claimed = client.post("/v1/assignments/issue-1/claim", json={"unit_id": "baian-xincun-property"})
    resolved = client.post("/v1/assignments/issue-1/resolve",
                           json={"unit_id": "baian-xincun-property", "resolution": "已疏通"})

    assert claimed.status_code == 200 and claimed.json["state"] == "claimed"
    assert resolved.status_code == 200 and resolved.json["state"] == "resolved"
    [claim_event] = emitted(dispatch.store, "issue.claimed")
    assert claim_event.payload["unit_id"] == "baian-xincun-property"
    assert claim_event.causation_id is None or claim_event.correlation_id
    assert len(emitted(dispatch.store, "issue.resolved")) == 1


@pytest.mark.parametrize("unit_id, first_action, action, status", [
    ("wuqiao-office", None, "claim", 403),
    ("baian-xincun-property", "claim", "claim", 409),
    ("baian-xincun-property", None, "resolve", 409),
])
def test_actions_out_of_turn_are_refused_and_publish_nothing(dispatch, unit_id, first_action, action, status):
    dispatch.subscriber.apply(_submitted().to_json())
    client = dispatch.app.test_client()
    body = {"unit_id": unit_id, "resolution": "done"} if action == "resolve" else {"unit_id": unit_id}
    if first_action:
        client.post(f"/v1/assignments/issue-1/{first_action}", json={"unit_id": unit_id})
    before = len(emitted(dispatch.store))

    response = client.post(f"/v1/assignments/issue-1/{action}", json=body)

    assert response.status_code == status
    assert response.mimetype == "application/problem+json"
    if status == 409:
        assert response.json["state"] in response.json["detail"]
    assert len(emitted(dispatch.store)) == before


def test_claiming_an_unknown_issue_is_404(dispatch):
    response = dispatch.app.test_client().post("/v1/assignments/nope/claim", json={"unit_id": "x"})

    assert response.status_code == 404


def test_a_claim_without_unit_names_the_field(dispatch):
    dispatch.subscriber.apply(_submitted().to_json())

    response = dispatch.app.test_client().post("/v1/assignments/issue-1/claim", json={})

    assert response.status_code == 422
    assert "unit_id" in response.json["errors"]
