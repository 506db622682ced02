"""The sender: takes due deliveries, hands them to the provider, records the answer.

The provider is called outside any transaction. If notify dies after the provider accepted
a message and before the answer is recorded, the delivery is sent again when its lease runs
out, with the same idempotency key: a provider that honours the key sends one SMS.
"""
from __future__ import annotations

import logging
import threading
from datetime import timedelta

from services.notify import handlers, store
from services.notify.providers import PermanentError, TransientError

log = logging.getLogger(__name__)
BATCH = 50


def send_due(service_store, context) -> int:
    now = context.clock()
    lease = timedelta(seconds=context.provider_timeout * 2 + 5)  # failover may try two providers
    with service_store.unit_of_work() as uow:
        due = store.lease_due(uow.conn, now, lease, BATCH)
    for delivery in due:
        _send(service_store, context, delivery)
    return len(due)


def _send(service_store, context, delivery: dict) -> None:
    providers = context.channels[delivery["channel"]]
    try:
        provider, message_id = providers.send(delivery["address"], delivery["text"], delivery["id"])
    except TransientError as exc:
        with service_store.unit_of_work() as uow:
            handlers.record_failure(uow, delivery, providers.name, exc.reason, False, exc.retry_after, context,
                                    context.clock())
        return
    except PermanentError as exc:
        with service_store.unit_of_work() as uow:
            handlers.record_failure(uow, delivery, providers.name, exc.reason, True, None, context, context.clock())
        return
    with service_store.unit_of_work() as uow:
        handlers.record_sent(uow, delivery, provider, message_id, context.clock())


def run_sender(service_store, context, interval: float, stop: threading.Event) -> None:
    while not stop.is_set():
        context.deliveries_planned.clear()
        if send_due(service_store, context) < BATCH:
            context.deliveries_planned.wait(interval)
