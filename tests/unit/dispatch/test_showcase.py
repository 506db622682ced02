"""The public showcase (雙亮) through Flask's test client: its figures come from real flows
through dispatch (issue.submitted, escalation's clocks, claims and resolutions by units with
their own tokens, residents' feedback), the page, JSON and CSV say the same numbers, only a
street office approves entries of its own street, approved photos are public only while
approved, and no name or phone a resident gave appears on any public page."""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import timedelta

import pytest

from tests.helpers import event
from tests.unit.dispatch.test_unit_pages import csrf, png, post

OFFICE = "baianba-office"
OTHER_OFFICE = "wuqiao-office"
PROPERTY = "baian-xincun-property"
NOVEMBER, OCTOBER = "2026-11", "2026-10"


def _at(building: str, **more) -> dict:
    location = {"street": "baianba", "community": "baian", "compound": "baian-xincun"}
    return {"location": {**location, "building": building}, **more}


def _arm(dispatch, issue_id: str, clock: str, due) -> None:
    payload = {"clock": clock, "assignment": 1, "level": 0, "due_at": due.isoformat()}
    dispatch.subscriber.apply(
        event("issue.clock_armed", issue_id, payload, producer="escalation").to_json()
    )


def _feedback(dispatch, issue_id: str, satisfied: bool) -> None:
    payload = {"satisfied": satisfied, "rating": 5 if satisfied else 1}
    dispatch.subscriber.apply(
        event("issue.feedback_given", issue_id, payload, producer="intake").to_json()
    )


def _claim(dispatch, as_unit, issue_id: str, unit_id: str = PROPERTY) -> None:
    response = dispatch.app.test_client().post(
        f"/v1/assignments/{issue_id}/claim", headers=as_unit(unit_id)
    )
    assert response.status_code == 200, response.data


def _resolve(dispatch, as_unit, issue_id: str, resolution: str = "已清理杂物") -> None:
    response = dispatch.app.test_client().post(
        f"/v1/assignments/{issue_id}/resolve",
        headers=as_unit(PROPERTY),
        json={"resolution": resolution},
    )
    assert response.status_code == 200, response.data


def signed_in(client, as_unit, unit_id: str):
    token = as_unit(unit_id)["Authorization"].removeprefix("Bearer ")
    form = client.get("/units/sign-in")
    client.post("/units/sign-in", data={"csrf_token": csrf(form), "token": token})
    return client


@pytest.fixture
def month_of_issues(dispatch, submit, as_unit, clock):
    """Baianba's November: 6 received, each with the claim deadline its dispatch names (A B C E
    then given an hour by escalation's clock_armed), claimed in time by A, D and E (B late, C
    never, G not at all); resolve deadlines on A B E: A in time, B late (then reopened), E
    overdue unresolved; A and D satisfied, B not. Plus one in October (Beijing time) and one
    in Wuqiao."""
    t0 = clock()
    ids = {name: submit(**_at(str(n))) for n, name in enumerate(("A", "B", "C", "D", "E"), start=1)}
    ids["G"] = submit(  # 01:00 on 1 November in Beijing
        **_at("7", category="neighbour_dispute", submitted_at="2026-10-31T17:00:00+00:00")
    )
    ids["H"] = submit(**_at("8", submitted_at="2026-10-31T15:00:00+00:00"))  # 23:00, 31 Oct
    ids["F"] = submit(location={"street": "wuqiao", "community": "lianhua"})
    for name in ("A", "B", "C", "E"):
        _arm(dispatch, ids[name], "claim", t0 + timedelta(hours=1))
    _arm(dispatch, ids["A"], "resolve", t0 + timedelta(days=2))
    _arm(dispatch, ids["B"], "resolve", t0 + timedelta(days=1))
    _arm(dispatch, ids["E"], "resolve", t0 + timedelta(days=1))

    clock.advance(minutes=30)
    for name in ("A", "D", "E"):
        _claim(dispatch, as_unit, ids[name])
    clock.advance(hours=1, minutes=30)
    _claim(dispatch, as_unit, ids["B"])
    clock.advance(hours=18)
    _resolve(dispatch, as_unit, ids["A"], "已清理楼道杂物，联系电话13912345678")
    _resolve(dispatch, as_unit, ids["D"])
    clock.advance(days=2)
    _resolve(dispatch, as_unit, ids["B"])
    for name, satisfied in (("A", True), ("D", True), ("B", False)):
        _feedback(dispatch, ids[name], satisfied)
    return ids


def _row(rows: list[dict], street: str, month: str) -> dict:
    return next(r for r in rows if r["street"] == street and r["month"] == month)


