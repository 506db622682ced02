"""A unit's SMS reply (unit.replied from notify) claims, returns or resolves as that unit, through
the same commands as the API; whatever the domain says goes back as unit.reply_applied in the
same transaction, a refusal as an answer in Chinese, never a retry."""

import uuid

import pytest

from services.dispatch.replies import return_reason
from tests.helpers import emitted, event

PROPERTY = "baian-xincun-property"


def _reply(dispatch, issue_id, action, text="", unit_id=PROPERTY, assignment=None):
    """Apply one unit.replied; (the outcome, the unit.reply_applied it caused)."""
    if assignment is None:
        assignment = _assignment(dispatch, issue_id, unit_id)
    inbound_id = str(uuid.uuid4())
    message = event(
        "unit.replied",
        issue_id,
        {
            "issue_id": issue_id,
            "assignment": assignment,
            "unit_id": unit_id,
            "action": action,
            "text": text,
            "inbound_id": inbound_id,
        },
        producer="notify",
    ).to_json()
    outcome = dispatch.subscriber.apply(message)
    answers = [
        e.payload
        for e in emitted(dispatch.store, "unit.reply_applied")
        if e.payload["inbound_id"] == inbound_id
    ]
    return outcome, answers[-1] if answers else None


def _assignment(dispatch, issue_id, unit_id=PROPERTY) -> int:
    numbers = [
        e.payload["assignment"]
        for e in emitted(dispatch.store, "issue.dispatched")
        if e.issue_id == issue_id and e.payload["unit_id"] == unit_id
    ]
    return numbers[-1] if numbers else 1


def _state(dispatch, issue_id, as_unit) -> str:
    response = dispatch.app.test_client().get(
        f"/v1/assignments/{issue_id}", headers=as_unit(PROPERTY)
    )
    return response.json["assignments"][-1]["state"]


def test_a_reply_claims_as_the_unit_and_says_so(dispatch, submit, as_unit):
    issue_id = submit()

    outcome, answer = _reply(dispatch, issue_id, "claim")

    assert outcome == "applied" and _state(dispatch, issue_id, as_unit) == "claimed"
    assert answer["accepted"] is True and "已认领" in answer["detail"]
    assert (answer["issue_id"], answer["unit_id"]) == (issue_id, PROPERTY)
    [claimed] = emitted(dispatch.store, "issue.claimed")
    assert claimed.payload["unit_id"] == PROPERTY


def test_a_second_claim_is_refused_in_words_not_retried(dispatch, submit):
    issue_id = submit()
    _reply(dispatch, issue_id, "claim")

    outcome, answer = _reply(dispatch, issue_id, "claim")

    assert outcome == "applied"  # answered, so neither retried nor dead-lettered
    assert (answer["accepted"], answer["detail"]) == (False, "该件已认领")
    assert len(emitted(dispatch.store, "issue.claimed")) == 1


@pytest.mark.parametrize(
    "text, reason",
    [
        ("不归我们管，请转城管", "wrong_function"),
        ("这不是我们的职能", "wrong_function"),
        ("地址不在本小区", "wrong_place"),
        ("说不清楚是谁的", "unclear_ownership"),
        ("", "unclear_ownership"),
    ],
)
def test_a_return_takes_its_reason_from_the_words_and_keeps_them_as_the_note(
    dispatch, submit, text, reason
):
    issue_id = submit()

    _outcome, answer = _reply(dispatch, issue_id, "return", text)

    [returned] = emitted(dispatch.store, "issue.returned")
    assert returned.payload["reason"] == reason
    assert returned.payload["note"] == (text or None)
    assert answer["accepted"] is True and "已退回" in answer["detail"]
    assert len(emitted(dispatch.store, "issue.dispatched")) == 2  # sent on to the next unit


def test_a_resolve_reply_carries_its_text_as_the_resolution(dispatch, submit, as_unit):
    issue_id = submit()
    _reply(dispatch, issue_id, "claim")

    _outcome, answer = _reply(dispatch, issue_id, "resolve", "楼道已清空")

    [resolved] = emitted(dispatch.store, "issue.resolved")
    assert resolved.payload["resolution"] == "楼道已清空"
    assert answer["accepted"] is True and _state(dispatch, issue_id, as_unit) == "resolved"


