"""Events name units by id only; notify reaches a unit through its own directory: contacts by
SMS, the unit's system by webhook. An event from before contacts left the bus still works, and
a unit notify's directory does not know fails its notice as undeliverable instead of crashing."""

import logging
from datetime import UTC, datetime

import pytest
from prometheus_client import REGISTRY

from services.notify import store as notify_store
from services.notify.loops import send_due
from tests.helpers import FakeClock, build, count_rows, emitted, event

ISSUE = "5f0c2a9e-0000-0000-0000-000000000000"
DEADLINE = datetime(2026, 11, 26, 8, 0, tzinfo=UTC).isoformat()
# What dispatch publishes now: the unit by id, no contact, no webhook.
DISPATCHED = {
    "role": "lead",
    "unit_id": "baian-xincun-property",
    "unit_name": "百安新村物业公司",
    "category": "property_management",
    "category_name": "物业管理",
    "place_id": "baian-xincun",
    "place_name": "百安新村",
    "tier": "small",
}
FRONT_DESK = "+8613800000042"  # baian-xincun-property's contact in deploy/directory.yaml


@pytest.fixture
def notify(tmp_path, sms_provider):
    service = build(
        "notify",
        tmp_path,
        FakeClock(),
        LOUDONG_SMS_URL=sms_provider.url,
        LOUDONG_SMS_MAX_ATTEMPTS=1,
    )
    yield service
    service.store.dispose()


def _failed_unknown_unit() -> float:
    return (
        REGISTRY.get_sample_value(
            "loudong_notify_failed_total",
            {"channel": "sms", "provider": "directory", "reason": "unknown_unit"},
        )
        or 0
    )


def test_a_dispatch_naming_only_the_unit_reaches_its_contacts_in_the_directory(
    notify, sms_provider
):
    notify.subscriber.apply(event("issue.dispatched", ISSUE, DISPATCHED).to_json())

    send_due(notify.store, notify.context)

    [sms] = sms_provider.messages
    assert sms["to"] == FRONT_DESK and "5f0c2a9e" in sms["text"]
    [sent] = emitted(notify.store, "notification.sent")
    assert sent.payload["recipient_unit_id"] == "baian-xincun-property"


@pytest.mark.parametrize(
    "event_type, payload",
    [
        (
            "issue.escalated",
            {
                "level": 1,
                "reason": "claim_overdue",
                "to_unit_id": "baian-committee",
                "to_unit_name": "百安社区居委会",
                "next_deadline": DEADLINE,
            },
        ),
        (
            "issue.warned",
            {
                "clock": "claim",
                "level": 0,
                "fraction": 0.5,
                "to_unit_id": "baian-committee",
                "deadline": DEADLINE,
            },
        ),
    ],
)
def test_escalations_and_warnings_reach_the_contacts_of_the_unit_they_name(
    notify, sms_provider, event_type, payload
):
    notify.subscriber.apply(event(event_type, ISSUE, payload).to_json())

    send_due(notify.store, notify.context)

    assert [m["to"] for m in sms_provider.messages] == [
        "+8613800000032"
    ]  # baian-committee's 社区网格员


def test_an_event_from_before_the_upgrade_still_carrying_contacts_goes_to_the_directorys(
    tmp_path, sms_provider
):
    # Rolling upgrade: an old dispatch still queued, with a number since changed in the directory
    # and a webhook the unit no longer has. The directory wins; what the event carried is ignored.
    notify = build(
        "notify",
        tmp_path,
        FakeClock(),
        LOUDONG_SMS_URL=sms_provider.url,
        LOUDONG_WEBHOOK_SECRET="s3cret",
    )
    old = {
        **DISPATCHED,
        "unit_contacts": [{"name": "物业前台", "phone": "+8613800009999"}],
        "unit_webhook": "http://127.0.0.1:9/gone",
    }
    notify.subscriber.apply(event("issue.dispatched", ISSUE, old).to_json())

    send_due(notify.store, notify.context)

    assert [m["to"] for m in sms_provider.messages] == [FRONT_DESK]
    with notify.store.read() as conn:
        assert [(d.channel, d.address) for d in notify_store.for_issue(conn, ISSUE)] == [
            ("sms", FRONT_DESK)
        ]
    notify.store.dispose()


def test_a_unit_missing_from_notifys_directory_fails_its_notice_as_undeliverable(
    notify, sms_provider, caplog
):
    before = _failed_unknown_unit()
    ghost = event("issue.dispatched", ISSUE, {**DISPATCHED, "unit_id": "ghost-property"}).to_json()

    with caplog.at_level(logging.WARNING):
        # No exception: the event is applied, not retried or dead-lettered.
        notify.subscriber.apply(ghost)
        notify.subscriber.apply(ghost)  # and redelivered, changes nothing
    send_due(notify.store, notify.context)

    assert sms_provider.messages == [] and count_rows(notify.store, notify_store.deliveries) == 0
    [failed] = emitted(notify.store, "notification.failed")
    assert (
        failed.payload["recipient_unit_id"],
        failed.payload["cause_type"],
        failed.payload["final"],
    ) == (
        "ghost-property",
        "issue.dispatched",
        True,
    )  # final: escalation tells the unit's supervisor
    assert failed.payload["reason"].startswith("unknown_unit")
    assert _failed_unknown_unit() == before + 1
    [logged] = [r.getMessage() for r in caplog.records if "ghost-property" in r.getMessage()]
    assert "+86" not in logged
