"""The district leader's supervision board through Flask's test client: a leader signs in with
its unit token, sees the supervised issues of its streets and no others, and extends, closes
or escalates by form with the very effects of the API (clocks and events compared with a twin
issue acted on through the API); forms need their CSRF token, text is escaped, refusals are
pages and are counted; a unit that is not a leader sees nothing (403)."""

from __future__ import annotations

import random
import re
from datetime import UTC, datetime, timedelta

import pytest
from prometheus_client import REGISTRY

from district.links import reference
from district.local_time import local
from services.escalation import store
from shared.tokens import token_hash
from tests.helpers import build, emitted, event

UNIT = "baian-xincun-property"
ZH = "zh-CN,zh;q=0.9"
DISPATCHED = {
    "assignment": 1,
    "role": "lead",
    "unit_id": UNIT,
    "tier": "small",
    "street": "baianba",
    "category": "property_management",
    "category_name": "物业管理",
    "place_id": "baian-xincun",
    "place_name": "百安新村",
    "building": "3",
    "description": "百安新村3栋下水道堵了，污水漫到楼道，请联系13800000000",
}
IN_WUQIAO = {
    **DISPATCHED,
    "unit_id": "lianhua-committee",
    "street": "wuqiao",
    "place_id": "lianhua",
    "place_name": "莲花社区",
    "building": None,
    "description": "莲花社区路灯不亮",
}


def issued_token(escalation, unit_id: str) -> str:
    """A unit's token as `loudong units token` makes it and escalation learns its hash."""
    token = f"lu_test_{unit_id}_{random.random()}"
    escalation.subscriber.apply(
        event(
            "unit.token_issued",
            f"unit:{unit_id}",
            {"unit_id": unit_id, "token_hash": token_hash(token)},
        ).to_json()
    )
    return token


def supervised(escalation, clock, sweep, *issue_ids: str, payload=DISPATCHED) -> None:
    """Issues nobody claims, dispatched at the same moment, climbing their ladder together
    until a district leader supervises them."""
    for issue_id in issue_ids:
        escalation.subscriber.apply(event("issue.dispatched", issue_id, payload).to_json())
    for _ in range(3):
        clock.advance(hours=3)
        sweep()
    with escalation.store.read() as conn:
        for issue_id in issue_ids:
            assert store.get_clock(conn, issue_id, "supervision").state == "armed"


def csrf(page) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', page.get_data(as_text=True)).group(1)


def signed_in(escalation, unit_id: str = "leader-north"):
    """A browser signed in as the unit, and its board."""
    browser = escalation.app.test_client()
    browser.environ_base["HTTP_ACCEPT_LANGUAGE"] = ZH
    form = browser.get("/leader/sign-in")
    token = issued_token(escalation, unit_id)
    answer = browser.post(
        "/leader/sign-in", data={"csrf_token": csrf(form), "token": token}, follow_redirects=True
    )
    return browser, answer


def browser_in_english(escalation):
    browser, _ = signed_in(escalation, "leader-north")
    return browser


def post_form(browser, path: str, data: dict):
    page = browser.get("/leader")
    return browser.post(path, data={"csrf_token": csrf(page), **data})


def api(escalation, path: str, body: dict, unit_id: str = "leader-north"):
    headers = {"Authorization": f"Bearer {issued_token(escalation, unit_id)}"}
    return escalation.app.test_client().post(path, headers=headers, json=body)


def clocks_of(escalation, issue_id: str) -> dict:
    """The issue's clocks as the API shows them, without the issue's id."""
    shown = escalation.app.test_client().get(f"/v1/issues/{issue_id}/clocks").json["clocks"]
    return {c["clock"]: {k: v for k, v in c.items() if k != "issue_id"} for c in shown}


def payloads(escalation, type_: str, issue_id: str) -> list[dict]:
    return [
        {k: v for k, v in e.payload.items() if k != "issue_id"}
        for e in emitted(escalation.store, type_)
        if e.issue_id == issue_id
    ]


def refusals(reason: str) -> float:
    sample = "loudong_escalation_page_refusals_total"
    return REGISTRY.get_sample_value(sample, {"reason": reason}) or 0


def test_a_leader_signs_in_with_its_token_and_a_bad_or_revoked_one_is_refused(escalation):
    browser, board = signed_in(escalation)
    stranger = escalation.app.test_client()
    form = stranger.get("/leader/sign-in")
    before = refusals("bad_token")

    bad = stranger.post("/leader/sign-in", data={"csrf_token": csrf(form), "token": "nope"})

    assert board.status_code == 200 and "包片区领导（百安坝、钟鼓楼）的督办事项" in board.text
    assert browser.get_cookie("loudong_escalation") is not None
    assert bad.status_code == 401 and "令牌无效或已停用" in bad.text
    assert refusals("bad_token") == before + 1
    assert stranger.get("/leader").status_code == 303


