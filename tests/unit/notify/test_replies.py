"""Units act where they are told: the unit's SMS names what, where, by when and how to act; its
reply, pushed by a provider, becomes unit.replied for dispatch — once, and only from a contact
of the unit the code belongs to — and every refusal is answered by SMS."""

import hashlib
import hmac
import json
import threading
import time
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from sqlalchemy import insert, select
from werkzeug.serving import make_server

from district.links import SUPERVISION, link_code
from district.local_time import local
from services.notify import model, store, templates
from services.notify.loops import send_due
from services.notify.model import Reply, ReplyCode, answered_code, parse_reply
from tests.helpers import ADMIN, ADMIN_TOKEN, LINK_SECRET, FakeClock, build, emitted, event

SECRET = "push-secret"
ISSUE = "5f0c2a9e-1111-2222-3333-444455556666"
UNIT = "baian-xincun-property"
PHONE = "+8613800000042"  # the property company's contact
DISPATCHED = {
    "assignment": 1,
    "role": "lead",
    "unit_id": UNIT,
    "unit_name": "百安新村物业公司",
    "category": "property_management",
    "category_name": "物业管理",
    "place_id": "baian-xincun",
    "place_name": "百安新村",
    "building": "3",
    "description": "下水道堵了",
    "tier": "small",
}


@pytest.fixture
def notify(tmp_path, sms_provider):
    clock = FakeClock()
    service = build(
        "notify",
        tmp_path,
        clock,
        LOUDONG_SMS_URL=sms_provider.url,
        LOUDONG_SMS_RECEIPT_SECRET=SECRET,
        LOUDONG_DEADLINE_WAIT=5,
        LOUDONG_PUBLIC_URL="https://loudong.example",
    )
    service.clock = clock
    yield service
    service.store.dispose()


def _apply(notify, type_, payload, issue_id=ISSUE):
    notify.subscriber.apply(event(type_, issue_id, payload).to_json())


def _armed(notify, minutes=120, assignment=1, issue_id=ISSUE):
    due = notify.clock.now + timedelta(minutes=minutes)
    payload = {"clock": "claim", "assignment": assignment, "level": 0, "unit_id": UNIT}
    _apply(notify, "issue.clock_armed", {**payload, "due_at": due.isoformat()}, issue_id)
    return due


def _texts_to(sms_provider, phone=PHONE):
    return [m["text"] for m in sms_provider.messages if m["to"] == phone]


def _signed(notify, path, body, secret=SECRET):
    raw = json.dumps(body, ensure_ascii=False).encode()
    stamp = str(int(time.time()))
    signature = hmac.new(secret.encode(), stamp.encode() + b"." + raw, hashlib.sha256).hexdigest()
    return notify.app.test_client().post(
        path,
        data=raw,
        content_type="application/json",
        headers={"X-Loudong-Timestamp": stamp, "X-Loudong-Signature": signature},
    )


def _reply(notify, text, phone=PHONE, message_id="m-1"):
    body = {"message_id": message_id, "from": phone, "text": text}
    return _signed(notify, "/v1/inbound/generic", body)


def _dispatched_and_sent(notify, issue_id=ISSUE, **changes):
    _apply(notify, "issue.dispatched", {**DISPATCHED, **changes}, issue_id)
    _armed(notify, issue_id=issue_id, assignment=changes.get("assignment", 1))
    send_due(notify.store, notify.context)


# --- what the unit's SMS says


def test_the_dispatch_notice_names_what_where_by_when_and_how_to_act(notify, sms_provider):
    _apply(notify, "issue.dispatched", DISPATCHED)
    due = _armed(notify)

    send_due(notify.store, notify.context)

    [text] = _texts_to(sms_provider)
    code = link_code(LINK_SECRET, ISSUE, UNIT, 1)
    for part in (
        model.reference(ISSUE),
        "物业管理",
        "百安新村3栋",
        "下水道堵了",
        f"{local(due):%m-%d %H:%M}前认领",
        f"https://loudong.example/u/{code}",
        "回复“1 1”认领，“2 1 原因”退回，“3 1 结果”办结",
    ):
        assert part in text, part
    assert templates.sms_parts(text)[2] <= 2


