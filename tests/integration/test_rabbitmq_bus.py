"""The RabbitMQ bus for real: confirmed relay, acks after commit, retries, dead letters."""

import threading
import time

import psycopg
import pytest
from kombu import Connection, Exchange, Producer
from prometheus_client import REGISTRY
from sqlalchemy import select, text

from shared import rabbit, runtime, topology
from shared.outbox import inbox, outbox
from tests.helpers import AUTH, SUBMISSION, build, emitted, event, wait_for

pytestmark = pytest.mark.rabbitmq


def _built(name, tmp_path, rabbitmq_url, **extra):
    return build(
        name,
        tmp_path,
        LOUDONG_BROKER_URL=rabbitmq_url,
        LOUDONG_RETRY_DELAYS="0.2,0.2",
        LOUDONG_POLL_INTERVAL=0.05,
        **extra,
    )


def _started(name, tmp_path, rabbitmq_url, **extra):
    service = _built(name, tmp_path, rabbitmq_url, **extra)
    runtime.start(service)
    wait_for(service.bus.is_ready, what=f"{name} consuming")
    return service


@pytest.fixture
def started(tmp_path, rabbitmq_url):
    running = []

    def start(name, **extra):
        running.append(_started(name, tmp_path, rabbitmq_url, **extra))
        return running[-1]

    yield start
    for service in running:
        runtime.stop(service)


def _publish_raw(url, body, routing_key):
    with Connection(url, transport_options={"confirm_publish": True}) as conn:
        Producer(
            conn.default_channel,
            exchange=Exchange(topology.EXCHANGE_NAME, type="topic"),
            auto_declare=False,
        ).publish(body, routing_key=routing_key, content_type="application/json", delivery_mode=2)


def _queue_depth(url, queue):
    with Connection(url) as conn:
        return conn.default_channel.queue_declare(queue, passive=True).message_count


def _poisoned(dispatch, poison):
    """dispatch's issue.submitted handler failing on `poison` alone; the ids it was called
    with, in order."""
    real = dispatch.subscriber._handlers["issue.submitted"]
    attempts = []

    def poisoned(uow, envelope, context):
        attempts.append(envelope.id)
        if envelope.id == poison.id:
            raise RuntimeError("directory unreachable")
        real(uow, envelope, context)

    dispatch.subscriber._handlers["issue.submitted"] = poisoned
    return attempts


def _sample(name, **labels):
    return REGISTRY.get_sample_value(name, labels) or 0


def test_an_issue_travels_from_intake_to_dispatch_and_is_marked_published(started):
    intake, dispatch = started("intake"), started("dispatch")

    issue_id = intake.app.test_client().post("/v1/issues", headers=AUTH, json=SUBMISSION).json["id"]

    wait_for(lambda: emitted(dispatch.store, "issue.dispatched"), what="dispatch")
    [dispatched] = emitted(dispatch.store, "issue.dispatched")
    assert dispatched.issue_id == issue_id
    with intake.store.read() as conn:
        assert conn.execute(select(outbox.c.published_at)).scalar() is not None


def test_a_malformed_message_is_dead_lettered_counted_and_the_consumer_goes_on(
    started, rabbitmq_url
):
    dispatch = started("dispatch")
    before = _sample("loudong_dead_lettered_total", service="dispatch", reason="malformed")
    good = event(
        "issue.submitted", "i-good", {"category": "other", "location": {"street": "taibai"}}
    )

    _publish_raw(rabbitmq_url, b"\x00 definitely not an envelope", "issue.submitted")
    _publish_raw(rabbitmq_url, good.to_json(), "issue.submitted")

    wait_for(lambda: emitted(dispatch.store, "issue.dispatched"), what="the good message applied")
    wait_for(
        lambda: _queue_depth(rabbitmq_url, topology.dead_queue_name("dispatch")) == 1,
        what="dead letter",
    )
    assert (
        _sample("loudong_dead_lettered_total", service="dispatch", reason="malformed") == before + 1
    )


def test_a_failing_handler_is_retried_with_backoff_then_dead_lettered(started, rabbitmq_url):
    dispatch = started("dispatch")
    attempts = []

    def broken(uow, event, context):
        attempts.append(event.id)
        raise RuntimeError("directory unreachable")

    dispatch.subscriber._handlers["issue.submitted"] = broken
    _publish_raw(
        rabbitmq_url,
        event("issue.submitted", "i1", {"location": {"street": "taibai"}}).to_json(),
        "issue.submitted",
    )

    wait_for(
        lambda: _queue_depth(rabbitmq_url, topology.dead_queue_name("dispatch")) == 1,
        what="dead letter",
    )
    assert len(attempts) == 3 and len(set(attempts)) == 1
    assert emitted(dispatch.store) == []


