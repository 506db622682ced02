"""The street office's desk through Flask's test client: signed in with the office's token it
sees its own street only; it classifies what no keyword could, arbitrates returns, runs the
work day (agenda, issues raised with promises, promises checked at the next meeting), each
through the API's commands: the same states and events."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from services.dispatch import store
from tests.helpers import emitted, event
from tests.unit.dispatch.test_unit_pages import csrf, post

OFFICE = "baianba-office"
OTHER_OFFICE = "wuqiao-office"
PROPERTY = "baian-xincun-property"


def signed_in(client, as_unit, unit_id: str = OFFICE):
    token = as_unit(unit_id)["Authorization"].removeprefix("Bearer ")
    form = client.get("/units/sign-in?next=/desk")
    return client.post(
        "/units/sign-in", data={"csrf_token": csrf(form), "token": token, "next": "/desk"}
    )


@pytest.fixture
def desk(phone, as_unit):
    """A browser at the Bai'an street office, signed in."""
    assert signed_in(phone, as_unit).headers["Location"] == "/desk"
    return phone


def _arm(dispatch, issue_id: str, due, clock: str = "claim"):
    payload = {"clock": clock, "assignment": 1, "level": 0, "due_at": due.isoformat()}
    dispatch.subscriber.apply(
        event("issue.clock_armed", issue_id, payload, producer="escalation").to_json()
    )


def test_the_desk_needs_a_street_offices_sign_in(phone, as_unit):
    unsigned = phone.get("/desk")
    signed_in(phone, as_unit, PROPERTY)
    property_company = phone.get("/desk")

    assert (
        unsigned.status_code == 303 and "/units/sign-in?next=/desk" in unsigned.headers["Location"]
    )
    assert property_company.status_code == 403
    assert "供街道办事处使用" in property_company.get_data(as_text=True)


def test_the_board_shows_the_streets_open_issues_overdue_first_and_filters(
    dispatch, submit, desk, clock
):
    calm = submit(description="楼道灯不亮了")
    late = submit(
        description="电梯停了三天",
        location={"street": "baianba", "compound": "baian-xincun", "building": "5"},
    )
    elsewhere = submit(location={"street": "wuqiao", "community": "lianhua"})
    _arm(dispatch, calm, clock.now + timedelta(hours=4))
    _arm(dispatch, late, clock.now + timedelta(minutes=30))
    clock.advance(hours=1)

    html = desk.get("/desk").get_data(as_text=True)
    small_only = desk.get("/desk?tier=big").get_data(as_text=True)
    fragment = desk.get("/desk?fragment=1")

    rows = re.findall(r'<tr class="([a-z]*)" data-issue="([0-9a-f-]+)"', html)
    assert [issue for _, issue in rows] == [late, calm]  # overdue first; the other street absent
    assert rows[0][0] == "overdue" and elsewhere not in html
    assert "百安新村物业公司" in html and "已超时" in html
    assert late not in small_only and "没有在办事项" in small_only
    assert fragment.status_code == 200 and "<html" not in fragment.get_data(as_text=True)
    assert late in fragment.get_data(as_text=True)


def test_an_unclassified_issue_is_classified_from_the_queue_and_sent(dispatch, submit, desk):
    issue_id = submit(category=None, description="这个事情说不清楚归谁")

    queue = desk.get("/desk/triage")
    sent = post(
        desk,
        queue,
        f"/desk/issues/{issue_id}/triage",
        {"category": "property_management", "needs_several_departments": "true"},
    )
    after = desk.get("/desk/triage").get_data(as_text=True)

    assert issue_id in queue.get_data(as_text=True) and "这个事情说不清楚归谁" in queue.get_data(
        as_text=True
    )
    assert sent.status_code == 303 and issue_id not in after
    [dispatched] = [
        e
        for e in emitted(dispatch.store, "issue.dispatched")
        if e.issue_id == issue_id and e.payload["role"] == "lead"
    ]
    assert dispatched.payload["category"] == "property_management"
    assert dispatched.payload["tier"] == "big"  # several departments raise it


