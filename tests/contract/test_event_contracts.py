"""Every payload a service publishes loads in the reader of every service subscribed to it.

The events are the real ones: issues are taken through all four services in this process
(dispatched, escalated, urged, claimed, noted, resolved, reopened, returned, linked, re-tiered,
closed, notified and failed to notify), and whatever lands in the outboxes is read back by
each subscriber — and searched for anything private."""

import re
import uuid
from datetime import timedelta

import pytest
import requests
import yaml

from district import directory
from services.dispatch import units
from services.escalation.loops import sweep_once
from services.notify.loops import send_due
from services.notify.model import reference
from shared import topology
from shared.config import REPO_ROOT
from tests.helpers import AUTH, SERVICES, SUBMISSION, FakeClock, build, emitted

PROPERTY_UNIT = "baian-xincun-property"
PROPERTY_PHONE = "+8613800000042"
PUSH_SECRET = "contract-pushes"
PROPERTY_WEBHOOK = (
    "https://baian-xincun.example/loudong"  # so that a webhook on the bus would be seen
)
# The consenting resident's phone rides these, written by intake for notify's queue alone.
RESIDENT_EVENTS = {"resident.acknowledged", "resident.feedback_requested", "resident.closed"}
PHONE_SHAPED = re.compile(r"(?<![0-9A-Za-z])(?:\+\d{8,15}|(?:86)?1[3-9]\d{9})(?![0-9A-Za-z])")
EMAIL_SHAPED = re.compile(r"[^@\s]+@[^@\s]+\.[A-Za-z]{2,}")


class Flow:
    def __init__(self, services, sms_provider, clock):
        self.services, self.sms, self.clock = services, sms_provider, clock

    def pump(self, rounds: int = 3) -> None:
        for _ in range(rounds):
            for service in self.services.values():
                service.bus.poll_once()

    def submit(self, **changes) -> str:
        body = {**SUBMISSION, "reporter": {**SUBMISSION["reporter"], "consent": True}, **changes}
        response = (
            self.services["intake"].app.test_client().post("/v1/issues", headers=AUTH, json=body)
        )
        assert response.status_code == 201, response.get_data(as_text=True)
        self.pump()
        return response.json["id"]

    def token(self, unit_id: str) -> dict:
        with self.services["dispatch"].store.unit_of_work() as uow:
            headers = {"Authorization": f"Bearer {units.issue_token(uow, unit_id)}"}
        self.pump()
        return headers

    def unit(
        self, unit_id: str, issue_id: str, action: str, body=None, service: str = "dispatch"
    ) -> None:
        headers = self.token(unit_id)
        if service == "escalation" or action in ("tier", "arbitrate", "urge"):
            path = f"/v1/issues/{issue_id}/{action}"
        else:
            path = f"/v1/assignments/{issue_id}/{action}"
        response = (
            self.services[service].app.test_client().post(path, headers=headers, json=body or {})
        )
        assert response.status_code < 300, response.get_data(as_text=True)
        self.pump()

    def feedback(self, issue_id: str, satisfied: bool) -> None:
        response = (
            self.services["intake"]
            .app.test_client()
            .post(
                f"/v1/issues/{issue_id}/feedback",
                headers=AUTH,
                json={"satisfied": satisfied, "rating": 3},
            )
        )
        assert response.status_code == 201, response.get_data(as_text=True)
        self.pump()

    def reply_code(self, phone: str, issue_id: str) -> str:
        """The reply code of the SMS `phone` was sent about the issue."""
        return next(
            code.group(1)
            for m in self.sms.messages
            if m["to"] == phone and reference(issue_id) in m["text"]
            for code in [re.search(r"“1 #?(\d+)”", m["text"])]
            if code
        )

    def reply(self, phone: str, text: str) -> None:
        """An SMS reply from `phone`, pushed as Aliyun pushes it."""
        push = [{"phone_number": phone, "content": text, "sequence_id": uuid.uuid4().int % 10**9}]
        response = (
            self.services["notify"]
            .app.test_client()
            .post(f"/v1/inbound/aliyun?token={PUSH_SECRET}", json=push)
        )
        assert response.status_code == 200, response.get_data(as_text=True)
        self.pump()
        send_due(self.services["notify"].store, self.services["notify"].context)

    def sweep_and_send(self) -> None:
        escalation, notify = self.services["escalation"], self.services["notify"]
        sweep_once(escalation.store, escalation.context)
        self.pump()
        send_due(notify.store, notify.context)
        self.pump()


@pytest.fixture
def directory_file(tmp_path):
    """deploy/directory.yaml with a webhook for the property company (the deployed one has none)."""
    raw = yaml.safe_load((REPO_ROOT / "deploy" / "directory.yaml").read_text(encoding="utf-8"))
    for unit in raw["units"]:
        if unit["id"] == PROPERTY_UNIT:
            unit["webhook_url"] = PROPERTY_WEBHOOK
    path = tmp_path / "directory.yaml"
    path.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    return path


