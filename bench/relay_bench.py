"""The outbox relay on its own: 50,000 committed events in a PostgreSQL outbox, published
by shared.relay.relay_once through shared.publisher.ConfirmedPublisher (1000 a batch)
until none is left. The clock covers select-for-update, publish, confirm and mark-sent."""

from __future__ import annotations

import json
import time
import uuid
from datetime import UTC, datetime

import psycopg

from bench import infra
from services.intake.main import MIGRATIONS
from services.intake.schemas import write_payload
from shared.outbox import Store
from shared.publisher import ConfirmedPublisher
from shared.relay import relay_pending

RELAY_DB = "loudong_bench_relay"
RELAY_EXCHANGE = "loudong.bench.relay"
RELAY_QUEUE = "loudong.bench.relay"
EVENT_TYPE = "bench.relayed"


def fill_outbox(store_url: str, count: int, body_size: int = 1024) -> None:
    """COPY `count` unpublished rows straight into the outbox table."""
    created_at = datetime.now(UTC).replace(tzinfo=None).isoformat()  # the column holds naive UTC
    with psycopg.connect(store_url) as conn, conn.cursor() as cur:
        with cur.copy(
            "COPY outbox (event_id, type, issue_id, body, created_at) FROM STDIN"
        ) as copy:
            for _ in range(count):
                event_id, issue_id = str(uuid.uuid4()), str(uuid.uuid4())
                body = {
                    "id": event_id,
                    "type": EVENT_TYPE,
                    "issue_id": issue_id,
                    "producer": "bench",
                    "occurred_at": created_at + "+00:00",
                    "payload": {"pad": ""},
                }
                body["payload"]["pad"] = "x" * max(0, body_size - len(json.dumps(body)))
                copy.write_row((event_id, EVENT_TYPE, issue_id, json.dumps(body), created_at))
        # A live outbox has statistics (autovacuum); without them the relay's first batches
        # are planned as a sort of the whole table, which is this bench's artefact, not its figure.
        cur.execute("ANALYZE outbox")


def measure(total: int = 50_000, batch_size: int = 1000) -> tuple[float, int]:
    """(events relayed per second, messages that reached the queue)."""
    url = infra.recreate_database(RELAY_DB)
    store = Store("bench-relay", url, MIGRATIONS, write_payload)
    infra.declare_queue(RELAY_QUEUE, exchange=RELAY_EXCHANGE)
    publisher = ConfirmedPublisher(infra.BROKER_URL, exchange=RELAY_EXCHANGE)
    try:
        store.migrate()
        fill_outbox(url, total)
        relayed, started = 0, time.perf_counter()
        while published := relay_pending(store, publisher.publish_batch, batch_size=batch_size):
            relayed += published
        elapsed = time.perf_counter() - started
        with infra.broker() as conn:
            arrived = infra.queue_depth(conn, RELAY_QUEUE) or 0
        return relayed / elapsed, arrived
    finally:
        publisher.close()
        store.dispose()
        infra.delete_queue(RELAY_QUEUE, exchange=RELAY_EXCHANGE)
        infra.drop_database(RELAY_DB)