def test_a_returned_issue_is_arbitrated_with_the_returns_reasons_shown(
    dispatch, submit, desk, as_unit
):
    issue_id = submit()
    client = dispatch.app.test_client()
    for _ in range(5):  # whoever has it returns it, until the street office must arbitrate
        case = client.get(f"/v1/assignments/{issue_id}", headers=as_unit(OFFICE)).json
        if case["state"] == "arbitration":
            break
        holder = case["assignments"][-1]["unit_id"]
        client.post(
            f"/v1/assignments/{issue_id}/return",
            headers=as_unit(holder),
            json={"reason": "wrong_place", "note": "不在我们的范围"},
        )

    queue = desk.get("/desk/triage")
    html = queue.get_data(as_text=True)
    forced = post(desk, queue, f"/desk/issues/{issue_id}/arbitrate", {"unit_id": PROPERTY})

    assert "退回待裁定" in html and "不在本单位辖区" in html and "不在我们的范围" in html
    assert forced.status_code == 303
    shown = client.get(f"/v1/assignments/{issue_id}", headers=as_unit(PROPERTY)).json
    assert shown["state"] == "dispatched" and shown["assignments"][-1]["forced"] is True


def test_a_work_day_raises_issues_with_promises_kept_or_not_at_the_next_meeting(
    dispatch, submit, desk, as_unit, clock
):
    kept, broken = (
        submit(description="楼道杂物"),
        submit(
            description="单元门坏了",
            location={"street": "baianba", "compound": "baian-xincun", "building": "7"},
        ),
    )
    form = desk.get("/desk/meetings")
    called = post(
        desk,
        form,
        "/desk/meetings",
        {"held_on": "2026-12-02", "place": "百安社区会议室", "attending_units": [PROPERTY]},
    )
    meeting_url = called.headers["Location"]
    agenda = desk.get(meeting_url)
    for issue_id in (kept, broken):
        post(
            desk,
            agenda,
            meeting_url + "/raise",
            {
                "issue_id": issue_id,
                "unit_id": PROPERTY,
                "promise": "三天内处理完",
                "promised_by": "2026-12-05T18:00",
            },
        )
    again = post(
        desk,
        agenda,
        meeting_url + "/raise",
        {
            "issue_id": kept,
            "unit_id": PROPERTY,
            "promise": "改口",
            "promised_by": "2026-12-09T18:00",
        },
    )
    assert "本次会议已交办过" in desk.get(again.headers["Location"]).get_data(as_text=True)
    unit = as_unit(PROPERTY)
    client = dispatch.app.test_client()
    client.post(f"/v1/assignments/{kept}/claim", headers=unit)
    client.post(f"/v1/assignments/{kept}/resolve", headers=unit, json={"resolution": "已清理"})
    clock.advance(days=10)
    nxt = post(
        desk,
        desk.get("/desk/meetings"),
        "/desk/meetings",
        {"held_on": "2026-12-12", "place": "百安社区会议室", "attending_units": [PROPERTY]},
    )
    record = desk.get(meeting_url).get_data(as_text=True)
    checked = desk.get(nxt.headers["Location"]).get_data(as_text=True)

    assert "楼道杂物" in agenda.get_data(as_text=True) and "打印议程" in agenda.get_data(
        as_text=True
    )
    with dispatch.store.read() as conn:
        items = conn.execute(select(store.meeting_items)).all()
        promised = store.get_case(conn, broken).promised_by
    assert sorted(i.issue_id for i in items) == sorted([kept, broken])
    assert {i.promise for i in items} == {"三天内处理完"}  # the first promise stands
    assert promised is not None and promised.isoformat().startswith("2026-12-05T10:00")
    assert record.count("三天内处理完") == 2
    assert "上次会议（2026-12-02）的承诺兑现情况" in checked
    assert re.search(r"楼道杂物.*?已兑现", checked, re.DOTALL)
    assert re.search(r"单元门坏了.*?未兑现", checked, re.DOTALL)


def test_the_desk_refuses_another_streets_issue_and_a_bad_form_naming_the_field(
    dispatch, submit, desk
):
    other = submit(
        category=None, description="说不清", location={"street": "wuqiao", "community": "lianhua"}
    )
    mine = submit(category=None, description="说不清")
    queue = desk.get("/desk/triage")

    foreign = post(desk, queue, f"/desk/issues/{other}/triage", {"category": "other"})
    unknown = post(desk, queue, f"/desk/issues/{mine}/triage", {"category": "no_such"})
    empty = post(desk, queue, f"/desk/issues/{mine}/tier", {"tier": "big"})

    assert foreign.status_code == 403
    assert unknown.status_code == 422 and "类别" in unknown.get_data(as_text=True)
    assert empty.status_code == 422 and "原因" in empty.get_data(as_text=True)
    assert not [
        e for e in emitted(dispatch.store, "issue.dispatched") if e.issue_id in (other, mine)
    ]
