"""Notify tells each contact once, through a real local SMS provider, and says so when it cannot.
Events name units only; the contacts are the directory's (see conftest.py)."""

from datetime import UTC, datetime, timedelta

import pytest
import requests

from services.notify import store as notify_store
from services.notify.loops import send_due
from shared.config import ConfigError
from tests.helpers import ADMIN, ADMIN_TOKEN, FakeClock, build, count_rows, emitted, event

DISPATCHED = {
    "unit_id": "baian-xincun-property",
    "unit_name": "百安新村物业公司",
    "category": "property_management",
    "category_name": "物业管理",
    "place_id": "baian-xincun",
    "place_name": "百安新村",
    "tier": "small",
}
ESCALATED = {
    "level": 1,
    "reason": "claim_overdue",
    "to_unit_id": "baian-committee",
    "to_unit_name": "百安社区居委会",
    "next_deadline": datetime(2026, 11, 26, 6, 0, tzinfo=UTC).isoformat(),
}


@pytest.fixture
def clock():
    return FakeClock()


# The community committee has two people on duty here, where deploy/directory.yaml lists one.
COMMITTEE_ON_DUTY = [
    {"name": "网格员", "phone": "+8613800000032"},
    {"name": "主任", "phone": "+8613800000033"},
]


@pytest.fixture
def directory(directory_with):
    return directory_with({"baian-committee": {"contacts": COMMITTEE_ON_DUTY}})


@pytest.fixture
def notify(tmp_path, clock, sms_provider, directory):
    service = build(
        "notify",
        tmp_path,
        clock,
        LOUDONG_SMS_URL=sms_provider.url,
        LOUDONG_SMS_TIMEOUT=2,
        LOUDONG_SMS_MAX_ATTEMPTS=3,
        LOUDONG_DIRECTORY=directory,
        LOUDONG_ADMIN_TOKEN=ADMIN_TOKEN,
    )
    yield service
    service.store.dispose()


def _send(service):
    return send_due(service.store, service.context)


def test_a_dispatch_sends_one_sms_to_the_unit(notify, sms_provider):
    notify.subscriber.apply(
        event("issue.dispatched", "5f0c2a9e-0000-0000-0000-000000000000", DISPATCHED).to_json()
    )

    _send(notify)

    [sms] = sms_provider.messages
    assert sms["to"] == "+8613800000042"
    assert "5f0c2a9e" in sms["text"] and "物业管理" in sms["text"]
    [sent] = emitted(notify.store, "notification.sent")
    assert sent.payload["recipient_unit_id"] == "baian-xincun-property"


def test_an_escalation_tells_every_contact_of_the_next_level(notify, sms_provider):
    notify.subscriber.apply(event("issue.escalated", "i1", ESCALATED).to_json())

    _send(notify)

    assert sorted(m["to"] for m in sms_provider.messages) == ["+8613800000032", "+8613800000033"]
    assert "14:00" in sms_provider.messages[0]["text"]  # the deadline in Beijing time


def test_the_same_event_delivered_twice_sends_one_sms(notify, sms_provider):
    dispatched = event("issue.dispatched", "i1", DISPATCHED).to_json()

    notify.subscriber.apply(dispatched)
    notify.subscriber.apply(dispatched)
    _send(notify)
    _send(notify)

    assert len(sms_provider.messages) == 1
    assert count_rows(notify.store, notify_store.deliveries) == 1


def test_a_provider_failing_twice_then_succeeding_sends_one_sms(notify, sms_provider, clock):
    requests.post(sms_provider.url + "/faults", json={"fail_next": 2, "status": 503})
    notify.subscriber.apply(event("issue.dispatched", "i1", DISPATCHED).to_json())

    for _ in range(3):
        _send(notify)
        clock.advance(minutes=1)

    assert len(sms_provider.messages) == 1
    assert sms_provider.requests == 3
    [sent] = emitted(notify.store, "notification.sent")
    assert sent.payload["attempts"] == 3