def test_a_long_description_is_cut_on_a_character_boundary_to_fit_the_parts(notify, sms_provider):
    family = "👨\u200d👩\u200d👧"  # one character on the screen, five code points
    description = "楼道里堆满杂物" + family * 30

    _dispatched_and_sent(notify, description=description)

    [text] = _texts_to(sms_provider)
    assert templates.sms_parts(text)[2] <= 2
    quoted = text.split("“")[1].split("”")[0]
    assert quoted.endswith("…") and quoted.startswith("楼道里堆满杂物")
    assert quoted.removeprefix("楼道里堆满杂物").removesuffix("…").replace(family, "") == ""
    assert "/u/" in text and "“3 1 结果”办结" in text


@pytest.mark.parametrize("max_parts", [1, 3])
def test_the_notice_fits_whatever_parts_are_allowed(tmp_path, sms_provider, max_parts):
    service = build(
        "notify",
        tmp_path,
        FakeClock(),
        LOUDONG_SMS_URL=sms_provider.url,
        LOUDONG_SMS_MAX_PARTS=max_parts,
    )
    payload = {**DISPATCHED, "description": "污水漫到楼道，" * 40}

    service.subscriber.apply(event("issue.dispatched", ISSUE, payload).to_json())
    send_due(service.store, service.context)

    [text] = _texts_to(sms_provider)
    assert templates.sms_parts(text)[2] <= max_parts
    assert "“1 1”" in text or max_parts == 1  # one part is too short for the reply line
    service.store.dispose()


def test_warnings_and_escalations_name_their_deadline_and_each_units_own_link_and_code(
    notify, sms_provider
):
    _dispatched_and_sent(notify)
    deadline = notify.clock.now + timedelta(hours=1)
    warned = {"clock": "claim", "level": 0, "fraction": 0.5, "to_unit_id": UNIT}
    escalated = {
        "clock": "claim",
        "assignment": 1,
        "level": 1,
        "reason": "claim_overdue",
        "to_unit_id": "baian-committee",
        "next_deadline": deadline.isoformat(),
    }

    _apply(notify, "issue.warned", {**warned, "to_unit_name": "", "deadline": deadline.isoformat()})
    _apply(notify, "issue.escalated", escalated)
    send_due(notify.store, notify.context)

    warning = _texts_to(sms_provider)[-1]
    escalation = next(m["text"] for m in sms_provider.messages if "督办" in m["text"])
    assert f"{local(deadline):%m-%d %H:%M}" in warning
    assert link_code(LINK_SECRET, ISSUE, UNIT, 1) in warning and "“1 1”认领" in warning
    # the supervisor was not sent the issue: its link and code are for supervising (urging)
    supervision = link_code(LINK_SECRET, ISSUE, "baian-committee", SUPERVISION)
    assert supervision in escalation and link_code(LINK_SECRET, ISSUE, UNIT, 1) not in escalation
    assert "回复“4 1 意见”督促承办单位" in escalation and "“1 1”" not in escalation
    assert f"{local(deadline):%m-%d %H:%M}" in escalation


def test_without_a_link_secret_the_notice_goes_without_a_link(tmp_path, sms_provider):
    service = build(
        "notify", tmp_path, FakeClock(), LOUDONG_SMS_URL=sms_provider.url, LOUDONG_LINK_SECRET=""
    )

    service.subscriber.apply(event("issue.dispatched", ISSUE, DISPATCHED).to_json())
    send_due(service.store, service.context)

    [text] = _texts_to(sms_provider)
    assert "/u/" not in text and "“1 1”认领" in text
    service.store.dispose()


# --- the hold for the claim deadline


def test_the_dispatch_notice_waits_for_its_claim_deadline(notify, sms_provider):
    _apply(notify, "issue.dispatched", DISPATCHED)
    send_due(notify.store, notify.context)
    assert _texts_to(sms_provider) == []

    notify.clock.advance(seconds=2)
    due = _armed(notify)
    send_due(notify.store, notify.context)

    [text] = _texts_to(sms_provider)
    assert f"请于{local(due):%m-%d %H:%M}前认领" in text


def test_after_the_wait_the_notice_goes_without_a_deadline_and_the_late_one_changes_nothing(
    notify, sms_provider
):
    _apply(notify, "issue.dispatched", DISPATCHED)
    notify.clock.advance(seconds=4)
    send_due(notify.store, notify.context)
    assert _texts_to(sms_provider) == []

    notify.clock.advance(seconds=2)
    send_due(notify.store, notify.context)
    _armed(notify)
    send_due(notify.store, notify.context)

    [text] = _texts_to(sms_provider)
    assert "请尽快认领" in text and "前认领" not in text


