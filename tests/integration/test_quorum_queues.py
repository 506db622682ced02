"""LOUDONG_QUEUE_TYPE=quorum on a fresh vhost: every queue the services declare is a quorum
queue, events are routed to them, and a retry delay queue still dead-letters its message back
into the work queue when its per-message expiration passes (what the retry schedule rides)."""

from __future__ import annotations

import subprocess

import pytest
from kombu import Connection, Producer

from shared import rabbit, topology
from tests.helpers import wait_for

pytestmark = pytest.mark.rabbitmq


def _queues(vhost: str) -> dict[str, str]:
    out = subprocess.run(
        ["rabbitmqctl", "-q", "list_queues", "-p", vhost, "name", "type", "--no-table-headers"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return dict(line.split("\t")[:2] for line in out.strip().splitlines() if "\t" in line)


def test_quorum_queues_route_and_retry_as_classic_ones_do(rabbitmq_url):
    vhost = rabbitmq_url.rsplit("/", 1)[1]

    rabbit.declare_topology(rabbitmq_url, "quorum")

    declared = _queues(vhost)
    expected = {topology.queue_name(s) for s in topology.SUBSCRIPTIONS}
    assert expected <= set(declared) and set(declared.values()) == {"quorum"}
    with Connection(rabbitmq_url) as conn:
        producer = Producer(conn.default_channel)
        producer.publish(
            b'{"routed": true}', exchange=topology.EXCHANGE_NAME, routing_key="issue.submitted"
        )
        producer.publish(  # a retry: back into the work queue once its expiration passes
            b'{"retried": true}',
            exchange="",
            routing_key=topology.retry_queue_name("dispatch", 1),
            expiration=0.2,
        )
        work = topology.work_queue("dispatch", "quorum")(conn.default_channel)
        got = []

        def two_arrived():
            message = work.get(no_ack=True)
            if message is not None:
                got.append(message.body)
            return len(got) == 2

        wait_for(two_arrived, timeout=15, what="the routed and the retried message")
    assert sorted(got) == [b'{"retried": true}', b'{"routed": true}']
