"""A supervisor an escalation or a warning reaches (the community committee above a property
company, the street office, the district leader) opens the issue from its own SMS link, reads
it, and urges the unit in charge (督办意见) by page, by API or by SMS reply; it never claims or
resolves in that unit's place."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from district.links import SUPERVISION, link_code
from services.dispatch.store import notes, unit_links
from tests.helpers import LINK_SECRET, emitted, event
from tests.unit.dispatch.test_replies import _reply
from tests.unit.dispatch.test_unit_pages import PROPERTY, csrf, opened, post

COMMITTEE = "baian-committee"  # the property company's supervisor in deploy/directory.yaml
STRANGER = "lianhua-committee"  # supervises nothing in Bai'an


def escalate(dispatch, clock, issue_id: str, to_unit_id: str = COMMITTEE, level: int = 1):
    """What escalation publishes when the claim deadline passes."""
    dispatch.subscriber.apply(
        event(
            "issue.escalated",
            issue_id,
            {
                "clock": "claim",
                "assignment": 1,
                "level": level,
                "reason": "claim_overdue",
                "from_unit_id": PROPERTY,
                "to_unit_id": to_unit_id,
                "to_unit_name": "",
                "missed_deadline": clock.now.isoformat(),
                "next_deadline": (clock.now + timedelta(hours=2)).isoformat(),
                "escalated_at": clock.now.isoformat(),
            },
            producer="escalation",
        ).to_json()
    )


def supervision_link(issue_id: str, unit_id: str = COMMITTEE) -> str:
    return f"/u/{link_code(LINK_SECRET, issue_id, unit_id, SUPERVISION)}"


def test_an_escalation_records_the_supervisors_link_once_however_often_it_climbs_there(
    dispatch, submit, clock
):
    issue_id = submit()

    escalate(dispatch, clock, issue_id)
    escalate(dispatch, clock, issue_id, level=2)  # reached again: the same link

    with dispatch.store.read() as conn:
        rows = conn.execute(
            select(unit_links).where(
                unit_links.c.issue_id == issue_id, unit_links.c.unit_id == COMMITTEE
            )
        ).all()
    assert [(r.assignment, r.code) for r in rows] == [
        (SUPERVISION, link_code(LINK_SECRET, issue_id, COMMITTEE, SUPERVISION))
    ]


def test_a_supervisor_opens_its_link_reads_the_issue_and_urges_the_unit_in_charge(
    dispatch, submit, clock, phone
):
    issue_id = submit()
    escalate(dispatch, clock, issue_id)

    page = phone.get(phone.get(supervision_link(issue_id)).headers["Location"])
    html = page.get_data(as_text=True)
    sent = post(phone, page, f"/units/issues/{issue_id}/urge", {"note": "请今天内清理<b>楼道</b>"})
    after = phone.get(sent.headers["Location"]).get_data(as_text=True)

    assert page.status_code == 200 and "百安社区居委会（督办）" in html
    assert "承办单位：百安新村物业公司" in html and "楼道里的杂物堆了一个月" in html
    assert ">认领<" not in html and "退回原因" not in html  # the lifecycle is the unit's
    assert sent.status_code == 303 and "督办意见已发给承办单位" in after
    assert "百安社区居委会督办" in after and "&lt;b&gt;楼道&lt;/b&gt;" in after
    [urged] = emitted(dispatch.store, "issue.urged")
    assert urged.payload["unit_id"] == PROPERTY and urged.payload["assignment"] == 1
    assert urged.payload["by_unit_id"] == COMMITTEE
    assert urged.payload["note"] == "请今天内清理<b>楼道</b>"


def test_a_supervisor_cannot_claim_or_resolve_in_the_units_place(dispatch, submit, clock, phone):
    issue_id = submit()
    escalate(dispatch, clock, issue_id)
    page = phone.get(phone.get(supervision_link(issue_id)).headers["Location"])

    claimed = post(phone, page, f"/units/issues/{issue_id}/claim")
    resolved = post(phone, page, f"/units/issues/{issue_id}/resolve", {"resolution": "已处理"})

    assert claimed.status_code == 403 and resolved.status_code == 403
    assert emitted(dispatch.store, "issue.claimed") == []
    assert emitted(dispatch.store, "issue.resolved") == []


def test_the_unit_in_charge_sees_the_urging_on_its_own_page(dispatch, submit, clock, phone):
    issue_id = submit()
    escalate(dispatch, clock, issue_id)
    supervisor = dispatch.app.test_client()
    page = supervisor.get(supervisor.get(supervision_link(issue_id)).headers["Location"])
    post(supervisor, page, f"/units/issues/{issue_id}/urge", {"note": "居民又来电了"})

    html = opened(phone, dispatch, issue_id).get_data(as_text=True)

    assert "百安社区居委会督办" in html and "居民又来电了" in html


def test_urging_is_refused_once_the_issue_is_resolved_and_to_a_unit_that_does_not_supervise(
    dispatch, submit, clock, phone, as_unit
):
    issue_id = submit()
    escalate(dispatch, clock, issue_id)
    unit = as_unit(PROPERTY)
    client = dispatch.app.test_client()
    outsider = client.post(
        f"/v1/issues/{issue_id}/urge", headers=as_unit(STRANGER), json={"note": "快"}
    )
    own_unit = client.post(f"/v1/issues/{issue_id}/urge", headers=unit, json={"note": "快"})
    by_api = client.post(
        f"/v1/issues/{issue_id}/urge", headers=as_unit(COMMITTEE), json={"note": "快"}
    )
    client.post(f"/v1/assignments/{issue_id}/claim", headers=unit)
    client.post(f"/v1/assignments/{issue_id}/resolve", headers=unit, json={"resolution": "已清理"})
    late = client.post(
        f"/v1/issues/{issue_id}/urge", headers=as_unit(COMMITTEE), json={"note": "快"}
    )
    empty = client.post(f"/v1/issues/{issue_id}/urge", headers=as_unit(COMMITTEE), json={})

    assert outsider.status_code == 403 and own_unit.status_code == 403
    assert by_api.status_code == 201
    assert late.status_code == 409 and late.json["state"] == "resolved"
    assert empty.status_code == 422 and "note" in empty.json["errors"]
    assert len(emitted(dispatch.store, "issue.urged")) == 1


def test_a_supervisor_signed_in_with_its_token_may_open_the_issue_it_supervises(
    dispatch, submit, phone, as_unit
):
    issue_id = submit()
    token = as_unit("baianba-office")["Authorization"].removeprefix("Bearer ")
    form = phone.get("/units/sign-in")
    phone.post("/units/sign-in", data={"csrf_token": csrf(form), "token": token})

    page = phone.get(f"/units/issues/{issue_id}")

    assert page.status_code == 200 and "百安坝街道办事处（督办）" in page.get_data(as_text=True)


def test_a_supervisors_sms_reply_urges_and_a_wrong_codes_action_is_refused(dispatch, submit, clock):
    issue_id = submit()
    escalate(dispatch, clock, issue_id)

    claim = _reply(dispatch, issue_id, "claim", unit_id=COMMITTEE, assignment=SUPERVISION)
    urged = _reply(
        dispatch, issue_id, "urge", "请今天内处理", unit_id=COMMITTEE, assignment=SUPERVISION
    )
    by_unit = _reply(dispatch, issue_id, "urge", "我自己督办自己", assignment=1)
    wordless = _reply(dispatch, issue_id, "urge", "", unit_id=COMMITTEE, assignment=SUPERVISION)

    assert claim[1]["accepted"] is False and "此编号用于督办" in claim[1]["detail"]
    assert urged[1] == {**urged[1], "accepted": True, "detail": "督办意见已发给承办单位"}
    assert by_unit[1]["accepted"] is False and "只有督办单位能督办" in by_unit[1]["detail"]
    assert wordless[1]["accepted"] is False and "请写明督办意见" in wordless[1]["detail"]
    assert [e.payload["note"] for e in emitted(dispatch.store, "issue.urged")] == ["请今天内处理"]
    with dispatch.store.read() as conn:
        kinds = [r.kind for r in conn.execute(select(notes).where(notes.c.issue_id == issue_id))]
    assert kinds == ["urge"]


def test_a_returns_explanation_is_on_the_timeline_as_what_it_is(dispatch, submit, phone):
    issue_id = submit()
    page = opened(phone, dispatch, issue_id)

    post(
        phone,
        page,
        f"/units/issues/{issue_id}/return",
        {"reason": "wrong_place", "note": "此楼栋归隔壁小区物业"},
    )
    supervisor = dispatch.app.test_client()
    supervisor.environ_base["HTTP_ACCEPT_LANGUAGE"] = "zh-CN"
    html = opened(supervisor, dispatch, issue_id).get_data(as_text=True)

    assert "百安新村物业公司退回说明" in html and "此楼栋归隔壁小区物业" in html


def test_the_english_page_names_the_category_in_english(dispatch, submit):
    issue_id = submit()
    client = dispatch.app.test_client()
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"

    html = opened(client, dispatch, issue_id).get_data(as_text=True)

    assert "Property management" in html and "物业管理" not in html