def test_a_held_notice_whose_deadline_never_comes_is_forgotten_when_its_assignment_ends(
    notify, sms_provider
):
    _apply(notify, "issue.dispatched", DISPATCHED)
    notify.clock.advance(seconds=6)
    send_due(notify.store, notify.context)

    _apply(notify, "issue.returned", {"assignment": 1, "unit_id": UNIT})

    with notify.store.read() as conn:
        assert conn.execute(select(store.held_notices)).all() == []
    assert len(_texts_to(sms_provider)) == 1  # what was held went, without a deadline


def test_a_deadline_armed_before_the_dispatch_arrives_goes_with_it_at_once(notify, sms_provider):
    due = _armed(notify)

    _apply(notify, "issue.dispatched", DISPATCHED)
    send_due(notify.store, notify.context)

    [text] = _texts_to(sms_provider)
    assert f"请于{local(due):%m-%d %H:%M}前认领" in text


def test_a_dispatch_naming_its_claim_deadline_goes_at_once_and_holds_nothing(notify, sms_provider):
    due = notify.clock() + timedelta(hours=3)

    _apply(notify, "issue.dispatched", {**DISPATCHED, "claim_due_at": due.isoformat()})
    send_due(notify.store, notify.context)

    [text] = _texts_to(sms_provider)
    assert f"请于{local(due):%m-%d %H:%M}前认领" in text
    with notify.store.read() as conn:
        assert conn.execute(select(store.held_notices)).all() == []


def test_a_co_handling_unit_has_no_claim_clock_so_its_notice_does_not_wait(notify, sms_provider):
    _apply(notify, "issue.dispatched", {**DISPATCHED, "role": "co"})

    send_due(notify.store, notify.context)

    [text] = _texts_to(sms_provider)
    assert "联办任务" in text


# --- reading a reply


@pytest.mark.parametrize(
    "text, reply",
    [
        ("1 37", Reply("claim", 37, "")),
        ("１　３７", Reply("claim", 37, "")),  # full-width digits and space
        ("137", Reply("claim", 37, "")),
        ("1#37", Reply("claim", 37, "")),
        ("认领 37", Reply("claim", 37, "")),
        ("認領#37", Reply("claim", 37, "")),
        ("Claim 2", Reply("claim", 2, "")),
        ("“1 37”", Reply("claim", 37, "")),  # the quotes of the SMS copied too
        ("2 37 不归我们管", Reply("return", 37, "不归我们管")),
        ("退回37，地点不在本辖区", Reply("return", 37, "地点不在本辖区")),
        ("退單 #4 職能不符", Reply("return", 4, "職能不符")),
        ("3 37 已疏通", Reply("resolve", 37, "已疏通")),
        ("办结 5 已清理楼道", Reply("resolve", 5, "已清理楼道")),
        ("辦結5 已修好", Reply("resolve", 5, "已修好")),
        ("done 6 Fixed the pipe", Reply("resolve", 6, "Fixed the pipe")),
        ("1", Reply("claim", None, "")),
        ("认领", Reply("claim", None, "")),
        ("3 已疏通", Reply("resolve", None, "已疏通")),
        ("4 2 请今天内处理", Reply("urge", 2, "请今天内处理")),
        ("督办2：居民又来电", Reply("urge", 2, "居民又来电")),
        ("督辦 #3 盡快", Reply("urge", 3, "盡快")),
        ("好的收到", None),
        ("", None),
        ("ok", None),
    ],
)
def test_a_reply_is_read_whatever_way_it_is_written(text, reply):
    assert parse_reply(text) == reply


def _code(code, unit="u1", closed=False):
    closed_at = FakeClock()() if closed else None
    return ReplyCode(unit, code, f"issue-{unit}-{code}", 1, FakeClock()(), closed_at)


