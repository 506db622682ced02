"""A delivery's life in the store: planned once per (event, recipient, channel), then recorded as
sent or failed (with its notification.sent or .failed) when the sender hears the provider's
answer. Events (handlers.py), administrators (commands.py) and the sender (loops.py) all change
deliveries through here, so the one-row rule and the lease are kept in one place."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import TYPE_CHECKING

from services.notify import metrics, model, store
from services.notify.model import (
    Delivery,
    Failure,
    Message,
    Notice,
    Sent,
    rate_limited_until,
)
from shared.outbox import UnitOfWork

if TYPE_CHECKING:
    from services.notify.main import Context


def plan(uow: UnitOfWork, context: Context, notice: Notice, when: datetime) -> bool:
    """A pending delivery from `when`, unless this (event, recipient, channel) already has one."""
    if store.exists(uow.conn, notice.delivery_id):
        return False
    settings, now = context.settings, context.clock()
    delivery = Delivery.planned(notice, when, now, email="email" in context.channels)
    if delivery.channel == "sms":
        delivery = delivery.fitted(settings.max_parts)
    # Residents are not flooded; units have a far higher limit (bundling keeps their bursts short).
    limit = settings.recipient_limit if delivery.limited_as_resident else settings.unit_limit
    count, window = limit
    nth_latest = store.nth_latest_to(uow.conn, delivery.address, now - window, count)
    waits_until = rate_limited_until(nth_latest, window)
    if waits_until is not None:
        delivery = delivery.held_until(waits_until)
        uow.on_commit(lambda: metrics.HELD.labels(delivery.channel, "rate_limit").inc())
    store.add(uow.conn, delivery)
    return True


def pinned(conn, due: list[Delivery], now: datetime, lease, max_parts: int) -> list[Message]:
    """The messages the due deliveries go in, written down before any is handed over. One a
    provider may already hold (notify died between its acceptance and the record) goes again
    exactly as it went: same members, same text, same key. The others are bundled now, and
    pinned so in the same transaction as their lease."""
    messages = []
    for key in dict.fromkeys(d.message_key for d in due if d.message_key):
        members = store.pending_in_message(conn, key, now, lease)
        if not members:
            continue  # another sender finished it meanwhile
        text = store.bundle_text(conn, key) if len(members) > 1 or key != members[0].id else None
        messages.append(Message(key, text or model.bundle_text(members, max_parts), members))
    fresh = [d for d in due if not d.message_key]
    alone = []
    for bundle in model.bundles(fresh, max_parts):
        key, text = model.message_key(bundle), model.bundle_text(bundle, max_parts)
        if len(bundle) == 1:
            alone.append(bundle[0].id)
        else:
            store.pin_bundle(conn, key, [d.id for d in bundle], text, bundle[0], now)
        messages.append(Message(key, text, [replace(d, message_key=key) for d in bundle]))
    store.pin_alone(conn, alone)
    return messages


def record_sent(uow: UnitOfWork, delivery: Delivery, sent: Sent, now: datetime) -> None:
    current = store.get_pending(uow.conn, delivery.id)
    if current is None:
        return  # another sender finished it after our lease ran out
    done = current.sent(sent, now)
    store.save(uow.conn, done)
    if done.announced:
        uow.emit(done.sent_event())
    latency = delivery.seconds_since_event(now)
    uow.on_commit(
        lambda: (
            metrics.SENT.labels(done.channel, sent.provider).inc(),
            metrics.DELIVERY_SECONDS.labels(done.channel).observe(latency),
        )
    )


def record_failure(
    uow: UnitOfWork, context: Context, delivery: Delivery, failure: Failure, now: datetime
) -> None:
    """Retried later, or failed for good: then the fallback email, if any, is planned, and
    the failure is final only when no fallback is left trying."""
    current = store.get_pending(uow.conn, delivery.id)
    if current is None:
        return
    settings, channel = context.settings, delivery.channel
    after = current.failed(failure, now, settings.max_attempts, settings.retry_base)
    store.save(uow.conn, after)
    uow.on_commit(
        lambda: metrics.PROVIDER_ERRORS.labels(channel, failure.provider, failure.code).inc()
    )
    if after.will_retry:
        uow.on_commit(lambda: metrics.RETRIED.labels(channel, failure.provider).inc())
        return
    fallback = after.fallback_address
    if fallback:
        plan(uow, context, after.by_email(), now)
        uow.on_commit(context.deliveries_planned.set)
    if after.announced:
        uow.emit(after.failed_event(failure.reason, final=not fallback, now=now))
    uow.on_commit(lambda: metrics.FAILED.labels(channel, failure.provider, failure.code).inc())
