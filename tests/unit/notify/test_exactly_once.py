"""One SMS per notice, bundles included: when the provider accepted a message but notify never
learnt it (its answer came too late; notify died or lost its database before the record), the
same message goes again — the same notices, text and idempotency key — even when more notices
for that phone have fallen due meanwhile. The local provider dedups by key, as a good one
does, and refuses a key reused for another message, as a strict one does."""

from __future__ import annotations

from datetime import timedelta

import pytest
import requests
from sqlalchemy import select

from services.notify import store
from services.notify.loops import send_due
from tests.helpers import FakeClock, build, event

UNIT_PHONE = "+8613800000042"  # baian-xincun-property's duty phone


@pytest.fixture
def notify(tmp_path, sms_provider):
    clock = FakeClock()
    service = build(
        "notify",
        tmp_path,
        clock,
        LOUDONG_SMS_URL=sms_provider.url,
        LOUDONG_SMS_TIMEOUT=0.5,
        LOUDONG_SMS_RETRY_BASE=1,
        LOUDONG_SMS_MAX_PARTS=6,
    )
    service.clock = clock
    yield service
    service.store.dispose()


def _warned(notify, n: int) -> str:
    """A claim reminder for the property company, about the n-th issue: a notice of its own."""
    issue_id = f"{n:08d}-1111-2222-3333-444455556666"
    payload = {
        "clock": "resolve",
        "level": 0,
        "fraction": 0.5,
        "to_unit_id": "baian-xincun-property",
        "to_unit_name": "",
        "deadline": (notify.clock.now + timedelta(hours=n + 1)).isoformat(),
    }
    notify.subscriber.apply(event("issue.warned", issue_id, payload).to_json())
    return issue_id[:8]


def _times_received(sms_provider, ref: str) -> int:
    return sum(m["text"].count(ref) for m in sms_provider.messages if m["to"] == UNIT_PHONE)


def test_a_bundle_the_provider_took_unbeknown_goes_again_as_it_was(notify, sms_provider):
    first, second = _warned(notify, 1), _warned(notify, 2)
    # the provider accepts the bundle, then answers after notify has stopped waiting
    requests.post(sms_provider.url + "/faults", json={"hold_next": 1, "hold": 1.5}, timeout=5)
    send_due(notify.store, notify.context)
    [taken] = sms_provider.messages
    assert first in taken["text"] and second in taken["text"]  # the two went as one message

    third = _warned(notify, 3)  # due now too, for the same phone
    notify.clock.advance(minutes=5)
    send_due(notify.store, notify.context)
    send_due(notify.store, notify.context)

    assert [_times_received(sms_provider, ref) for ref in (first, second, third)] == [1, 1, 1]
    assert sms_provider.conflicts == 0 and sms_provider.requests >= 3
    with notify.store.read() as conn:
        statuses = [r.status for r in conn.execute(select(store.deliveries.c.status))]
    assert statuses == ["sent"] * 3