def test_a_permanent_refusal_is_not_retried_and_is_published(notify, sms_provider, clock):
    requests.post(sms_provider.url + "/faults", json={"fail_next": 1, "status": 400})
    notify.subscriber.apply(event("issue.dispatched", "i1", DISPATCHED).to_json())

    _send(notify)
    clock.advance(minutes=10)
    _send(notify)

    assert sms_provider.requests == 1 and sms_provider.messages == []
    [failed] = emitted(notify.store, "notification.failed")
    assert failed.payload["reason"] == "http_400"


def test_gives_up_after_the_last_attempt(notify, sms_provider, clock):
    requests.post(sms_provider.url + "/faults", json={"fail_next": 10, "status": 500})
    notify.subscriber.apply(event("issue.dispatched", "i1", DISPATCHED).to_json())

    for _ in range(5):
        _send(notify)
        clock.advance(minutes=5)

    assert sms_provider.requests == 3
    [failed] = emitted(notify.store, "notification.failed")
    assert failed.payload["attempts"] == 3


def test_the_list_of_notifications_masks_the_number(notify, sms_provider):
    notify.subscriber.apply(event("issue.dispatched", "i1", DISPATCHED).to_json())
    _send(notify)

    listed = (
        notify.app.test_client()
        .get("/v1/notifications?issue_id=i1", headers=ADMIN)
        .json["notifications"]
    )

    assert [n["status"] for n in listed] == ["sent"]
    assert "13800000042" not in listed[0]["address"]


def test_a_resident_is_asked_to_rate_the_outcome(notify, sms_provider):
    notify.subscriber.apply(
        event(
            "resident.feedback_requested",
            "5f0c2a9e-0000-0000-0000-000000000000",
            {"phone": "+8613900000000", "resolution": "下水道已疏通", "linked_to": None},
        ).to_json()
    )

    _send(notify)

    [sms] = sms_provider.messages
    assert (
        sms["to"] == "+8613900000000"
        and "下水道已疏通" in sms["text"]
        and "5f0c2a9e" in sms["text"]
    )


def test_a_co_handling_department_is_told_it_is_its_part(notify, sms_provider):
    notify.subscriber.apply(event("issue.dispatched", "i1", {**DISPATCHED, "role": "co"}).to_json())

    _send(notify)

    assert "联办任务" in sms_provider.messages[0]["text"]


def test_a_warning_before_the_deadline_reaches_the_unit(notify, sms_provider):
    notify.subscriber.apply(
        event(
            "issue.warned",
            "5f0c2a9e-0000-0000-0000-000000000000",
            {
                "clock": "claim",
                "level": 0,
                "fraction": 0.5,
                "to_unit_id": "baian-xincun-property",
                "deadline": datetime(2026, 11, 26, 8, 0, tzinfo=UTC).isoformat(),
            },
        ).to_json()
    )

    _send(notify)

    [sms] = sms_provider.messages
    assert sms["to"] == "+8613800000042" and "16:00前认领" in sms["text"]


def test_a_resident_is_not_woken_at_night_the_message_waits_for_seven(
    tmp_path, sms_provider, directory
):
    night = FakeClock(datetime(2026, 11, 26, 15, 30, tzinfo=UTC))  # 23:30 in Beijing
    notify = build(
        "notify", tmp_path, night, LOUDONG_SMS_URL=sms_provider.url, LOUDONG_DIRECTORY=directory
    )
    notify.subscriber.apply(
        event(
            "resident.feedback_requested",
            "i1",
            {"phone": "+8613900000000", "resolution": "已疏通", "linked_to": None},
        ).to_json()
    )
    notify.subscriber.apply(event("issue.escalated", "i1", ESCALATED).to_json())

    _send(notify)
    assert [m["to"] for m in sms_provider.messages] == [
        "+8613800000032",
        "+8613800000033",
    ]  # units: at once
    night.advance(hours=7, minutes=29)  # 06:59
    _send(notify)
    assert len(sms_provider.messages) == 2
    night.advance(minutes=1)  # 07:00
    _send(notify)

    assert sms_provider.messages[-1]["to"] == "+8613900000000"
    notify.store.dispose()