def test_the_figures_are_what_the_streets_issues_imply(dispatch, month_of_issues, phone):
    rows = phone.get("/showcase/data.json").get_json()["rows"]

    november = _row(rows, "baianba", NOVEMBER)
    assert {k: november[k] for k in list(november)[2:]} == {
        "received": 6,
        "claimed_on_time": 3,
        "with_claim_deadline": 6,
        "response_rate": 0.5,
        "resolved_in_time": 1,
        "resolved_or_overdue": 3,
        "resolution_rate": 0.3333,
        "satisfied": 2,
        "answered": 3,
        "satisfaction_rate": 0.6667,
        "tier_private": 1,
        "tier_small": 4,
        "tier_big": 1,  # B, reopened one tier higher
        "tier_hard": 0,
    }
    october = _row(rows, "baianba", OCTOBER)
    assert october["received"] == 1 and october["response_rate"] == 0  # H, never claimed
    assert _row(rows, "wuqiao", NOVEMBER)["received"] == 1
    assert {r["street"] for r in rows} == {"baianba", "wuqiao"}


def test_the_page_and_the_csv_say_what_the_json_says(dispatch, month_of_issues, phone):
    as_json = phone.get("/showcase/data.json?street=baianba").get_json()["rows"]
    as_csv = list(csv.DictReader(io.StringIO(phone.get("/showcase/data.csv?street=baianba").text)))
    page = phone.get("/showcase/baianba")
    html = page.get_data(as_text=True)

    assert [r["month"] for r in as_json] == [OCTOBER, NOVEMBER]
    for from_json, from_csv in zip(as_json, as_csv, strict=True):
        assert from_csv == {k: "" if v is None else str(v) for k, v in from_json.items()}
    november = re.search(rf'<tr data-month="{NOVEMBER}">(.*?)</tr>', html, re.S).group(1)
    cells = re.findall(r'<td class="(\w+)">([^<]*)(?:<small>([^<]*)</small>)?</td>', november)
    assert cells == [
        ("received", "6", ""),
        ("response_rate", "50%", "3/6"),
        ("resolution_rate", "33%", "1/3"),
        ("satisfaction_rate", "67%", "2/3"),
    ]
    assert page.status_code == 200 and html.count('<svg role="img"') == 2
    assert "<script" not in html.split("</header>")[1]
    assert "无法" not in html and "办结率：在办结时限内办结的件数" in html


def test_the_district_page_sums_the_streets_and_speaks_english(dispatch, month_of_issues, phone):
    page = phone.get("/showcase?lang=en")
    html = page.get_data(as_text=True)

    november = re.search(rf'<tr data-month="{NOVEMBER}">(.*?)</tr>', html, re.S).group(1)
    assert '<td class="received">7</td>' in november  # six in Baianba, one in Wuqiao
    assert "Response rate: issues claimed within their claim deadline" in html
    assert 'data-street="wuqiao"' in html and "Baianba (百安坝街道)" in html
    assert phone.get("/showcase/nowhere").status_code == 404


def test_the_charts_keep_the_pages_policy(dispatch, month_of_issues, phone):
    page = phone.get("/showcase")
    html = page.get_data(as_text=True)
    policy = page.headers["Content-Security-Policy"]

    nonce = re.search(r"style-src 'self' 'nonce-([^']+)'", policy).group(1)
    assert "script-src 'none'" in policy and "unsafe-inline" not in policy
    styles = re.findall(r"<style([^>]*)>", html)
    assert len(styles) == 3 and all(f' nonce="{nonce}"' in s for s in styles)
    assert ' style="' not in html


def _approve(office, issue_id: str, summary: str, photos=()):
    page = office.get("/desk/showcase")
    data = {"csrf_token": csrf(page), "summary": summary, "photos": list(photos)}
    return office.post(f"/desk/showcase/{issue_id}/approve", data=data)


def test_a_street_office_approves_its_streets_resolved_issue_for_the_showcase(
    dispatch, month_of_issues, phone, as_unit
):
    office = signed_in(phone, as_unit, OFFICE)
    issue_id = month_of_issues["A"]
    listed = office.get("/desk/showcase").get_data(as_text=True)

    approved = _approve(office, issue_id, "清理了楼道杂物，电话13912345678")
    shown = dispatch.app.test_client().get("/showcase/baianba").get_data(as_text=True)

    assert f'id="i{issue_id}"' in listed and "已清理楼道杂物" in listed
    assert "1391****78" in listed  # the words offered for publishing are masked already
    assert approved.status_code == 303
    entry = re.search(r'<li class="card entry">(.*?)</li>', shown, re.S).group(1)
    assert "物业管理" in entry and "百安坝街道 › 百安社区 › 百安新村" in entry
    assert "清理了楼道杂物，电话1391****78" in entry and "用时20小时" in entry
    assert "栋" not in entry and "13912345678" not in shown


