"""Notify's handlers: plan deliveries from events, then record what the channel said, falling
back to email when SMS cannot reach a contact."""

from __future__ import annotations

import json
import logging
from datetime import datetime

from services.notify import metrics, model, store, templates
from services.notify.events import NotificationFailed, NotificationSent
from shared.envelope import Envelope
from shared.outbox import UnitOfWork

log = logging.getLogger(__name__)


def on_event(uow: UnitOfWork, event: Envelope, context) -> None:
    """One delivery row per (recipient, channel), committed with the inbox record; the sender
    does the rest."""
    now = context.clock()
    try:
        told = model.recipients(event.type, event.issue_id, event.payload, context.directory.units)
    except model.UnknownUnit as unknown:
        undeliverable(uow, event, unknown.unit_id, now)
        return
    text = context.renderer.render(event.type, model.reference(event.issue_id), event.payload)
    for recipient in told:
        if recipient.channel not in context.channels:
            continue  # e.g. a unit's webhook when no webhook secret is configured
        held = model.quiet_until(now, recipient, context.quiet_hours)
        body = (
            text
            if recipient.channel != "webhook"
            else json.dumps(  # a unit's system gets the event itself
                {"event": json.loads(event.to_json()), "text": text},
                ensure_ascii=False,
                default=str,
            )
        )
        planned = plan(
            uow,
            context,
            event.id,
            event.type,
            event.issue_id,
            recipient.key,
            recipient.unit_id,
            recipient.channel,
            recipient.address,
            body,
            held or now,
            recipient.fallback,
            event_at=event.occurred_at,
        )
        if planned and held:
            uow.on_commit(
                lambda channel=recipient.channel: metrics.HELD.labels(channel, "quiet_hours").inc()
            )
    uow.on_commit(context.deliveries_planned.set)


def undeliverable(uow: UnitOfWork, event: Envelope, unit_id: str, now: datetime) -> None:
    """The event's unit is not in notify's directory (the files are out of step): nobody can be
    told, so the notice fails at once, final, as one that reached nobody. Escalation, if it knows
    the unit, tells its supervisor; the event is not retried, since waiting will not add the unit."""
    delivery_id = model.delivery_id(
        event.id, f"unit:{unit_id}", "sms"
    )  # no row: there is no address
    uow.emit(
        NotificationFailed(
            issue_id=event.issue_id,
            delivery_id=delivery_id,
            channel="sms",
            recipient_unit_id=unit_id,
            cause_type=event.type,
            reason=f"unknown_unit: {unit_id} is not in notify's directory",
            attempts=0,
            final=True,
            failed_at=now,
        )
    )
    uow.on_commit(
        lambda: (
            metrics.FAILED.labels("sms", "directory", "unknown_unit").inc(),
            log.warning(
                "%s %s: unit %s is not in notify's directory; nobody was told",
                event.type,
                event.id,
                unit_id,
            ),
        )
    )


def plan(
    uow: UnitOfWork,
    context,
    event_id: str,
    cause_type: str,
    issue_id: str,
    key: str,
    unit_id: str,
    channel: str,
    address: str,
    text: str,
    when: datetime,
    fallback: str | None = None,
    event_at: datetime | None = None,
) -> bool:
    """A pending delivery, unless this (event, recipient, channel) already has one."""
    delivery_id = model.delivery_id(event_id, key, channel)
    if store.exists(uow.conn, delivery_id):
        return False
    if channel == "sms":
        text = templates.fit(text, context.max_parts)
    # Residents are not flooded; units have a far higher limit (bundling keeps their bursts short).
    limit, window = context.recipient_limit if unit_id == model.RESIDENT else context.unit_limit
    recent = store.recent_to(uow.conn, address, context.clock() - window, limit)
    if len(recent) >= limit:  # this address had its share: the message waits, it is not dropped
        when = max(when, recent[-1] + window)
        uow.on_commit(lambda: metrics.HELD.labels(channel, "rate_limit").inc())
    store.add(
        uow.conn,
        id=delivery_id,
        event_id=event_id,
        cause_type=cause_type,
        issue_id=issue_id,
        recipient_key=key,
        recipient_unit_id=unit_id,
        channel=channel,
        address=address,
        text=text,
        status="pending",
        attempts=0,
        next_attempt_at=when,
        created_at=context.clock(),
        fallback_address=fallback if "email" in context.channels else None,
        event_at=event_at,
    )
    return True