def test_templates_render_in_english_too(tmp_path, sms_provider):
    notify = build(
        "notify",
        tmp_path,
        FakeClock(),
        LOUDONG_SMS_URL=sms_provider.url,
        LOUDONG_NOTIFY_LANGUAGE="en",
    )
    notify.subscriber.apply(
        event("issue.dispatched", "5f0c2a9e-0000-0000-0000-000000000000", DISPATCHED).to_json()
    )

    _send(notify)

    assert sms_provider.messages[0]["text"].startswith("[Loudong] New assignment 5f0c2a9e")
    notify.store.dispose()


def test_a_template_that_does_not_render_stops_the_service_naming_it(tmp_path):
    broken = tmp_path / "templates"
    for language in ("zh", "en"):
        (broken / language).mkdir(parents=True)
        for name in (
            "issue.dispatched",
            "issue.escalated",
            "issue.warned",
            "resident.feedback_requested",
            "resident.acknowledged",
            "resident.closed",
        ):
            (broken / language / f"{name}.j2").write_text("{{ ref }}")
    (broken / "zh" / "issue.warned.j2").write_text("{{ no_such_field }}")

    with pytest.raises(ConfigError) as raised:
        build("notify", tmp_path, FakeClock(), LOUDONG_TEMPLATES=broken)

    assert "zh/issue.warned.j2" in str(raised.value)


def test_the_preview_renders_a_template_with_its_sms_length(notify):
    response = notify.app.test_client().post(
        "/v1/templates/preview", json={"type": "issue.escalated"}
    )

    assert response.status_code == 200
    # the sample supervisor's notice: its reason, its link and its reply code take two parts
    assert (
        response.json["encoding"] == "ucs2"
        and response.json["parts"] == 2
        and "超时未认领" in response.json["text"]
        and "回复“4 2 意见”督促承办单位" in response.json["text"]
    )
    bad = notify.app.test_client().post("/v1/templates/preview", json={"type": "issue.exploded"})
    assert bad.status_code == 422 and "type" in bad.json["errors"]


def test_past_its_rate_a_resident_waits_rather_than_losing_messages_and_units_have_their_own(
    tmp_path, sms_provider
):
    clock = FakeClock()
    notify = build(
        "notify",
        tmp_path,
        clock,
        LOUDONG_SMS_URL=sms_provider.url,
        LOUDONG_RECIPIENT_LIMIT="2/hour",
        LOUDONG_UNIT_RECIPIENT_LIMIT="5/hour",
    )
    for n in range(3):
        notify.subscriber.apply(
            event("resident.acknowledged", f"i{n}", {"phone": "+8613900000000"}).to_json()
        )
        notify.subscriber.apply(event("issue.dispatched", f"i{n}", DISPATCHED).to_json())

    def told(phone):  # the references each phone has heard of, whether bundled or not
        return sorted(
            ref
            for m in sms_provider.messages
            if m["to"] == phone
            for ref in ("i0", "i1", "i2")
            if f"单号{ref}" in m["text"] or f"新派单 {ref}" in m["text"]
        )

    _send(notify)
    assert told("+8613900000000") == ["i0", "i1"] and told("+8613800000042") == ["i0", "i1", "i2"]
    clock.advance(hours=1, seconds=1)
    _send(notify)

    assert told("+8613900000000") == ["i0", "i1", "i2"]
    notify.store.dispose()