def test_a_revoked_token_stops_the_signed_in_session_at_once(escalation, clock):
    browser = escalation.app.test_client()
    form = browser.get("/leader/sign-in")
    token = issued_token(escalation, "leader-north")
    browser.post("/leader/sign-in", data={"csrf_token": csrf(form), "token": token})
    assert browser.get("/leader").status_code == 200

    escalation.subscriber.apply(
        event(
            "unit.token_revoked",
            "unit:leader-north",
            {
                "unit_id": "leader-north",
                "token_hash": token_hash(token),
                "revoked_at": clock.now.isoformat(),
            },
        ).to_json()
    )
    again = browser.post("/leader/sign-in", data={"csrf_token": csrf(form), "token": token})

    assert browser.get("/leader").status_code == 303
    assert again.status_code == 401


def test_a_leader_sees_the_supervised_issues_of_its_streets_and_not_others(
    escalation, clock, sweep
):
    supervised(escalation, clock, sweep, "north-1")
    supervised(escalation, clock, sweep, "south-1", payload=IN_WUQIAO)
    escalation.subscriber.apply(
        event("issue.dispatched", "north-unsupervised", DISPATCHED).to_json()
    )

    north = signed_in(escalation, "leader-north")[1].text
    south = signed_in(escalation, "leader-south")[1].text

    assert reference("north-1") in north and reference("south-1") not in north
    assert reference("north-unsupervised") not in north
    assert reference("south-1") in south and reference("north-1") not in south
    assert "物业管理 · 百安坝街道 › 百安社区 › 百安新村 › 3栋" in north
    assert "超时未认领" in north and "百安新村物业公司 → 百安社区居委会" in north
    assert "百安坝街道办事处 → 包片区领导（百安坝、钟鼓楼）" in north
    assert "13800000000" not in north and "1380****00" in north
    assert 'data-deadline="' in north and "督办期限" in north
    assert "/escalate" not in north  # its running clock is at the leader: nobody above
    assert "How it climbed" in browser_in_english(escalation).get("/leader?lang=en").text


def test_a_unit_that_is_not_a_leader_sees_nothing_and_may_not_act(escalation, clock, sweep):
    supervised(escalation, clock, sweep, "north-1")
    browser, board = signed_in(escalation, "baianba-office")
    before = refusals("forbidden")

    tried = browser.post(
        "/leader/issues/north-1/close", data={"csrf_token": csrf(board), "reason": "x"}
    )

    assert board.status_code == 403 and reference("north-1") not in board.text
    assert "只对区领导开放" in board.text
    assert tried.status_code == 403
    assert refusals("forbidden") == before + 1
    assert payloads(escalation, "issue.supervision_closed", "north-1") == []


def test_extending_by_form_moves_the_deadline_exactly_as_the_api_does(escalation, clock, sweep):
    supervised(escalation, clock, sweep, "by-form", "by-api")
    until = local(clock.now + timedelta(days=9)).replace(second=0, microsecond=0)
    browser, _ = signed_in(escalation)

    done = post_form(
        browser,
        "/leader/issues/by-form/extend",
        {"clock": "supervision", "until": f"{until:%Y-%m-%dT%H:%M}", "reason": "需协调住建委"},
    )
    api(
        escalation,
        "/v1/issues/by-api/extend",
        {
            "clock": "supervision",
            "until": until.astimezone(UTC).isoformat(),
            "reason": "需协调住建委",
        },
    )
    board = browser.get("/leader").text

    assert done.status_code == 303
    assert clocks_of(escalation, "by-form") == clocks_of(escalation, "by-api")
    assert (
        datetime.fromisoformat(clocks_of(escalation, "by-form")["supervision"]["due_at"]) == until
    )
    for kind in ("issue.deadline_extended", "issue.clock_armed"):
        assert payloads(escalation, kind, "by-form") == payloads(escalation, kind, "by-api")
    assert "期限已延长。" in board and "需协调住建委" in board
    assert f"{until.month}月{until.day}日 {until:%H:%M}" in board


def test_closing_supervision_by_form_is_the_apis_close(escalation, clock, sweep):
    supervised(escalation, clock, sweep, "by-form", "by-api")
    browser, _ = signed_in(escalation)

    done = post_form(browser, "/leader/issues/by-form/close", {"reason": "已现场协调解决"})
    api(escalation, "/v1/issues/by-api/supervision/close", {"reason": "已现场协调解决"})
    again = post_form(browser, "/leader/issues/by-form/close", {"reason": "再关一次"})

    assert done.status_code == 303
    assert clocks_of(escalation, "by-form") == clocks_of(escalation, "by-api")
    assert clocks_of(escalation, "by-form")["supervision"]["state"] == "closed"
    assert payloads(escalation, "issue.supervision_closed", "by-form") == payloads(
        escalation, "issue.supervision_closed", "by-api"
    )
    assert reference("by-form") not in browser.get("/leader").text
    assert again.status_code == 404  # as the API: no running supervision clock