@pytest.mark.parametrize(
    "reply, codes, outcome, chosen",
    [
        (Reply("claim", 2, ""), [_code(1), _code(2)], "accepted", 2),
        (Reply("claim", None, ""), [_code(1)], "accepted", 1),  # one open code: may be left out
        (Reply("claim", None, ""), [_code(1), _code(2)], "code_needed", None),
        (Reply("claim", None, ""), [], "unknown_code", None),
        (Reply("claim", 9, ""), [_code(1)], "unknown_code", None),
        (Reply("claim", 1, ""), [_code(1, closed=True)], "expired", None),
        (Reply("claim", 1, ""), [_code(1, "u1"), _code(1, "u2")], "ambiguous", None),
    ],
)
def test_the_code_a_reply_names_is_found_among_the_phones_units(reply, codes, outcome, chosen):
    code, what = answered_code(reply, codes)

    assert what == outcome and (code.code if code else None) == chosen


def test_a_unit_is_given_the_lowest_number_free_among_its_open_codes(notify, sms_provider):
    issues = [f"{n}f0c2a9e-1111-2222-3333-444455556666" for n in range(3)]
    for issue_id in issues:
        _dispatched_and_sent(notify, issue_id)
    _apply(notify, "issue.resolved", {"assignment": 1, "unit_id": UNIT}, issues[0])

    _dispatched_and_sent(notify, "9f0c2a9e-1111-2222-3333-444455556666")

    codes = [t.split("回复“1 ")[1].split("”")[0] for t in _texts_to(sms_provider)]
    assert codes == ["1", "2", "3", "1"]


@pytest.mark.parametrize(
    "open_codes, closed, free",
    [([], [], 1), ([2, 3], [], 1), ([1, 2, 3], [], 4), ([1, 2, 4, 5], [3], 3), ([1, 3], [2, 4], 2)],
)
def test_the_lowest_free_code_is_the_first_number_no_open_code_of_the_unit_holds(
    notify, open_codes, closed, free
):
    _add_codes(notify, open_codes, closed)

    with notify.store.read() as conn:
        assert store.lowest_free_code(conn, UNIT) == free


def _add_codes(service, open_codes, closed):
    """The unit's codes, and another unit's 1 to 7, which never count."""
    now = FakeClock()()
    rows = [ReplyCode(UNIT, c, f"i-open-{c}", 1, now, None) for c in open_codes]
    rows += [ReplyCode(UNIT, c, f"i-closed-{c}", 1, now, now) for c in closed]
    rows += [ReplyCode("other-unit", c, f"i-other-{c}", 1, now, None) for c in range(1, 8)]
    with service.store.unit_of_work() as uow:
        uow.conn.execute(insert(store.reply_codes), [dict(r.__dict__) for r in rows])


# --- inbound replies


def test_a_signed_reply_from_the_units_phone_becomes_unit_replied_once(notify, sms_provider):
    _dispatched_and_sent(notify)

    first = _reply(notify, "2 1 不归我们管")
    again = _reply(notify, "2 1 不归我们管")

    assert first.json == {"outcome": "accepted"} and again.json == {"outcome": "duplicate"}
    [replied] = emitted(notify.store, "unit.replied")
    assert replied.issue_id == ISSUE
    assert {k: v for k, v in replied.payload.items() if k != "inbound_id"} == {
        "issue_id": ISSUE,
        "assignment": 1,
        "unit_id": UNIT,
        "action": "return",
        "text": "不归我们管",
    }
    assert _metric("generic", "accepted") >= 1 and _metric("generic", "duplicate") >= 1


def test_an_unsigned_reply_is_refused(notify):
    response = _signed(
        notify, "/v1/inbound/generic", {"message_id": "m", "from": PHONE, "text": "1"}, "wrong"
    )

    assert response.status_code == 401 and emitted(notify.store, "unit.replied") == []


def test_an_aliyun_push_delivered_twice_is_applied_once(notify, sms_provider):
    _dispatched_and_sent(notify)
    push = [
        {
            "phone_number": PHONE.removeprefix("+86"),
            "content": "认领 1",
            "send_time": "2026-11-26 10:00:00",
            "dest_code": "1069000",
            "sequence_id": 987654321,
        }
    ]

    answers = [
        notify.app.test_client().post(f"/v1/inbound/aliyun?token={SECRET}", json=push)
        for _ in range(2)
    ]

    assert [a.json for a in answers] == [{"code": 0, "msg": "接收成功"}] * 2
    [replied] = emitted(notify.store, "unit.replied")
    assert replied.payload["action"] == "claim" and replied.payload["unit_id"] == UNIT
    refused = notify.app.test_client().post("/v1/inbound/aliyun?token=guess", json=push)
    assert refused.status_code == 401