def test_an_administrator_resends_and_nobody_else_can(tmp_path, sms_provider):
    notify = build(
        "notify",
        tmp_path,
        FakeClock(),
        LOUDONG_SMS_URL=sms_provider.url,
        LOUDONG_ADMIN_TOKEN="adm1n",
    )
    notify.subscriber.apply(event("issue.dispatched", "i1", DISPATCHED).to_json())
    _send(notify)
    [original] = (
        notify.app.test_client()
        .get("/v1/notifications?issue_id=i1", headers={"Authorization": "Bearer adm1n"})
        .json["notifications"]
    )
    client = notify.app.test_client()

    refused = client.post(
        f"/v1/notifications/{original['id']}/resend", headers={"Authorization": "Bearer guess"}
    )
    resent = client.post(
        f"/v1/notifications/{original['id']}/resend", headers={"Authorization": "Bearer adm1n"}
    )
    _send(notify)

    assert refused.status_code == 401 and resent.status_code == 201
    assert [m["to"] for m in sms_provider.messages] == ["+8613800000042", "+8613800000042"]
    assert len({m["idempotency_key"] for m in sms_provider.messages}) == 2
    notify.store.dispose()


def test_notices_due_together_for_one_phone_are_bundled_but_never_cut(tmp_path, sms_provider):
    clock = FakeClock()
    # a dispatch notice with its link and reply code takes two parts: six allow a few at once
    notify = build(
        "notify", tmp_path, clock, LOUDONG_SMS_URL=sms_provider.url, LOUDONG_SMS_MAX_PARTS=6
    )
    ids = [f"{n:08d}-0000-0000-0000-000000000000" for n in range(6)]
    for issue_id in ids:
        notify.subscriber.apply(event("issue.dispatched", issue_id, DISPATCHED).to_json())

    _send(notify)

    texts = [m["text"] for m in sms_provider.messages]
    assert 1 < len(texts) < len(ids)  # bundled, in as many messages as their parts need
    assert sorted(issue_id[:8] for issue_id in ids for t in texts if issue_id[:8] in t) == sorted(
        i[:8] for i in ids
    )
    assert all("…" not in t for t in texts)
    notify.store.dispose()


def test_a_unit_contact_past_its_own_rate_waits_too(tmp_path, sms_provider):
    clock = FakeClock()
    notify = build(
        "notify",
        tmp_path,
        clock,
        LOUDONG_SMS_URL=sms_provider.url,
        LOUDONG_UNIT_RECIPIENT_LIMIT="1/hour",
    )
    for n in range(2):
        notify.subscriber.apply(event("issue.dispatched", f"i{n}", DISPATCHED).to_json())

    _send(notify)
    assert len(sms_provider.messages) == 1 and "i0" in sms_provider.messages[0]["text"]
    clock.advance(hours=1, seconds=1)
    _send(notify)

    assert len(sms_provider.messages) == 2 and "i1" in sms_provider.messages[1]["text"]
    notify.store.dispose()


def test_resending_a_delivery_that_does_not_exist_is_not_found(tmp_path, sms_provider):
    notify = build(
        "notify", tmp_path, FakeClock(), LOUDONG_SMS_URL=sms_provider.url, LOUDONG_ADMIN_TOKEN="a"
    )

    response = notify.app.test_client().post(
        "/v1/notifications/no-such-delivery/resend", headers={"Authorization": "Bearer a"}
    )

    assert response.status_code == 404 and response.mimetype == "application/problem+json"
    notify.store.dispose()


def test_deliveries_taken_again_after_a_crash_come_in_the_order_they_were_planned(
    tmp_path, sms_provider
):
    # Bundles are formed in this order, so a bundle re-sent after its lease keeps its key.
    clock = FakeClock()
    notify = build("notify", tmp_path, clock, LOUDONG_SMS_URL=sms_provider.url)
    for n in range(6):
        notify.subscriber.apply(event("issue.dispatched", f"i{n}", DISPATCHED).to_json())
        clock.advance(seconds=1)
    lease = timedelta(seconds=25)

    with notify.store.unit_of_work() as uow:
        first = notify_store.lease_due(uow.conn, clock(), lease, 50)  # and the sender dies
    with notify.store.unit_of_work() as uow:
        again = notify_store.lease_due(uow.conn, clock() + lease, lease, 50)

    assert [d.issue_id for d in again] == [d.issue_id for d in first] == [f"i{n}" for n in range(6)]
    notify.store.dispose()