def test_escalating_by_form_moves_the_running_clock_up_as_the_api_does(escalation, clock, sweep):
    claimed = {k: DISPATCHED[k] for k in ("assignment", "role", "unit_id", "tier", "street")}
    supervised(escalation, clock, sweep, "by-form", "by-api")
    for issue_id in ("by-form", "by-api"):
        escalation.subscriber.apply(
            event("issue.claimed", issue_id, {**claimed, "promised_by": None}).to_json()
        )
    browser, _ = signed_in(escalation)

    done = post_form(browser, "/leader/issues/by-form/escalate", {"reason": "群众反映强烈"})
    api(escalation, "/v1/issues/by-api/escalate", {"reason": "群众反映强烈"})

    assert done.status_code == 303
    assert clocks_of(escalation, "by-form") == clocks_of(escalation, "by-api")
    resolve = clocks_of(escalation, "by-form")["resolve"]
    assert (resolve["unit_id"], resolve["level"]) == ("baian-committee", 1)
    [step] = payloads(escalation, "issue.escalated", "by-form")[-1:]
    assert step == payloads(escalation, "issue.escalated", "by-api")[-1]
    assert step["reason"] == "manual"
    assert "人工升级" in browser.get("/leader").text


def test_a_form_without_its_csrf_token_is_refused_and_counted(escalation, clock, sweep):
    supervised(escalation, clock, sweep, "north-1")
    browser, _ = signed_in(escalation)
    before = refusals("csrf")

    refused = browser.post("/leader/issues/north-1/close", data={"reason": "已解决"})

    assert refused.status_code == 400 and "表单已过期" in refused.text
    assert refusals("csrf") == before + 1
    assert clocks_of(escalation, "north-1")["supervision"]["state"] == "armed"


def test_html_in_a_reason_is_shown_as_text(escalation, clock, sweep):
    supervised(escalation, clock, sweep, "north-1")
    browser, _ = signed_in(escalation)
    until = local(clock.now + timedelta(days=9))

    post_form(
        browser,
        "/leader/issues/north-1/extend",
        {
            "clock": "supervision",
            "until": f"{until:%Y-%m-%dT%H:%M}",
            "reason": "<script>alert(1)</script>",
        },
    )
    board = browser.get("/leader").text

    assert "<script>alert(1)</script>" not in board
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in board


def test_a_form_that_is_wrong_says_why_and_changes_nothing(escalation, clock, sweep):
    supervised(escalation, clock, sweep, "north-1")
    browser, _ = signed_in(escalation)
    due = clocks_of(escalation, "north-1")["supervision"]["due_at"]
    invalid, conflicts = refusals("invalid_form"), refusals("wrong_state")

    no_reason = post_form(
        browser,
        "/leader/issues/north-1/extend",
        {"clock": "supervision", "until": "2026-12-30T10:00", "reason": "  "},
    )
    earlier = post_form(
        browser,
        "/leader/issues/north-1/extend",
        {"clock": "supervision", "until": "2026-11-27T10:00", "reason": "提前"},
    )

    assert no_reason.status_code == 422 and "请检查“理由（必填）”：必填" in no_reason.text
    assert reference("north-1") in no_reason.text  # the board again, with what was wrong
    assert earlier.status_code == 409 and "延期后的期限必须晚于现在的期限" in earlier.text
    assert refusals("invalid_form") == invalid + 1 and refusals("wrong_state") == conflicts + 1
    assert clocks_of(escalation, "north-1")["supervision"]["due_at"] == due


def test_a_leader_may_not_act_on_another_leaders_street_from_the_board(escalation, clock, sweep):
    supervised(escalation, clock, sweep, "south-1", payload=IN_WUQIAO)
    browser, _ = signed_in(escalation, "leader-north")

    refused = post_form(browser, "/leader/issues/south-1/close", {"reason": "x"})

    assert refused.status_code == 403 and "不在您的督办范围内" in refused.text
    assert clocks_of(escalation, "south-1")["supervision"]["state"] == "armed"


def test_the_summary_keeps_a_short_masked_description_and_older_events_still_load(escalation):
    long_words = "楼道堆满杂物，" * 40 + "电话13800000000"
    escalation.subscriber.apply(
        event("issue.dispatched", "long", {**DISPATCHED, "description": long_words}).to_json()
    )
    older = {k: DISPATCHED[k] for k in ("assignment", "unit_id", "tier", "street", "category")}
    escalation.subscriber.apply(event("issue.dispatched", "older", older).to_json())

    with escalation.store.read() as conn:
        kept = store.summaries(conn, ["long", "older"])

    assert len(kept["long"]["description"]) <= 140 and kept["long"]["description"].endswith("…")
    assert "13800000000" not in kept["long"]["description"]
    assert kept["older"]["description"] == "" and kept["older"]["place_id"] is None


@pytest.fixture
def without_secret(tmp_path, clock, policies_text):
    path = tmp_path / "policies.yaml"
    path.write_text(policies_text)
    service = build("escalation", tmp_path, clock, LOUDONG_POLICIES=path, LOUDONG_LINK_SECRET="")
    yield service
    service.store.dispose()


def test_without_a_link_secret_the_board_says_it_is_off(without_secret):
    browser = without_secret.app.test_client()

    shown = browser.get("/leader/sign-in", headers={"Accept-Language": ZH})

    assert shown.status_code == 404 and "督办页面未开启" in shown.text
    assert without_secret.app.test_client().get("/v1/policies").status_code == 200
