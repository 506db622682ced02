"""The outbox relay: publishes committed events and marks them sent only once the broker
has confirmed them. A crash between confirm and mark publishes a batch again; consumers'
inboxes make that harmless."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import timedelta

from sqlalchemy import delete, select, update

from shared import metrics
from shared.envelope import utcnow
from shared.outbox import Store, outbox

log = logging.getLogger(__name__)
PublishBatch = Callable[[list[tuple[str, bytes, str]]], None]


RELAY_BATCH = 1000


def relay_once(store: Store, publish_batch: PublishBatch, batch_size: int = RELAY_BATCH) -> int:
    """Publish one batch of unsent events; the number published. Replicas on PostgreSQL
    skip each other's locked rows, so no event goes out from two relays at once."""
    with store.writer.begin() as conn:
        rows = conn.execute(
            select(
                outbox.c.seq, outbox.c.event_id, outbox.c.type, outbox.c.body, outbox.c.created_at
            )
            .where(outbox.c.published_at.is_(None))
            .order_by(outbox.c.seq)
            .limit(batch_size)
            .with_for_update(skip_locked=True)
        ).all()
        if not rows:
            return 0
        publish_batch([(r.type, r.body.encode(), r.event_id) for r in rows])
        confirmed_at = utcnow()
        conn.execute(
            update(outbox)
            .where(outbox.c.seq.in_([r.seq for r in rows]))
            .values(published_at=confirmed_at)
        )
    metrics.EVENTS_PUBLISHED.labels(store.service).inc(len(rows))
    lag = metrics.RELAY_LAG.labels(store.service)
    for row in rows:
        lag.observe((confirmed_at - row.created_at).total_seconds())
    return len(rows)


def prune_published(store: Store, keep: timedelta) -> int:
    """Published events are kept a while for inspection, then removed."""
    with store.writer.begin() as conn:
        result = conn.execute(delete(outbox).where(outbox.c.published_at < utcnow() - keep))
    return result.rowcount


def run_relay(
    store: Store,
    publish_batch: PublishBatch,
    stop: threading.Event,
    poll_interval: float,
    linger: float = 0.005,
    keep: timedelta = timedelta(days=1),
) -> None:
    """Publish until stopped. After a wake-up it lingers a few milliseconds so that under load
    one batch (one query, one confirm round, one update) carries many events, not one."""
    next_prune = 0.0
    while not stop.is_set():
        store.outbox_written.clear()  # before reading, so a commit during the batch is not missed
        try:
            if relay_once(store, publish_batch) == RELAY_BATCH:
                continue
            if time.monotonic() > next_prune:
                prune_published(store, keep)
                next_prune = time.monotonic() + 600
        except Exception as exc:  # broker or store down: keep the events, try again
            metrics.RELAY_ERRORS.labels(store.service).inc()
            log.warning("%s relay: %r; retrying", store.service, exc)
            stop.wait(1.0)
            continue
        if store.outbox_written.wait(poll_interval):
            stop.wait(linger)
