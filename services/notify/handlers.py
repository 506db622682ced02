"""Notify's handlers: plan deliveries from events, then record what the provider said."""
from __future__ import annotations

from datetime import datetime

from services.notify import metrics, model, store, templates
from services.notify.events import NotificationFailed, NotificationSent
from shared.envelope import Envelope
from shared.outbox import UnitOfWork

CHANNEL = "sms"


def on_event(uow: UnitOfWork, event: Envelope, context) -> None:
    """One delivery row per recipient, committed with the inbox record; the sender does the rest."""
    now = context.clock()
    text = templates.fit(context.renderer.render(event.type, model.reference(event.issue_id), event.payload),
                         context.max_parts)
    for recipient in model.recipients(event.type, event.issue_id, event.payload):
        delivery_id = model.delivery_id(event.id, recipient.key, CHANNEL)
        if store.exists(uow.conn, delivery_id):
            continue
        held = model.quiet_until(now, recipient, context.quiet_hours)
        store.add(uow.conn, id=delivery_id, event_id=event.id, cause_type=event.type, issue_id=event.issue_id,
                  recipient_key=recipient.key, recipient_unit_id=recipient.unit_id, channel=CHANNEL,
                  address=recipient.address, text=text, status="pending", attempts=0, next_attempt_at=held or now,
                  created_at=now)
        if held:
            uow.on_commit(lambda: metrics.HELD.labels(CHANNEL).inc())
    uow.on_commit(context.deliveries_planned.set)


def record_sent(uow: UnitOfWork, delivery: dict, provider: str, message_id: str, now: datetime) -> None:
    current = store.get_pending(uow.conn, delivery["id"])
    if current is None:
        return  # another sender finished it after our lease ran out
    attempts = current["attempts"] + 1
    store.change(uow.conn, delivery["id"], status="sent", attempts=attempts, provider=provider,
                 provider_message_id=message_id, finished_at=now, last_error=None)
    uow.emit(NotificationSent(issue_id=delivery["issue_id"], delivery_id=delivery["id"], channel=CHANNEL,
                              recipient_unit_id=delivery["recipient_unit_id"], cause_type=delivery["cause_type"],
                              provider_message_id=message_id, attempts=attempts, sent_at=now))
    latency = (now - delivery["created_at"]).total_seconds()
    uow.on_commit(lambda: (metrics.SENT.labels(CHANNEL, provider).inc(),
                           metrics.DELIVERY_SECONDS.labels(CHANNEL).observe(latency)))


def record_failure(uow: UnitOfWork, delivery: dict, provider: str, reason: str, permanent: bool,
                   retry_after: float | None, context, now: datetime) -> None:
    current = store.get_pending(uow.conn, delivery["id"])
    if current is None:
        return
    attempts = current["attempts"] + 1
    if not permanent and attempts < context.max_attempts:
        store.change(uow.conn, delivery["id"], attempts=attempts, last_error=reason[:200],
                     next_attempt_at=model.retry_at(now, attempts, context.retry_base, retry_after))
        uow.on_commit(lambda: metrics.RETRIED.labels(CHANNEL, provider).inc())
        return
    store.change(uow.conn, delivery["id"], status="failed", attempts=attempts, last_error=reason[:200],
                 provider=provider, finished_at=now)
    uow.emit(NotificationFailed(issue_id=delivery["issue_id"], delivery_id=delivery["id"], channel=CHANNEL,
                                recipient_unit_id=delivery["recipient_unit_id"],
                                cause_type=delivery["cause_type"], reason=reason, attempts=attempts,
                                failed_at=now))
    uow.on_commit(lambda: metrics.FAILED.labels(CHANNEL, provider, reason).inc())


EVENT_HANDLERS = {event_type: on_event for event_type in model.ROUTES}
