"""Delivery receipts: signed by the provider, applied once, rejections counted."""

import hashlib
import hmac
import json
import time

import pytest
from prometheus_client import REGISTRY

from services.notify.loops import send_due
from tests.helpers import ADMIN, ADMIN_TOKEN, FakeClock, build, emitted, event
from tests.unit.notify.test_delivery import DISPATCHED

SECRET = "receipt-secret"


@pytest.fixture
def notify(tmp_path, sms_provider):
    service = build(
        "notify",
        tmp_path,
        FakeClock(),
        LOUDONG_SMS_URL=sms_provider.url,
        LOUDONG_SMS_RECEIPT_SECRET=SECRET,
        LOUDONG_ADMIN_TOKEN=ADMIN_TOKEN,
    )
    service.subscriber.apply(event("issue.dispatched", "i1", DISPATCHED).to_json())
    send_due(service.store, service.context)
    yield service
    service.store.dispose()


def _receipt(notify, body: dict, secret: str = SECRET, skew: int = 0):
    raw = json.dumps(body).encode()
    stamp = str(int(time.time()) + skew)
    signature = hmac.new(secret.encode(), stamp.encode() + b"." + raw, hashlib.sha256).hexdigest()
    return notify.app.test_client().post(
        "/v1/receipts/generic",
        data=raw,
        content_type="application/json",
        headers={"X-Loudong-Timestamp": stamp, "X-Loudong-Signature": signature},
    )


def _status(notify):
    listed = notify.app.test_client().get("/v1/notifications?issue_id=i1", headers=ADMIN)
    return listed.json["notifications"][0]


def test_a_receipt_marks_the_delivery_and_a_second_copy_changes_nothing(notify, sms_provider):
    message_id = sms_provider.messages[0]["message_id"]

    first = _receipt(notify, {"message_id": message_id, "status": "delivered"})
    again = _receipt(notify, {"message_id": message_id, "status": "undelivered"})

    assert first.json == {"applied": True} and again.json == {"applied": False}
    assert _status(notify)["receipt_status"] == "delivered"


@pytest.mark.parametrize(
    "body, secret, skew, status",
    [
        ({"message_id": "x", "status": "delivered"}, "wrong-secret", 0, 401),
        ({"message_id": "x", "status": "delivered"}, SECRET, -3600, 401),
        ({"message_id": "no-such-message", "status": "delivered"}, SECRET, 0, 404),
        ({"message_id": "x", "status": "lost"}, SECRET, 0, 422),
    ],
)
def test_bad_receipts_are_refused_and_change_nothing(notify, body, secret, skew, status):
    response = _receipt(notify, body, secret, skew)

    assert response.status_code == status and response.mimetype == "application/problem+json"
    assert _status(notify)["receipt_status"] is None


def test_an_undelivered_receipt_tells_escalation_the_unit_was_not_reached(notify, sms_provider):
    _receipt(
        notify,
        {
            "message_id": sms_provider.messages[0]["message_id"],
            "status": "undelivered",
            "error_code": "MK:0001",
        },
    )

    [failed] = emitted(notify.store, "notification.failed")
    assert failed.payload["recipient_unit_id"] == "baian-xincun-property"
    assert failed.payload["reason"] == "undelivered:MK:0001"


def _refused(reason: str) -> float:
    sample = REGISTRY.get_sample_value("loudong_notify_receipts_rejected_total", {"reason": reason})
    return sample or 0


def test_each_refusal_is_counted_by_its_reason(notify):
    before = {r: _refused(r) for r in ("bad_signature", "unknown_message", "unknown_provider")}

    _receipt(notify, {"message_id": "x", "status": "delivered"}, secret="wrong-secret")
    _receipt(notify, {"message_id": "no-such-message", "status": "delivered"})
    unknown = notify.app.test_client().post("/v1/receipts/pigeon", json={})

    assert unknown.status_code == 404
    assert {r: _refused(r) - n for r, n in before.items()} == dict.fromkeys(before, 1)
