"""What events cause in notify: a delivery planned for each recipient the event's route names,
committed with the inbox record; the sender (loops.py) does the rest. A unit's notice carries
its link and reply code, and a lead's dispatch notice its claim deadline: as the dispatch names
it, or, for a dispatch from before dispatch named it, as escalation arms it (the notice waits
for it at most LOUDONG_DEADLINE_WAIT). The end of an assignment closes its reply code."""

from __future__ import annotations

import json
import logging
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from services.notify import delivery, metrics, model, replies, store, templates
from services.notify.events import NotificationFailed
from services.notify.model import Notice, Recipient
from shared.envelope import Envelope, parse
from shared.outbox import UnitOfWork

if TYPE_CHECKING:
    from services.notify.main import Context

log = logging.getLogger(__name__)


def on_event(uow: UnitOfWork, event: Envelope, context: Context) -> None:
    """A resident's notice."""
    told = _recipients(uow, event, context)
    if told is not None:
        text = context.renderer.render(event.type, model.reference(event.issue_id), event.payload)
        _plan(uow, event, context, told, text, context.clock())


def on_unit_notice(uow: UnitOfWork, event: Envelope, context: Context) -> None:
    """A unit's notice (dispatched, warned, escalated, urged), with its link and reply code. A lead
    unit's dispatch notice that does not name its claim deadline is held for escalation's."""
    told = _recipients(uow, event, context)
    if told is None:
        return
    now, wait = context.clock(), context.settings.deadline_wait
    named = event.payload.get("claim_due_at") if event.type == "issue.dispatched" else None
    if event.type == "issue.dispatched" and named is None:  # escalation's clock_armed may race
        store.lock_claim_deadline(uow.conn, event.issue_id, event.payload["assignment"])
    facts = replies.notice_facts(uow.conn, context, event, deadline=named)
    when = now
    waits = event.type == "issue.dispatched" and facts["role"] == "lead" and wait > 0
    if waits and not facts["deadline"]:
        when = now + timedelta(seconds=wait)
        assignment = facts["assignment"]
        store.hold(uow.conn, event.id, event.issue_id, assignment, event.to_json(), when)
    _plan(uow, event, context, told, _text(context, event, facts), when)


def on_clock_armed(uow: UnitOfWork, event: Envelope, context: Context) -> None:
    """A claim deadline: the dispatch notices held for it go now, naming it."""
    p, now = event.payload, context.clock()
    if p["clock"] != "claim":
        return
    store.lock_claim_deadline(uow.conn, event.issue_id, p["assignment"])
    if not store.add_claim_deadline(uow.conn, event.issue_id, p["assignment"], p["due_at"]):
        return
    for held in store.take_held(uow.conn, event.issue_id, p["assignment"]):
        dispatched = parse(held["event"])
        facts = replies.notice_facts(uow.conn, context, dispatched, deadline=p["due_at"])
        text = _text(context, dispatched, facts)
        for waiting in store.held_since_planned(uow.conn, dispatched.id):
            body = _body(dispatched, waiting.channel, text)
            if waiting.channel == "sms":
                body = templates.fit(body, context.settings.max_parts)
            store.release(uow.conn, waiting.id, body, now, held["held_until"])
    uow.on_commit(context.deliveries_planned.set)


def on_assignment_ended(uow: UnitOfWork, event: Envelope, context: Context) -> None:
    """Returned or resolved: the unit's reply code for it is spent, its held notice forgotten."""
    p = event.payload
    store.close_codes(
        uow.conn, event.issue_id, context.clock(), unit_id=p["unit_id"], below=p["assignment"] + 1
    )
    store.drop_held(uow.conn, event.issue_id, below=p["assignment"] + 1)


def on_closed(uow: UnitOfWork, event: Envelope, context: Context) -> None:
    store.close_codes(uow.conn, event.issue_id, context.clock())
    store.drop_held(uow.conn, event.issue_id)


def _text(context: Context, event: Envelope, facts: dict) -> str:
    ref, max_parts = model.reference(event.issue_id), context.settings.max_parts
    return context.renderer.render_within(event.type, ref, facts, max_parts)


def _recipients(uow: UnitOfWork, event: Envelope, context: Context) -> list[Recipient] | None:
    """Who the event's route names; None (and the notice failed) for a unit notify lacks."""
    try:
        return model.recipients(event.type, event.issue_id, event.payload, context.directory.units)
    except model.UnknownUnit as unknown:
        undeliverable(uow, event, unknown.unit_id, context.clock())
        return None


def _plan(uow, event: Envelope, context: Context, told: list[Recipient], text: str, when) -> None:
    for recipient in told:
        if recipient.channel not in context.channels:
            continue  # e.g. a unit's webhook when no webhook secret is configured
        held = model.quiet_until(when, recipient, context.settings.quiet_hours)
        body = _body(event, recipient.channel, text)
        notice = Notice(event.id, event.type, event.issue_id, recipient, body, event.occurred_at)
        if delivery.plan(uow, context, notice, held or when) and held:
            uow.on_commit(
                lambda channel=recipient.channel: metrics.HELD.labels(channel, "quiet_hours").inc()
            )
    uow.on_commit(context.deliveries_planned.set)


def _body(event: Envelope, channel: str, text: str) -> str:
    """The rendered text; a unit's own system gets the event itself with it."""
    if channel != "webhook":
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


EVENT_HANDLERS = {
    **dict.fromkeys(model.ROUTES, on_event),
    **dict.fromkeys(
        ("issue.dispatched", "issue.escalated", "issue.warned", "issue.urged"), on_unit_notice
    ),
    "issue.clock_armed": on_clock_armed,
    "issue.returned": on_assignment_ended,
    "issue.resolved": on_assignment_ended,
    "issue.closed": on_closed,
    "unit.reply_applied": replies.on_reply_applied,
}