def test_only_the_streets_own_office_approves(dispatch, month_of_issues, as_unit):
    unsigned = dispatch.app.test_client()
    other = signed_in(dispatch.app.test_client(), as_unit, OTHER_OFFICE)
    company = signed_in(dispatch.app.test_client(), as_unit, PROPERTY)
    issue_id = month_of_issues["A"]

    refused_unsigned = unsigned.get("/desk/showcase")
    refused_company = company.get("/desk/showcase")
    other_page = other.get("/desk/showcase")
    refused_other = other.post(
        f"/desk/showcase/{issue_id}/approve",
        data={"csrf_token": csrf(other_page), "summary": "已处理"},
    )
    shown = unsigned.get("/showcase").get_data(as_text=True)

    assert refused_unsigned.status_code == 303
    assert refused_unsigned.headers["Location"].startswith("/units/sign-in")
    assert refused_company.status_code == 403 and "只有街道办" in refused_company.text
    assert other_page.status_code == 200 and issue_id not in other_page.text
    assert refused_other.status_code == 403 and "不属于本街道" in refused_other.text
    assert "暂无展示的事例" in shown


def test_an_unresolved_issue_or_a_foreign_photo_cannot_be_approved(
    dispatch, month_of_issues, phone, as_unit
):
    office = signed_in(phone, as_unit, OFFICE)

    open_one = _approve(office, month_of_issues["E"], "已处理")
    foreign = _approve(office, month_of_issues["D"], "已处理", ["f" * 32])
    empty = _approve(office, month_of_issues["D"], "")
    no_csrf = office.post(f"/desk/showcase/{month_of_issues['D']}/approve", data={"summary": "x"})

    assert open_one.status_code == 422 and "尚未办结" in open_one.text
    assert foreign.status_code == 422 and "不属于这件诉求" in foreign.text
    assert empty.status_code == 422 and "请填写公开展示的文字" in empty.text
    assert no_csrf.status_code == 400 and "表单已过期" in no_csrf.text
    assert "暂无展示的事例" in office.get("/showcase").text


def test_approved_photos_are_public_only_while_the_entry_is_approved(
    dispatch, submit, phone, as_unit
):
    issue_id = submit(**_at("9"))
    unit = signed_in(dispatch.app.test_client(), as_unit, PROPERTY)
    page = unit.get(f"/units/issues/{issue_id}")
    page = unit.get(post(unit, page, f"/units/issues/{issue_id}/claim").headers["Location"])
    post(
        unit,
        page,
        f"/units/issues/{issue_id}/resolve",
        {"resolution": "已修好"},
        files=[("after.png", png()), ("other.png", png(color=(0, 90, 200)))],
    )
    office = signed_in(phone, as_unit, OFFICE)
    photo_ids = re.findall(r'name="photos" value="(\w+)"', office.get("/desk/showcase").text)
    public = dispatch.app.test_client()

    before = public.get(f"/showcase/photos/{photo_ids[0]}")
    _approve(office, issue_id, "已修好", photo_ids[:1])
    shown = public.get("/showcase").text
    chosen = public.get(f"/showcase/photos/{photo_ids[0]}")
    not_chosen = public.get(f"/showcase/photos/{photo_ids[1]}")
    listed = office.get("/desk/showcase")
    office.post(f"/desk/showcase/{issue_id}/withdraw", data={"csrf_token": csrf(listed)})
    after = public.get(f"/showcase/photos/{photo_ids[0]}")

    assert len(photo_ids) == 2 and before.status_code == 404
    assert f"/showcase/photos/{photo_ids[0]}" in shown and photo_ids[1] not in shown
    assert chosen.status_code == 200 and chosen.data in (png(), png(color=(0, 90, 200)))
    assert chosen.mimetype == "image/png"
    assert not_chosen.status_code == 404 and after.status_code == 404
    assert "暂无展示的事例" in public.get("/showcase").text


def test_no_name_or_phone_a_resident_gave_reaches_a_public_page(dispatch, submit, phone, as_unit):
    secrets = ("张三", "李四", "13812345678", "13987654321", "8613812345678")
    issue_ids = [
        submit(
            **_at(str(n)),
            description=f"楼道杂物，我是{name}，电话{number}",
            reporter={"name": name, "phone": number},
        )
        for n, (name, number) in enumerate((("张三", "13812345678"), ("李四", "+8613987654321")))
    ]
    for issue_id in issue_ids:
        _claim(dispatch, as_unit, issue_id)
        _resolve(dispatch, as_unit, issue_id, "已回电13812345678并清理")
        _feedback(dispatch, issue_id, True)
    office = signed_in(phone, as_unit, OFFICE)
    for issue_id in issue_ids:
        _approve(office, issue_id, "已回电13812345678并清理")
    public = dispatch.app.test_client()

    pages = [
        public.get(path).get_data(as_text=True)
        for path in (
            "/showcase",
            "/showcase?lang=en",
            "/showcase/baianba",
            "/showcase/data.json",
            "/showcase/data.csv",
            "/showcase/data.json?street=baianba",
        )
    ]

    assert "已回电1381****78并清理" in pages[0]
    assert json.loads(pages[3])["rows"][0]["received"] == 2
    for page in pages:
        for secret in secrets:
            assert secret not in page