@pytest.mark.parametrize(
    "phone, text, outcome, words",
    [
        ("+8613900000999", "1 1", "unknown_number", "不是任何责任单位的联系电话"),
        (PHONE, "1 7", "unknown_code", "没有编号7的待办"),
        (PHONE, "好的", "malformed", "未能识别回复"),
    ],
)
def test_a_refused_reply_is_answered_by_sms_and_changes_nothing(
    notify, sms_provider, phone, text, outcome, words
):
    _dispatched_and_sent(notify)

    response = _reply(notify, text, phone)
    send_due(notify.store, notify.context)

    assert response.json == {"outcome": outcome}
    assert words in _texts_to(sms_provider, phone)[-1]
    assert emitted(notify.store, "unit.replied") == []
    assert (
        emitted(notify.store, "notification.sent")[-1].payload["cause_type"] == "issue.dispatched"
    )


def test_a_code_whose_assignment_ended_is_expired(notify, sms_provider):
    _dispatched_and_sent(notify)
    _apply(notify, "issue.returned", {"assignment": 1, "unit_id": UNIT, "reason": "x"})

    response = _reply(notify, "3 1 已疏通")
    send_due(notify.store, notify.context)

    assert response.json == {"outcome": "expired"}
    assert "编号1已失效" in _texts_to(sms_provider)[-1]


def test_a_phone_of_a_unit_with_several_open_codes_must_name_one(notify, sms_provider):
    _dispatched_and_sent(notify)
    _dispatched_and_sent(notify, "7f0c2a9e-1111-2222-3333-444455556666")

    response = _reply(notify, "认领")
    send_due(notify.store, notify.context)

    assert response.json == {"outcome": "code_needed"}
    assert "请注明编号（1、2）" in _texts_to(sms_provider)[-1]


def test_dispatchs_answer_goes_back_to_the_phone_that_replied(notify, sms_provider):
    _dispatched_and_sent(notify)
    _reply(notify, "1 1")
    [replied] = emitted(notify.store, "unit.replied")
    answer = {"inbound_id": replied.payload["inbound_id"], "unit_id": UNIT}

    _apply(notify, "unit.reply_applied", {**answer, "accepted": True, "detail": "已认领"})
    _apply(notify, "unit.reply_applied", {**answer, "accepted": False, "detail": "该件已认领"})
    send_due(notify.store, notify.context)

    texts = "\n".join(_texts_to(sms_provider)[1:])
    assert f"{model.reference(ISSUE)}：已认领" in texts and "未办理，该件已认领" in texts
    assert [e.payload["cause_type"] for e in emitted(notify.store, "notification.sent")] == [
        "issue.dispatched"
    ]  # answers to replies are about no unit's work: nothing for intake or escalation


def _metric(provider, outcome):
    from prometheus_client import REGISTRY

    labels = {"provider": provider, "outcome": outcome}
    return REGISTRY.get_sample_value("loudong_notify_inbound_total", labels) or 0


# --- Aliyun's delivery receipts


@pytest.fixture
def dysmsapi():
    """A stand-in for Aliyun's SendSms: takes every message as BizId biz-7."""

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_POST(self):
            self.rfile.read(int(self.headers["Content-Length"]))
            body = json.dumps({"Code": "OK", "BizId": "biz-7"}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}/"
    server.shutdown()