@pytest.fixture
def all_events(tmp_path, sms_provider, directory_file):
    clock = FakeClock()
    policies = tmp_path / "policies.yaml"
    policies.write_text(
        "supervision_within: PT8H\nsupervision_time: calendar\ntiers:\n"
        + "".join(
            f"  {t}: {{claim_within: PT2H, resolve_within: PT8H, time: calendar, "
            "warnings: [{at: 0.5}]}\n"
            for t in ("private", "small", "big", "hard")
        )
    )
    services = {
        name: build(
            name,
            tmp_path,
            clock if name != "intake" else None,
            LOUDONG_SMS_URL=sms_provider.url,
            LOUDONG_SMS_MAX_ATTEMPTS=1,
            LOUDONG_SMS_RECEIPT_SECRET=PUSH_SECRET,
            LOUDONG_POLICIES=policies,
            LOUDONG_DIRECTORY=directory_file,
        )
        for name in SERVICES
    }
    flow = Flow(services, sms_provider, clock)
    property_unit = PROPERTY_UNIT

    first = flow.submit()
    flow.submit(description="3栋楼道还是堆满杂物")  # the same problem at the same building: linked
    requests.post(sms_provider.url + "/faults", json={"fail_next": 1, "status": 400})
    flow.sweep_and_send()
    clock.advance(hours=1, minutes=10)  # past half time: the unit is warned
    flow.sweep_and_send()
    for _ in range(3):  # up the ladder to the leader in charge: supervision opens
        clock.advance(hours=3)
        flow.sweep_and_send()
    flow.unit(
        "leader-north",
        first,
        "extend",
        {
            "clock": "supervision",
            "until": (clock.now + timedelta(days=9)).isoformat(),
            "reason": "需协调多部门",
        },
        service="escalation",
    )
    flow.unit(
        "leader-north", first, "supervision/close", {"reason": "已部署"}, service="escalation"
    )
    flow.unit("leader-north", first, "urge", {"note": "请今天内清理完毕"})
    for action, body in [
        ("claim", None),
        ("notes", {"note": "在处理"}),
        ("await-resident", {"note": "等居民在家"}),
        ("resident-replied", None),
        ("resolve", {"resolution": "已清理"}),
    ]:
        flow.unit(property_unit, first, action, body)
    flow.feedback(first, satisfied=False)
    flow.unit(property_unit, first, "return", {"reason": "wrong_function"})

    other = flow.submit(location={"street": "wuqiao", "community": "lianhua"})
    flow.unit("wuqiao-office", other, "tier", {"tier": "big", "reason": "涉及多个部门"})
    flow.unit("wuqiao-office", other, "claim")
    flow.unit("wuqiao-office", other, "resolve", {"resolution": "已协调"})
    flow.feedback(other, satisfied=True)

    bounced = flow.submit(
        category="neighbour_dispute", location={"street": "taibai", "community": "wenhua"}
    )
    for lead in (
        "wenhua-committee",
        "taibai-office",
    ):  # nobody left to try: the street office arbitrates
        flow.unit(lead, bounced, "return", {"reason": "unclear_ownership"})
    replied = flow.submit(location={**SUBMISSION["location"], "building": "5"})
    flow.sweep_and_send()
    flow.reply(PROPERTY_PHONE, f"1 {flow.reply_code(PROPERTY_PHONE, replied)}")
    flow.reply(PROPERTY_PHONE, f"1 {flow.reply_code(PROPERTY_PHONE, replied)}")  # refused
    with services["dispatch"].store.unit_of_work() as uow:  # a lost phone: its token revoked
        units.revoke_token(uow, units.tokens_of(uow.conn, property_unit)[0]["id"])
    flow.pump()
    yield services, [e for s in services.values() for e in emitted(s.store)]
    for service in services.values():
        service.store.dispose()


def test_the_flow_publishes_every_event_type_consumed_anywhere(all_events):
    _services, events = all_events

    consumed = {t for types in topology.SUBSCRIPTIONS.values() for t in types}
    assert consumed - {e.type for e in events} == set()


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


def _texts(value):
    """Every string in a payload, however deeply nested."""
    if isinstance(value, dict):
        for item in value.values():
            yield from _texts(item)
    elif isinstance(value, list):
        for item in value:
            yield from _texts(item)
    elif isinstance(value, str):
        yield value


def test_no_event_carries_a_phone_or_an_address_but_a_consenting_residents_own(
    all_events, directory_file
):
    # Every queue bound to an event gets it: units' contacts and webhooks are directory data that
    # notify reads itself: on the bus a unit is its id; a phone is only a resident's, for notify.
    _services, events = all_events
    units = directory.load(directory_file).units.values()
    private = (
        {c.phone for u in units for c in u.contacts}
        | {c.email for u in units for c in u.contacts if c.email}
        | {u.webhook_url for u in units if u.webhook_url}
    )
    assert PROPERTY_WEBHOOK in private

    dispatched = [e for e in events if e.type == "issue.dispatched"]
    assert {e.payload["role"] for e in dispatched} == {
        "lead",
        "co",
    }  # co-handling units are named the same way
    assert {e.type for e in events} >= RESIDENT_EVENTS
    for event in events:
        payload = event.payload
        if event.type in RESIDENT_EVENTS:
            assert event.producer == "intake" and payload["phone"] not in private
            payload = {k: v for k, v in payload.items() if k != "phone"}
        for text in _texts(payload):
            assert not PHONE_SHAPED.search(text), (event.type, "phone-shaped", text[:40])
            assert not EMAIL_SHAPED.search(text), (event.type, "an email address")
            assert not [p for p in private if p in text], (
                event.type,
                "the directory's contact or webhook",
            )


def test_only_notify_is_bound_to_the_events_with_a_residents_phone():
    bound = {name for name, types in topology.SUBSCRIPTIONS.items() if RESIDENT_EVENTS & set(types)}

    assert bound == {"notify"}
