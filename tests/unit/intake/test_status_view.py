"""Intake keeps each issue's public status from the other services' events."""

import pytest

from services.intake import store as intake_store
from tests.helpers import AUTH, SUBMISSION, count_rows, event

DISPATCHED = {
    "unit_id": "baian-xincun-property",
    "unit_name": "百安新村物业公司",
    "tier": "small",
    "category": "property_management",
    "assignment": 1,
}


@pytest.fixture
def issue_id(intake):
    return intake.app.test_client().post("/v1/issues", headers=AUTH, json=SUBMISSION).json["id"]


def _show(intake, issue_id):
    return intake.app.test_client().get(f"/v1/issues/{issue_id}", headers=AUTH).json


def test_dispatch_then_escalation_show_unit_and_level(intake, issue_id):
    intake.subscriber.apply(event("issue.dispatched", issue_id, DISPATCHED).to_json())
    intake.subscriber.apply(
        event(
            "issue.escalated",
            issue_id,
            {
                "level": 1,
                "reason": "claim_overdue",
                "to_unit_id": "baian-committee",
                "to_unit_name": "百安社区居委会",
            },
        ).to_json()
    )

    shown = _show(intake, issue_id)

    assert shown["status"] == "dispatched"
    assert shown["assigned_unit"] == {"id": "baian-xincun-property", "name": "百安新村物业公司"}
    assert shown["escalation_level"] == 1
    assert [t["type"] for t in shown["timeline"]] == [
        "issue.submitted",
        "issue.dispatched",
        "issue.escalated",
    ]


def test_the_claim_deadline_shown_is_the_one_the_dispatch_names(intake, issue_id):
    named = {**DISPATCHED, "claim_due_at": "2026-12-02T06:00:00+00:00"}
    intake.subscriber.apply(event("issue.dispatched", issue_id, named).to_json())
    assert _show(intake, issue_id)["deadlines"]["claim"] == "2026-12-02T06:00:00+00:00"

    # a redispatch after a return names the next unit's; one that names none keeps it
    again = {**named, "assignment": 2, "claim_due_at": "2026-12-02T09:00:00+00:00"}
    intake.subscriber.apply(event("issue.dispatched", issue_id, again).to_json())
    part = {**DISPATCHED, "role": "co", "assignment": 3, "unit_id": "housing-bureau"}
    intake.subscriber.apply(event("issue.dispatched", issue_id, part).to_json())
    assert _show(intake, issue_id)["deadlines"]["claim"] == "2026-12-02T09:00:00+00:00"


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


def test_an_event_for_an_unknown_issue_changes_nothing_and_is_counted(intake):
    outcome = intake.subscriber.apply(
        event("issue.dispatched", "no-such-issue", DISPATCHED).to_json()
    )

    assert outcome == "unknown_issue"
    assert count_rows(intake.store, intake_store.timeline) == 0


def test_a_reopened_issue_starts_over_and_older_events_do_not_move_it(intake, issue_id):
    resolved = event(
        "issue.resolved", issue_id, {"unit_id": "baian-xincun-property", "resolution": "已清理"}
    )
    reopened = event("issue.reopened", issue_id, {"tier": "big"})
    late_claim = event("issue.claimed", issue_id, {"unit_id": "baian-xincun-property"})
    object.__setattr__(
        late_claim, "occurred_at", resolved.occurred_at
    )  # it happened before the reopening
    for e in (resolved, reopened, late_claim):
        intake.subscriber.apply(e.to_json())

    shown = _show(intake, issue_id)

    assert shown["status"] == "dispatched" and shown["tier"] == "big"


def test_a_co_units_part_does_not_move_the_issue(intake, issue_id):
    intake.subscriber.apply(event("issue.dispatched", issue_id, DISPATCHED).to_json())
    intake.subscriber.apply(
        event(
            "issue.claimed", issue_id, {"unit_id": "urban-management-bureau", "role": "co"}
        ).to_json()
    )

    shown = _show(intake, issue_id)

    assert shown["status"] == "dispatched"
    assert shown["timeline"][-1]["summary"] == "claimed by urban-management-bureau"


def test_returns_notes_and_closing_show_on_the_timeline(intake, issue_id):
    for type_, payload in [
        ("issue.dispatched", DISPATCHED),
        ("issue.returned", {"unit_id": "baian-xincun-property", "reason": "wrong_function"}),
        ("issue.progress_noted", {"unit_id": "baian-committee", "note": "明天上门"}),
        ("issue.closed", {"reason": "satisfied"}),
    ]:
        intake.subscriber.apply(event(type_, issue_id, payload).to_json())

    shown = _show(intake, issue_id)

    assert shown["status"] == "closed" and shown["status_note"] == "明天上门"
    assert [t["summary"] for t in shown["timeline"][2:]] == [
        "returned by baian-xincun-property: wrong_function",
        "progress from baian-committee: 明天上门",
        "closed (satisfied)",
    ]


def test_co_handling_parts_show_with_their_own_state_and_deadlines(intake, issue_id):
    lead = {**DISPATCHED, "unit_id": "baianba-office", "unit_name": "百安坝街道办事处"}
    part = {
        **DISPATCHED,
        "role": "co",
        "assignment": 2,
        "unit_id": "housing-bureau",
        "unit_name": "区住建委",
    }
    for type_, payload in [
        ("issue.dispatched", {**lead, "tier": "big"}),
        ("issue.dispatched", {**part, "tier": "big"}),
        ("issue.clock_armed", {"clock": "claim@2", "due_at": "2026-12-02T07:00:00+00:00"}),
        ("issue.claimed", {"role": "co", "assignment": 2, "unit_id": "housing-bureau"}),
    ]:
        intake.subscriber.apply(event(type_, issue_id, payload).to_json())

    shown = _show(intake, issue_id)

    assert shown["status"] == "dispatched"  # a part claimed is not the issue claimed
    assert shown["assigned_unit"]["id"] == "baianba-office"
    assert shown["parts"] == [
        {
            "assignment": 2,
            "unit_id": "housing-bureau",
            "unit_name": "区住建委",
            "state": "claimed",
            "claim_deadline": "2026-12-02T07:00:00+00:00",
        }
    ]