def test_the_same_event_delivered_twice_by_the_broker_sends_one_sms(
    started, rabbitmq_url, sms_provider
):
    started("notify", LOUDONG_SMS_URL=sms_provider.url)
    dispatched = event(
        "issue.dispatched",
        "i1",
        {
            "unit_id": "taibai-office",
            "unit_name": "太白街道办事处",
            "category": "other",
            "place_id": "taibai",
            "unit_contacts": [{"name": "值班室", "phone": "+8613800000023"}],
        },
    ).to_json()
    before = _sample(
        "loudong_events_consumed_total",
        service="notify",
        type="issue.dispatched",
        outcome="duplicate",
    )

    _publish_raw(rabbitmq_url, dispatched, "issue.dispatched")
    _publish_raw(rabbitmq_url, dispatched, "issue.dispatched")

    wait_for(
        lambda: (
            _sample(
                "loudong_events_consumed_total",
                service="notify",
                type="issue.dispatched",
                outcome="duplicate",
            )
            == before + 1
        ),
        what="the duplicate seen",
    )
    wait_for(lambda: sms_provider.messages, what="the SMS")
    assert len(sms_provider.messages) == 1
    assert sms_provider.requests == 1


def test_a_failing_message_is_set_aside_while_the_next_one_applies(started, rabbitmq_url):
    dispatch = started("dispatch")
    submitted = {"category": "other", "location": {"street": "taibai"}}
    poison = event("issue.submitted", "i-poison", submitted)
    good = event("issue.submitted", "i-good", submitted)
    attempts = _poisoned(dispatch, poison)
    _publish_raw(rabbitmq_url, poison.to_json(), "issue.submitted")
    _publish_raw(rabbitmq_url, good.to_json(), "issue.submitted")

    wait_for(
        lambda: _queue_depth(rabbitmq_url, topology.dead_queue_name("dispatch")) == 1,
        what="dead letter",
    )
    # the good one applied right after the poison's first attempt, not after its retries
    assert attempts == [poison.id, good.id, poison.id, poison.id]
    assert [e.issue_id for e in emitted(dispatch.store, "issue.dispatched")] == ["i-good"]


def test_a_backlog_is_applied_in_batches_and_a_poison_in_one_is_set_apart(tmp_path, rabbitmq_url):
    """Thirty events wait in the queue before dispatch starts, so they arrive together: the
    ones before the poison commit together, the poison goes to its retry, the rest go on
    together; the malformed one is dead-lettered; every good one is applied once."""
    rabbit.declare_topology(rabbitmq_url)
    submitted = {"category": "other", "location": {"street": "taibai"}}
    events = [event("issue.submitted", f"i-{n}", submitted) for n in range(30)]
    poison = events[10]
    for n, envelope in enumerate(events):
        _publish_raw(rabbitmq_url, envelope.to_json(), "issue.submitted")
        if n == 20:
            _publish_raw(rabbitmq_url, b"{not an envelope", "issue.submitted")
    batched = _sample("loudong_consumed_batch_size_count", service="dispatch")
    dispatch = _built("dispatch", tmp_path, rabbitmq_url)
    attempts = _poisoned(dispatch, poison)
    runtime.start(dispatch)
    try:
        wait_for(
            lambda: _queue_depth(rabbitmq_url, topology.dead_queue_name("dispatch")) == 2,
            what="the poison and the malformed one dead-lettered",
        )
        good = [e.id for e in events if e is not poison]
        assert attempts[:30] == [e.id for e in events]  # each once, in order, before a retry
        assert attempts[30:] == [poison.id, poison.id]
        dispatched = [e.issue_id for e in emitted(dispatch.store, "issue.dispatched")]
        assert sorted(dispatched) == sorted(e.issue_id for e in events if e is not poison)
        assert len(good) == len(dispatched)
        assert _sample("loudong_consumed_batch_size_count", service="dispatch") > batched
        assert _queue_depth(rabbitmq_url, topology.queue_name("dispatch")) == 0
    finally:
        runtime.stop(dispatch)


