"""The sender: takes due deliveries, hands them to the provider, records the answer.

The provider is called outside any transaction. Each message (one delivery, or several to one
address bundled) is written down with its text and key in the lease's transaction, before the
call. If notify dies after the provider accepted it and before the answer is recorded, the
same message goes again when its lease runs out — the same members, text and idempotency key,
whatever else has fallen due for that address since: a provider that honours the key sends one
SMS, and a strict one sees no conflicting reuse.
"""

from __future__ import annotations

import threading
from functools import partial
from typing import TYPE_CHECKING

from services.notify import delivery, metrics, model, store
from services.notify.model import Failure, Message, Sent
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
        messages = delivery.pinned(uow.conn, due, now, lease, context.settings.max_parts)
    for message in messages:
        _send(service_store, context, message)
    return len(due)


def _send(service_store: Store, context: Context, message: Message) -> None:
    answer = _hand_over(context, message)
    bundle = message.members
    with service_store.unit_of_work() as uow:
        for planned in bundle:
            if isinstance(answer, Sent):
                delivery.record_sent(uow, planned, answer, context.clock())
            else:
                delivery.record_failure(uow, context, planned, answer, context.clock())
    if isinstance(answer, Sent) and len(bundle) > 1:
        metrics.BUNDLED.labels(bundle[0].channel).inc(len(bundle) - 1)


def _hand_over(context: Context, message: Message) -> Sent | Failure:
    """The message, through its channel: the provider's answer."""
    first = message.first
    channel = context.channels.get(first.channel)
    if channel is None:  # planned when that channel was configured, and it no longer is
        return Failure("none", "unknown_channel", permanent=True)
    try:
        return Sent(*channel.send(first.address, message.text, message.key))
    except TransientError as exc:
        return Failure(channel.name, exc.reason, permanent=False, retry_after=exc.retry_after)
    except PermanentError as exc:
        return Failure(channel.name, exc.reason, permanent=True)
