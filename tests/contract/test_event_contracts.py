"""Every payload a service publishes loads in the reader of every service subscribed to it.

The events are the real ones: an issue is taken through all four services in this process,
and whatever lands in their outboxes is read back by each subscriber."""
import pytest

from services.escalation.sweeper import sweep_once
from services.notify.sender import send_due
from shared import topology
from tests.helpers import AUTH, SERVICES, SUBMISSION, FakeClock, build, emitted


@pytest.fixture
def all_events(tmp_path, sms_provider):
    clock = FakeClock()
    services = {name: build(name, tmp_path, clock if name in ("escalation", "notify") else None,
                            LOUDONG_SMS_URL=sms_provider.url) for name in SERVICES}
    intake, dispatch, escalation, notify = (services[n] for n in SERVICES)
    issue_id = intake.app.test_client().post("/v1/issues", headers=AUTH, json=SUBMISSION).json["id"]
    for _ in range(2):
        for service in services.values():
            service.bus.poll_once()
    clock.advance(hours=3)
    sweep_once(escalation.store, escalation.subscriber._context)
    notify.bus.poll_once()
    send_due(notify.store, notify.subscriber._context)
    dispatch.app.test_client().post(f"/v1/assignments/{issue_id}/claim", json={"unit_id": "baian-xincun-property"})
    dispatch.app.test_client().post(f"/v1/assignments/{issue_id}/resolve",
                                    json={"unit_id": "baian-xincun-property", "resolution": "已疏通"})
    yield services, [e for s in services.values() for e in emitted(s.store)]
    for service in services.values():
        service.store.dispose()


def test_the_flow_publishes_every_event_type_of_the_skeleton(all_events):
    _services, events = all_events

    assert {e.type for e in events} >= {"issue.submitted", "issue.dispatched", "issue.claimed", "issue.resolved",
                                        "issue.escalated", "notification.sent"}


def test_every_subscriber_reads_every_event_it_is_bound_to(all_events):
    services, events = all_events

    for event in events:
        for name, service in services.items():
            if event.type in topology.SUBSCRIPTIONS[name]:
                read = service.subscriber.read(event.to_json())
                assert read.id == event.id, (name, event.type)


def test_each_service_handles_exactly_the_types_its_queue_is_bound_to(all_events):
    services, _events = all_events

    for name, service in services.items():
        assert set(service.subscriber.event_types) == set(topology.SUBSCRIPTIONS[name])
