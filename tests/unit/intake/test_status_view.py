"""Intake keeps each issue's public status from the other services' events."""
import pytest

from services.intake import store as intake_store
from tests.helpers import AUTH, SUBMISSION, build, count_rows, event

DISPATCHED = {"unit_id": "baian-xincun-property", "unit_name": "百安新村物业公司", "tier": "small",
              "category": "property_management", "assignment": 1}


@pytest.fixture
def intake(tmp_path):
    service = build("intake", tmp_path)
    yield service
    service.store.dispose()


@pytest.fixture
def issue_id(intake):
    return intake.app.test_client().post("/v1/issues", headers=AUTH, json=SUBMISSION).json["id"]


def _show(intake, issue_id):
    return intake.app.test_client().get(f"/v1/issues/{issue_id}", headers=AUTH).json


def test_dispatch_then_escalation_show_unit_and_level(intake, issue_id):
    intake.subscriber.apply(event("issue.dispatched", issue_id, DISPATCHED).to_json())
    intake.subscriber.apply(event("issue.escalated", issue_id, {
        "level": 1, "reason": "claim_overdue", "to_unit_id": "baian-committee", "to_unit_name": "百安社区居委会"}
    ).to_json())

    shown = _show(intake, issue_id)

    assert shown["status"] == "dispatched"
    assert shown["assigned_unit"] == {"id": "baian-xincun-property", "name": "百安新村物业公司"}
    assert shown["escalation_level"] == 1
    assert [t["type"] for t in shown["timeline"]] == ["issue.submitted", "issue.dispatched", "issue.escalated"]


def test_a_late_dispatch_does_not_take_a_claimed_issue_back(intake, issue_id):
    claimed = event("issue.claimed", issue_id, {"unit_id": "baian-xincun-property"})
    dispatched = event("issue.dispatched", issue_id, DISPATCHED)

    intake.subscriber.apply(claimed.to_json())
    intake.subscriber.apply(dispatched.to_json())

    assert _show(intake, issue_id)["status"] == "claimed"


def test_the_same_event_twice_changes_nothing(intake, issue_id):
    dispatched = event("issue.dispatched", issue_id, DISPATCHED).to_json()

    first = intake.subscriber.apply(dispatched)
    second = intake.subscriber.apply(dispatched)

    assert (first, second) == ("applied", "duplicate")
    assert count_rows(intake.store, intake_store.timeline) == 1


def test_an_event_for_an_unknown_issue_is_refused_and_leaves_nothing(intake):
    with pytest.raises(LookupError):
        intake.subscriber.apply(event("issue.dispatched", "no-such-issue", DISPATCHED).to_json())

    assert count_rows(intake.store, intake_store.timeline) == 0
