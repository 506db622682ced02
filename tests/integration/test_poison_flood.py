"""A flood of poison on each bus — bodies that are no envelope, envelopes whose payload the
reader refuses — is all dead-lettered and counted while ordinary issues interleaved with it
are dispatched, and the consumer stays alive (the figures of a larger flood are in make bench
territory; here, hundreds)."""

from __future__ import annotations

import pytest
from kombu import Connection, Exchange, Producer
from prometheus_client import REGISTRY
from sqlalchemy import func, insert, select

from shared import runtime, topology
from shared.envelope import utcnow
from shared.outbox import dead_letter, outbox
from tests.helpers import build, emitted, event, wait_for

POISON = 300
ORDINARY = 10


def _flood() -> list[tuple[str, bytes]]:
    """(issue id, body): poison of two kinds, with an ordinary issue every thirtieth."""
    bodies = []
    for n in range(POISON):
        if n % 2:
            bodies.append((f"p{n}", b"\x00 not an envelope %d" % n))
        else:  # an envelope whose payload dispatch's reader refuses (no location)
            bodies.append((f"p{n}", event("issue.submitted", f"p{n}", {"x": n}).to_json().encode()))
        if n % (POISON // ORDINARY) == 0:
            payload = {"category": "other", "location": {"street": "taibai"}}
            bodies.append(
                (f"ok{n}", event("issue.submitted", f"ok{n}", payload).to_json().encode())
            )
    return bodies


def _dead(service: str, reason: str) -> float:
    labels = {"service": service, "reason": reason}
    return REGISTRY.get_sample_value("loudong_dead_lettered_total", labels) or 0


@pytest.mark.rabbitmq
def test_a_poison_flood_on_rabbitmq_is_dead_lettered_while_issues_flow(tmp_path, rabbitmq_url):
    dispatch = build(
        "dispatch", tmp_path, LOUDONG_BROKER_URL=rabbitmq_url, LOUDONG_POLL_INTERVAL=0.05
    )
    runtime.start(dispatch)
    wait_for(dispatch.bus.is_ready, what="dispatch consuming")
    before = _dead("dispatch", "malformed")
    try:
        with Connection(rabbitmq_url, transport_options={"confirm_publish": True}) as conn:
            producer = Producer(
                conn.default_channel,
                exchange=Exchange(topology.EXCHANGE_NAME, type="topic"),
                auto_declare=False,
            )
            for _, body in _flood():
                producer.publish(body, routing_key="issue.submitted", delivery_mode=2)

        wait_for(
            lambda: len(emitted(dispatch.store, "issue.dispatched")) == ORDINARY,
            timeout=60,
            what="the ordinary issues dispatched",
        )
        wait_for(
            lambda: _depth(rabbitmq_url, topology.dead_queue_name("dispatch")) == POISON,
            timeout=60,
            what="every poison message dead-lettered",
        )
        assert _dead("dispatch", "malformed") == before + POISON
        assert dispatch.bus.is_ready()  # the consumer is alive
    finally:
        runtime.stop(dispatch)


def _depth(url: str, queue: str) -> int:
    with Connection(url) as conn:
        return conn.default_channel.queue_declare(queue, passive=True).message_count


def test_a_poison_flood_on_the_embedded_bus_is_set_aside_while_issues_flow(tmp_path):
    intake, dispatch = build("intake", tmp_path), build("dispatch", tmp_path)
    flood = _flood()
    with intake.store.writer.begin() as conn:  # as if intake had published them
        conn.execute(
            insert(outbox),
            [
                {
                    "event_id": f"f{n:05d}",
                    "type": "issue.submitted",
                    "issue_id": issue_id,
                    "body": body.decode("utf-8", "replace"),
                    "created_at": utcnow(),
                }
                for n, (issue_id, body) in enumerate(flood)
            ],
        )

    for _ in range(len(flood) // 50 + 5):
        dispatch.bus.poll_once()

    assert len(emitted(dispatch.store, "issue.dispatched")) == ORDINARY
    with dispatch.store.read() as conn:
        dead = conn.execute(select(func.count()).select_from(dead_letter)).scalar_one()
    assert dead == POISON
    intake.store.dispose()
    dispatch.store.dispose()