def test_aliyuns_receipts_are_applied_once_and_answered_as_aliyun_expects(tmp_path, dysmsapi):
    service = build(
        "notify",
        tmp_path,
        FakeClock(),
        LOUDONG_SMS_PROVIDERS="aliyun",
        LOUDONG_ALIYUN_ACCESS_KEY_ID="id",
        LOUDONG_ALIYUN_ACCESS_KEY_SECRET="secret",
        LOUDONG_ALIYUN_SIGN_NAME="万州区楼栋",
        LOUDONG_ALIYUN_TEMPLATE_CODE="SMS_1",
        LOUDONG_ALIYUN_SMS_ENDPOINT=dysmsapi,
        LOUDONG_SMS_RECEIPT_SECRET=SECRET,
        LOUDONG_ADMIN_TOKEN=ADMIN_TOKEN,
    )
    service.subscriber.apply(event("issue.dispatched", ISSUE, DISPATCHED).to_json())
    send_due(service.store, service.context)
    report = {
        "phone_number": "13800000042",
        "send_time": "2026-11-26 10:00:00",
        "report_time": "2026-11-26 10:00:05",
        "success": False,
        "err_code": "MOBILE_NOT_ON_SERVICE",
        "err_msg": "停机",
        "sms_size": "2",
        "biz_id": "biz-7",
        "out_id": "whatever",
    }
    unknown = {**report, "biz_id": "biz-unknown"}

    answers = [
        _signed(service, "/v1/receipts/aliyun", [report, unknown]),
        _signed(service, "/v1/receipts/aliyun", [report]),
    ]

    assert [a.json for a in answers] == [{"code": 0, "msg": "成功"}] * 2
    [delivery] = (
        service.app.test_client()
        .get(f"/v1/notifications?issue_id={ISSUE}", headers=ADMIN)
        .json["notifications"]
    )
    assert delivery["receipt_status"] == "undelivered" and delivery["provider"] == "aliyun"
    [failed] = emitted(service.store, "notification.failed")
    assert failed.payload["reason"] == "undelivered:MOBILE_NOT_ON_SERVICE"
    service.store.dispose()


# --- the local provider's inbound side


def test_a_reply_sent_to_the_local_provider_reaches_notify_signed(notify, sms_provider):
    _dispatched_and_sent(notify)
    server = make_server("127.0.0.1", 0, notify.app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    sms_provider.forward_inbound_to(
        f"http://127.0.0.1:{server.server_port}/v1/inbound/generic", SECRET
    )
    try:
        status, answer = sms_provider.receive({"from": PHONE, "text": "1 1"})
    finally:
        server.shutdown()

    assert (status, answer) == (200, {"outcome": "accepted"})
    assert [r["text"] for r in sms_provider.inbound] == ["1 1"]
    assert len(emitted(notify.store, "unit.replied")) == 1


# --- supervisors: a code to urge with, and the unit in charge told


COMMITTEE_PHONE = "+8613800000032"  # baian-committee, the property company's supervisor


def _escalated(notify, to_unit_id="baian-committee", level=1):
    deadline = notify.clock.now + timedelta(hours=2)
    escalated = {
        "clock": "claim",
        "assignment": 1,
        "level": level,
        "reason": "claim_overdue",
        "to_unit_id": to_unit_id,
        "next_deadline": deadline.isoformat(),
    }
    _apply(notify, "issue.escalated", escalated)
    send_due(notify.store, notify.context)


def test_a_supervisor_reached_twice_keeps_one_code_and_its_reply_urges(notify, sms_provider):
    _dispatched_and_sent(notify)
    _escalated(notify)
    _escalated(notify, level=2)

    first, second = _texts_to(sms_provider, COMMITTEE_PHONE)
    answer = _reply(notify, "4 1 请今天内处理", phone=COMMITTEE_PHONE, message_id="m-urge")

    assert "回复“4 1 意见”" in first and "回复“4 1 意见”" in second
    assert answer.json == {"outcome": "accepted"}
    [replied] = emitted(notify.store, "unit.replied")
    assert replied.payload["assignment"] == SUPERVISION and replied.payload["action"] == "urge"
    assert replied.payload["unit_id"] == "baian-committee"
    assert replied.payload["text"] == "请今天内处理"


def test_an_urging_reaches_the_unit_in_charge_with_its_own_link_and_code(notify, sms_provider):
    _dispatched_and_sent(notify)
    urged = {
        "assignment": 1,
        "unit_id": UNIT,
        "by_unit_id": "baian-committee",
        "by_unit_name": "百安社区居委会",
        "note": "居民又来电了，请今天内疏通" * 10,  # long: shortened to fit, never the code
        "urged_at": notify.clock.now.isoformat(),
    }

    _apply(notify, "issue.urged", urged)
    send_due(notify.store, notify.context)

    text = _texts_to(sms_provider)[-1]
    assert text.startswith("【楼栋】督办意见 5f0c2a9e：百安社区居委会督促“居民又来电了")
    assert link_code(LINK_SECRET, ISSUE, UNIT, 1) in text and "“3 1 结果”办结" in text
    assert templates.sms_parts(text)[2] <= notify.context.settings.max_parts
