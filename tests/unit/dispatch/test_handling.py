"""Units claim, return, note and resolve their own assignments only, in the order the
lifecycle allows; returns never bounce forever."""

import pytest

from tests.helpers import emitted, event
from tests.unit.dispatch.conftest import dispatched_to

PROPERTY = "baian-xincun-property"


def _post(dispatch, path, headers, body=None):
    return dispatch.app.test_client().post(path, headers=headers, json=body or {})


def test_the_unit_claims_notes_and_resolves(dispatch, submit, as_unit):
    issue_id, unit = submit(), as_unit(PROPERTY)

    claimed = _post(dispatch, f"/v1/assignments/{issue_id}/claim", unit)
    noted = _post(
        dispatch, f"/v1/assignments/{issue_id}/notes", unit, {"note": "已联系保洁，明天清理"}
    )
    resolved = _post(
        dispatch, f"/v1/assignments/{issue_id}/resolve", unit, {"resolution": "楼道已清空"}
    )

    assert (claimed.status_code, noted.status_code, resolved.status_code) == (200, 201, 200)
    assert resolved.json["state"] == "resolved"
    [claim] = emitted(dispatch.store, "issue.claimed")
    assert claim.payload["unit_id"] == PROPERTY and claim.payload["role"] == "lead"
    assert [e.payload["note"] for e in emitted(dispatch.store, "issue.progress_noted")] == [
        "已联系保洁，明天清理"
    ]
    assert len(emitted(dispatch.store, "issue.resolved")) == 1


def test_the_inbox_shows_a_unit_its_own_assignments_only(dispatch, submit, as_unit):
    issue_id = submit()

    mine = dispatch.app.test_client().get("/v1/inbox", headers=as_unit(PROPERTY)).json
    theirs = dispatch.app.test_client().get("/v1/inbox", headers=as_unit("lianhua-committee")).json

    assert [a["issue_id"] for a in mine["assignments"]] == [issue_id] and theirs[
        "assignments"
    ] == []


@pytest.mark.parametrize(
    "path, body, status, named",
    [
        ("claim", None, 403, None),
    ],
)
def test_another_units_assignment_cannot_be_touched(
    dispatch, submit, as_unit, path, body, status, named
):
    issue_id, other_unit = submit(), as_unit("lianhua-committee")
    before = len(emitted(dispatch.store))

    response = _post(dispatch, f"/v1/assignments/{issue_id}/{path}", other_unit, body)

    assert response.status_code == status and response.mimetype == "application/problem+json"
    assert len(emitted(dispatch.store)) == before


@pytest.mark.parametrize(
    "first, action, body, status",
    [
        (None, "resolve", {"resolution": "x"}, 409),
        (None, "notes", {"note": "x"}, 409),
        ("claim", "claim", None, 409),
        ("claim", "return", {"reason": "wrong_place"}, 409),
        (None, "return", {}, 422),
        (None, "return", {"reason": "too_busy"}, 422),
        (None, "resolve", {}, 422),
    ],
)
def test_actions_out_of_turn_or_malformed_are_refused_and_change_nothing(
    dispatch, submit, as_unit, first, action, body, status
):
    issue_id, unit = submit(), as_unit(PROPERTY)
    if first:
        _post(dispatch, f"/v1/assignments/{issue_id}/{first}", unit)
    before = len(emitted(dispatch.store))

    response = _post(dispatch, f"/v1/assignments/{issue_id}/{action}", unit, body)

    assert response.status_code == status and response.mimetype == "application/problem+json"
    if status == 409:
        assert response.json["state"] in response.json["detail"]
    assert len(emitted(dispatch.store)) == before


def test_without_a_unit_token_nothing_is_allowed(dispatch, submit):
    issue_id = submit()

    for headers in ({}, {"Authorization": "Bearer made-up"}):
        assert _post(dispatch, f"/v1/assignments/{issue_id}/claim", headers).status_code == 401


def test_a_returned_issue_goes_to_the_next_candidate_never_twice_to_one_unit(
    dispatch, submit, as_unit
):
    issue_id = submit()

    _post(
        dispatch,
        f"/v1/assignments/{issue_id}/return",
        as_unit(PROPERTY),
        {"reason": "wrong_function"},
    )
    second = dispatched_to(dispatch, issue_id)[-1][0]
    _post(
        dispatch,
        f"/v1/assignments/{issue_id}/return",
        as_unit(second),
        {"reason": "unclear_ownership"},
    )
    third = dispatched_to(dispatch, issue_id)[-1][0]

    leads = [unit for unit, role in dispatched_to(dispatch, issue_id) if role == "lead"]
    assert leads == [PROPERTY, second, third] and len(set(leads)) == 3
    assert [e.payload["returns"] for e in emitted(dispatch.store, "issue.returned")] == [1, 2]


def test_past_the_return_limit_the_street_office_arbitrates_and_its_choice_sticks(
    dispatch, submit, as_unit
):
    issue_id = submit()
    for _ in range(3):  # max_returns is 2: the third return goes to arbitration
        lead = dispatched_to(dispatch, issue_id)[-1][0]
        _post(
            dispatch,
            f"/v1/assignments/{issue_id}/return",
            as_unit(lead),
            {"reason": "wrong_function"},
        )
    [needed] = emitted(dispatch.store, "issue.arbitration_needed")
    office = as_unit("baianba-office")

    unknown = _post(dispatch, f"/v1/issues/{issue_id}/arbitrate", office, {"unit_id": "nobody"})
    not_office = _post(
        dispatch, f"/v1/issues/{issue_id}/arbitrate", as_unit(PROPERTY), {"unit_id": PROPERTY}
    )
    chosen = _post(dispatch, f"/v1/issues/{issue_id}/arbitrate", office, {"unit_id": PROPERTY})
    returned_again = _post(
        dispatch, f"/v1/assignments/{issue_id}/return", as_unit(PROPERTY), {"reason": "wrong_place"}
    )

    assert needed.payload["street_office_id"] == "baianba-office" and needed.payload["returns"] == 3
    assert (unknown.status_code, not_office.status_code, chosen.status_code) == (422, 403, 200)
    assert emitted(dispatch.store, "issue.dispatched")[-1].payload["forced"] is True
    assert returned_again.status_code == 409


def test_a_supervisor_re_tiers_with_a_reason_and_a_unit_that_is_not_cannot(
    dispatch, submit, as_unit
):
    issue_id = submit()

    refused = _post(
        dispatch,
        f"/v1/issues/{issue_id}/tier",
        as_unit("lianhua-committee"),
        {"tier": "big", "reason": "牵涉多个部门"},
    )
    moved = _post(
        dispatch,
        f"/v1/issues/{issue_id}/tier",
        as_unit("baianba-office"),
        {"tier": "big", "reason": "牵涉多个部门"},
    )

    assert refused.status_code == 403
    assert moved.status_code == 200 and moved.json["tier"] == "big"
    [retiered] = emitted(dispatch.store, "issue.retiered")
    assert (
        retiered.payload["by_unit_id"] == "baianba-office"
        and retiered.payload["reason"] == "牵涉多个部门"
    )
    assert dispatched_to(dispatch, issue_id)[-2:] == [
        ("baianba-office", "lead"),
        ("housing-bureau", "co"),
    ]


def test_events_about_unknown_issues_change_nothing_and_are_counted(dispatch):
    feedback = event("issue.feedback_given", "ghost", {"satisfied": True, "rating": 5})

    outcome = dispatch.subscriber.apply(feedback.to_json())

    assert outcome == "unknown_issue" and emitted(dispatch.store) == []