@pytest.mark.postgres
def test_a_database_error_in_a_batch_on_postgres_undoes_that_event_alone(
    tmp_path, rabbitmq_url, postgres_urls
):
    """The poison's handler writes its whole effect, then a statement fails: on PostgreSQL
    the transaction is in error until it goes back to the event's savepoint. The events
    before and after it still commit, each once; nothing of the poison is left."""
    rabbit.declare_topology(rabbitmq_url)
    submitted = {"category": "other", "location": {"street": "taibai"}}
    events = [event("issue.submitted", f"i-{n}", submitted) for n in range(12)]
    poison = events[5]
    for envelope in events:
        _publish_raw(rabbitmq_url, envelope.to_json(), "issue.submitted")
    dispatch = _built(
        "dispatch", tmp_path, rabbitmq_url, LOUDONG_DISPATCH_DATABASE_URL=postgres_urls["dispatch"]
    )
    real = dispatch.subscriber._handlers["issue.submitted"]
    attempts = []

    def fails_late(uow, envelope, context):
        attempts.append(envelope.id)
        real(uow, envelope, context)
        if envelope.id == poison.id:
            uow.conn.execute(text("SELECT 1 / 0"))  # division_by_zero, after the writes

    dispatch.subscriber._handlers["issue.submitted"] = fails_late
    dispatch.store.migrate()
    runtime.start(dispatch)
    try:
        wait_for(
            lambda: _queue_depth(rabbitmq_url, topology.dead_queue_name("dispatch")) == 1,
            what="the poison dead-lettered",
        )
    finally:
        runtime.stop(dispatch)
    assert attempts[:12] == [e.id for e in events]  # each once, in order, before a retry
    assert attempts[12:] == [poison.id, poison.id]
    dispatched = [e.issue_id for e in emitted(dispatch.store, "issue.dispatched")]
    assert sorted(dispatched) == sorted(e.issue_id for e in events if e is not poison)
    with dispatch.store.read() as conn:
        applied = set(conn.execute(select(inbox.c.event_id)).scalars())
    assert applied == {e.id for e in events if e is not poison}


@pytest.mark.postgres
def test_an_event_chosen_as_a_deadlocks_victim_is_applied_again_at_once(
    started, rabbitmq_url, postgres_urls
):
    """Its first attempt and another transaction wait on each other's locks; PostgreSQL
    fails the attempt that waited first, the handler's, and the other commits. The event is
    applied on its second attempt at once, never sent to a delay queue."""
    dispatch = started("dispatch", LOUDONG_DISPATCH_DATABASE_URL=postgres_urls["dispatch"])
    real = dispatch.subscriber._handlers["issue.submitted"]
    attempts, handler_holds, other_holds = [], threading.Event(), threading.Event()

    def entangled(uow, envelope, context):
        attempts.append(envelope.id)
        if len(attempts) == 1:
            uow.conn.execute(text("SELECT pg_advisory_xact_lock(7001)"))
            handler_holds.set()
            uow.conn.execute(text("SELECT pg_advisory_xact_lock(7002)"))  # the other holds it
        real(uow, envelope, context)

    def other_transaction():
        with psycopg.connect(postgres_urls["dispatch"]) as conn:
            conn.execute("SELECT pg_advisory_xact_lock(7002)")
            other_holds.set()
            handler_holds.wait(20)
            time.sleep(0.3)  # the handler waits first, so its backend finds the deadlock first
            conn.execute("SELECT pg_advisory_xact_lock(7001)")

    dispatch.subscriber._handlers["issue.submitted"] = entangled
    other = threading.Thread(target=other_transaction)
    other.start()
    other_holds.wait(10)
    lost = _sample("loudong_races_lost_total", service="dispatch")
    retried = _sample(
        "loudong_events_consumed_total",
        service="dispatch",
        type="issue.submitted",
        outcome="retried",
    )
    submitted = event(
        "issue.submitted", "i-raced", {"category": "other", "location": {"street": "taibai"}}
    )
    _publish_raw(rabbitmq_url, submitted.to_json(), "issue.submitted")

    wait_for(
        lambda: emitted(dispatch.store, "issue.dispatched"), what=f"the issue dispatched {attempts}"
    )
    other.join(10)
    assert attempts == [submitted.id, submitted.id]
    assert _sample("loudong_races_lost_total", service="dispatch") == lost + 1
    assert (
        _sample(
            "loudong_events_consumed_total",
            service="dispatch",
            type="issue.submitted",
            outcome="retried",
        )
        == retried
    )
    assert _queue_depth(rabbitmq_url, topology.retry_queue_name("dispatch", 1)) == 0