@pytest.mark.parametrize(
    "first, action, text, detail",
    [
        (None, "resolve", "已处理", "该件尚未认领，请先认领再办结"),
        ("claim", "return", "不归我们", "该件已认领，不能退回"),
        ("claim", "resolve", "", "请写明办理结果，例如回复“3 编号 已疏通”"),
    ],
)
def test_replies_out_of_turn_are_answered_and_change_nothing(
    dispatch, submit, as_unit, first, action, text, detail
):
    issue_id = submit()
    if first:
        _reply(dispatch, issue_id, first)
    state = _state(dispatch, issue_id, as_unit)
    before = [e.type for e in emitted(dispatch.store)]

    outcome, answer = _reply(dispatch, issue_id, action, text)

    assert outcome == "applied" and (answer["accepted"], answer["detail"]) == (False, detail)
    assert [e.type for e in emitted(dispatch.store)] == [*before, "unit.reply_applied"]
    assert _state(dispatch, issue_id, as_unit) == state


def test_a_reply_for_another_units_assignment_is_refused(dispatch, submit):
    issue_id = submit()

    _outcome, answer = _reply(
        dispatch, issue_id, "claim", unit_id="lianhua-committee", assignment=1
    )

    assert answer["accepted"] is False and "不是派给贵单位" in answer["detail"]
    assert emitted(dispatch.store, "issue.claimed") == []


def test_a_reply_to_an_assignment_no_longer_current_is_refused(dispatch, submit):
    issue_id = submit()
    first = _assignment(dispatch, issue_id)
    _reply(dispatch, issue_id, "claim")
    _reply(dispatch, issue_id, "resolve", "已清理")
    dispatch.subscriber.apply(  # dissatisfied: sent again to the same unit, a new assignment
        event("issue.feedback_given", issue_id, {"satisfied": False, "rating": 1}).to_json()
    )
    assert _assignment(dispatch, issue_id) != first

    _outcome, answer = _reply(dispatch, issue_id, "claim", assignment=first)

    assert answer["accepted"] is False and "已失效" in answer["detail"]
    assert len(emitted(dispatch.store, "issue.claimed")) == 1


def test_a_reply_about_an_unknown_issue_or_unit_is_answered(dispatch, submit):
    issue_id = submit()

    _o, no_issue = _reply(dispatch, str(uuid.uuid4()), "claim", assignment=1)
    _o, no_unit = _reply(dispatch, issue_id, "claim", unit_id="no-such-unit", assignment=1)

    assert (no_issue["accepted"], no_issue["detail"]) == (False, "找不到该件")
    assert no_unit["accepted"] is False and "名录" in no_unit["detail"]


def test_a_redelivered_reply_is_applied_once(dispatch, submit):
    issue_id = submit()
    body = event(
        "unit.replied",
        issue_id,
        {
            "issue_id": issue_id,
            "assignment": _assignment(dispatch, issue_id),
            "unit_id": PROPERTY,
            "action": "claim",
            "text": "",
            "inbound_id": "in-1",
        },
        producer="notify",
    ).to_json()

    outcomes = [dispatch.subscriber.apply(body), dispatch.subscriber.apply(body)]

    assert outcomes == ["applied", "duplicate"]
    assert len(emitted(dispatch.store, "unit.reply_applied")) == 1
    assert len(emitted(dispatch.store, "issue.claimed")) == 1


def test_the_dispatch_notice_carries_the_building_and_the_description_with_phones_masked(
    dispatch, submit
):
    issue_id = submit(description="3栋楼道堆满杂物，请联系13800001111")

    [dispatched] = [
        e for e in emitted(dispatch.store, "issue.dispatched") if e.issue_id == issue_id
    ]

    assert dispatched.payload["building"] == "3"
    assert dispatched.payload["description"] == "3栋楼道堆满杂物，请联系1380****11"


def test_no_building_named_is_none(dispatch, submit):
    issue_id = submit(location={"street": "baianba", "community": "baian"})

    [dispatched] = [
        e for e in emitted(dispatch.store, "issue.dispatched") if e.issue_id == issue_id
    ]

    assert dispatched.payload["building"] is None


@pytest.mark.parametrize(
    "text, reason",
    [
        ("不是我们单位的事", "wrong_function"),
        ("此事不属于物业职能范围", "wrong_function"),
        ("地点不对", "wrong_place"),
        ("这栋楼不在我们小区", "wrong_place"),
        ("请核实", "unclear_ownership"),
    ],
)
def test_the_return_reason_of_a_replys_words(text, reason):
    assert return_reason(text) == reason
