"""The sender: takes due deliveries, hands them to the provider, records the answer.

The provider is called outside any transaction. If notify dies after the provider accepted
a message and before the answer is recorded, the delivery is sent again when its lease runs
out, with the same idempotency key: a provider that honours the key sends one SMS.
"""

from __future__ import annotations

import threading
from functools import partial
from typing import TYPE_CHECKING

from services.notify import delivery, metrics, model, store
from services.notify.model import Delivery, Failure, Sent
from services.notify.providers import PermanentError, TransientError
from shared.loops import run_in_batches
from shared.outbox import Store

if TYPE_CHECKING:
    from services.notify.main import Context

BATCH = 50


def run_sender(
    service_store: Store, context: Context, interval: float, stop: threading.Event
) -> None:
    """Sends as soon as a delivery is planned, else every `interval` (retries, held messages)."""
    send = partial(send_due, service_store, context)
    run_in_batches(send, BATCH, interval, stop, wake=context.deliveries_planned)


def send_due(service_store: Store, context: Context) -> int:
    now, lease = context.clock(), model.lease_for(context.settings.sms_timeout)
    with service_store.unit_of_work() as uow:
        due = store.lease_due(uow.conn, now, lease, BATCH)
    for bundle in model.bundles(due, context.settings.max_parts):
        _send(service_store, context, bundle)
    return len(due)


def _send(service_store: Store, context: Context, bundle: list[Delivery]) -> None:
    answer = _hand_over(context, bundle)
    with service_store.unit_of_work() as uow:
        for planned in bundle:
            if isinstance(answer, Sent):
                delivery.record_sent(uow, planned, answer, context.clock())
            else:
                delivery.record_failure(uow, context, planned, answer, context.clock())
    if isinstance(answer, Sent) and len(bundle) > 1:
        metrics.BUNDLED.labels(bundle[0].channel).inc(len(bundle) - 1)


def _hand_over(context: Context, bundle: list[Delivery]) -> Sent | Failure:
    """One message for the bundle, through its channel: the provider's answer."""
    first = bundle[0]
    channel = context.channels.get(first.channel)
    if channel is None:  # planned when that channel was configured, and it no longer is
        return Failure("none", "unknown_channel", permanent=True)
    text = model.bundle_text(bundle, context.settings.max_parts)
    try:
        return Sent(*channel.send(first.address, text, model.message_key(bundle)))
    except TransientError as exc:
        return Failure(channel.name, exc.reason, permanent=False, retry_after=exc.retry_after)
    except PermanentError as exc:
        return Failure(channel.name, exc.reason, permanent=True)
