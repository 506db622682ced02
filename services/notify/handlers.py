"""What events cause in notify: a delivery planned for each recipient the event's route names,
committed with the inbox record; the sender (loops.py) does the rest."""

from __future__ import annotations

import json
import logging
from datetime import datetime
from typing import TYPE_CHECKING

from services.notify import delivery, metrics, model
from services.notify.events import NotificationFailed
from services.notify.model import Notice, Recipient
from shared.envelope import Envelope
from shared.outbox import UnitOfWork

if TYPE_CHECKING:
    from services.notify.main import Context

log = logging.getLogger(__name__)


def on_event(uow: UnitOfWork, event: Envelope, context: Context) -> None:
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
        held = model.quiet_until(now, recipient, context.settings.quiet_hours)
        body = _body(event, recipient, text)
        notice = Notice(event.id, event.type, event.issue_id, recipient, body, event.occurred_at)
        if delivery.plan(uow, context, notice, held or now) and held:
            uow.on_commit(
                lambda channel=recipient.channel: metrics.HELD.labels(channel, "quiet_hours").inc()
            )
    uow.on_commit(context.deliveries_planned.set)


def _body(event: Envelope, recipient: Recipient, text: str) -> str:
    """The rendered text; a unit's own system gets the event itself with it."""
    if recipient.channel != "webhook":
        return text
    notice = {"event": json.loads(event.to_json()), "text": text}
    return json.dumps(notice, ensure_ascii=False, default=str)


def undeliverable(uow: UnitOfWork, event: Envelope, unit_id: str, now: datetime) -> None:
    """The event's unit is not in notify's directory (the files are out of step): nobody can be
    told, so the notice fails at once, final, as one that reached nobody. Escalation, if it knows
    the unit, tells its supervisor; the event is not retried: waiting will not add the unit."""
    uow.emit(
        NotificationFailed(
            issue_id=event.issue_id,
            # no row, since there is no address; the id is the one a delivery would have had
            delivery_id=model.delivery_id(event.id, f"unit:{unit_id}", "sms"),
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


EVENT_HANDLERS = dict.fromkeys(model.ROUTES, on_event)
