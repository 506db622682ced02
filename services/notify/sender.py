"""The sender: takes due deliveries, hands them to the provider, records the answer.

The provider is called outside any transaction. If notify dies after the provider accepted
a message and before the answer is recorded, the delivery is sent again when its lease runs
out, with the same idempotency key: a provider that honours the key sends one SMS.
"""

from __future__ import annotations

import logging
import threading
from datetime import timedelta

from services.notify import handlers, metrics, model, store, templates
from services.notify.providers import PermanentError, TransientError

log = logging.getLogger(__name__)
BATCH = 50


def send_due(service_store, context) -> int:
    now = context.clock()
    lease = timedelta(seconds=context.provider_timeout * 2 + 5)  # failover may try two providers
    with service_store.unit_of_work() as uow:
        due = store.lease_due(uow.conn, now, lease, BATCH)
    for group in bundles(due, context.max_parts):
        _send(service_store, context, group)
    return len(due)


def bundles(due: list[dict], max_parts: int) -> list[list[dict]]:
    """Notices due together for one address go as one message (those held overnight for a
    resident, say), as many as fit whole in an SMS's parts; a webhook stays one notice per POST."""
    groups: dict[tuple, list[list[dict]]] = {}
    for delivery in due:
        if delivery["channel"] == "webhook":
            groups[(delivery["id"],)] = [[delivery]]
            continue
        chunks = groups.setdefault((delivery["channel"], delivery["address"]), [[]])
        joined = "\n".join(d["text"] for d in chunks[-1] + [delivery])
        if (
            chunks[-1]
            and delivery["channel"] == "sms"
            and templates.sms_parts(joined)[2] > max_parts
        ):
            chunks.append(
                []
            )  # a notice is never cut short to make room: it starts the next message
        chunks[-1].append(delivery)
    return [chunk for chunks in groups.values() for chunk in chunks]


def _send(service_store, context, group: list[dict]) -> None:
    first = group[0]
    providers = context.channels.get(first["channel"])
    if providers is None:  # planned when that channel was configured, and it no longer is
        with service_store.unit_of_work() as uow:
            for delivery in group:
                handlers.record_failure(
                    uow, delivery, "none", "unknown_channel", True, None, context, context.clock()
                )
        return
    text = "\n".join(d["text"] for d in group)
    if first["channel"] == "sms":
        text = templates.fit(text, context.max_parts)
    # One key per bundle: the same members make the same key, so a resend after a crash is recognised.
    key = (
        first["id"]
        if len(group) == 1
        else model.delivery_id(",".join(sorted(d["id"] for d in group)), "bundle", first["channel"])
    )
    try:
        provider, message_id = providers.send(first["address"], text, key)
    except (TransientError, PermanentError) as exc:
        permanent = isinstance(exc, PermanentError)
        with service_store.unit_of_work() as uow:
            for delivery in group:
                handlers.record_failure(
                    uow,
                    delivery,
                    providers.name,
                    exc.reason,
                    permanent,
                    getattr(exc, "retry_after", None),
                    context,
                    context.clock(),
                )
        return
    with service_store.unit_of_work() as uow:
        for delivery in group:
            handlers.record_sent(uow, delivery, provider, message_id, context.clock())
    if len(group) > 1:
        metrics.BUNDLED.labels(first["channel"]).inc(len(group) - 1)


def run_sender(service_store, context, interval: float, stop: threading.Event) -> None:
    while not stop.is_set():
        context.deliveries_planned.clear()
        if send_due(service_store, context) < BATCH:
            context.deliveries_planned.wait(interval)