def record_sent(
    uow: UnitOfWork, delivery: dict, provider: str, message_id: str, now: datetime
) -> None:
    current = store.get_pending(uow.conn, delivery["id"])
    if current is None:
        return  # another sender finished it after our lease ran out
    attempts = current["attempts"] + 1
    store.change(
        uow.conn,
        delivery["id"],
        status="sent",
        attempts=attempts,
        provider=provider,
        provider_message_id=message_id,
        finished_at=now,
        last_error=None,
    )
    uow.emit(
        NotificationSent(
            issue_id=delivery["issue_id"],
            delivery_id=delivery["id"],
            channel=delivery["channel"],
            recipient_unit_id=delivery["recipient_unit_id"],
            cause_type=delivery["cause_type"],
            provider_message_id=message_id,
            attempts=attempts,
            sent_at=now,
        )
    )
    latency = (now - (delivery["event_at"] or delivery["created_at"])).total_seconds()
    uow.on_commit(
        lambda: (
            metrics.SENT.labels(delivery["channel"], provider).inc(),
            metrics.DELIVERY_SECONDS.labels(delivery["channel"]).observe(latency),
        )
    )


def record_failure(
    uow: UnitOfWork,
    delivery: dict,
    provider: str,
    reason: str,
    permanent: bool,
    retry_after: float | None,
    context,
    now: datetime,
) -> None:
    current = store.get_pending(uow.conn, delivery["id"])
    if current is None:
        return
    attempts, channel = current["attempts"] + 1, delivery["channel"]
    uow.on_commit(
        lambda: metrics.PROVIDER_ERRORS.labels(channel, provider, reason.split(":")[0][:40]).inc()
    )
    if not permanent and attempts < context.max_attempts:
        store.change(
            uow.conn,
            delivery["id"],
            attempts=attempts,
            last_error=reason[:200],
            next_attempt_at=model.retry_at(now, attempts, context.retry_base, retry_after),
        )
        uow.on_commit(lambda: metrics.RETRIED.labels(channel, provider).inc())
        return
    store.change(
        uow.conn,
        delivery["id"],
        status="failed",
        attempts=attempts,
        last_error=reason[:200],
        provider=provider,
        finished_at=now,
    )
    fallback = current["fallback_address"]
    if fallback:  # the same notice by email, as its own delivery
        plan(
            uow,
            context,
            delivery["event_id"],
            delivery["cause_type"],
            delivery["issue_id"],
            delivery["recipient_key"],
            delivery["recipient_unit_id"],
            "email",
            fallback,
            delivery["text"],
            now,
        )
        uow.on_commit(context.deliveries_planned.set)
    uow.emit(
        NotificationFailed(
            issue_id=delivery["issue_id"],
            delivery_id=delivery["id"],
            channel=channel,
            recipient_unit_id=delivery["recipient_unit_id"],
            cause_type=delivery["cause_type"],
            reason=reason,
            attempts=attempts,
            final=not fallback,
            failed_at=now,
        )
    )
    uow.on_commit(lambda: metrics.FAILED.labels(channel, provider, reason.split(":")[0][:40]).inc())


EVENT_HANDLERS = dict.fromkeys(model.ROUTES, on_event)


def resend(uow: UnitOfWork, context, delivery_id: str) -> str | None:
    """An administrator's resend: a new delivery of the same text to the same address."""
    original = store.get(uow.conn, delivery_id)
    if original is None:
        return None
    n = store.resends_of(uow.conn, original["recipient_key"], original["event_id"]) + 1
    key = f"{original['recipient_key']}#resend{n}"
    plan(
        uow,
        context,
        original["event_id"],
        original["cause_type"],
        original["issue_id"],
        key,
        original["recipient_unit_id"],
        original["channel"],
        original["address"],
        original["text"],
        context.clock(),
    )
    uow.on_commit(context.deliveries_planned.set)
    return model.delivery_id(original["event_id"], key, original["channel"])
