"""What events cause: clocks armed, stopped, paused and resumed from dispatch's events; other
reasons to escalate (returned too often, reopened, undeliverable) taken as they come; units'
tokens as dispatch issues and revokes them."""

from __future__ import annotations

from services.escalation import ladder, store
from services.escalation.model import Clock, Lead, part_clock
from shared.envelope import Envelope
from shared.outbox import UnitOfWork
from shared.privacy import mask_phones

NOTIFIED_ABOUT_UNIT_WORK = ("issue.dispatched", "issue.escalated", "issue.warned")
SUMMARY_LENGTH = 140  # characters of the resident's words the leader's board keeps


def on_issue_dispatched(uow: UnitOfWork, event: Envelope, context) -> None:
    """The lead unit must claim by the deadline its dispatch names (its tier's limit); so must
    each co-handling department its own part (聯辦), on a clock and a ladder of its own."""
    p = event.payload
    if p["role"] != "lead":
        _arm_part(uow, event, context, "claim", p.get("category"))
        return
    claim = store.get_clock(uow.conn, event.issue_id, "claim")
    if claim is None or claim.may_arm(p["assignment"]):
        _remember_summary(uow, event, context)
        lead = _lead(event, p["tier"], p["street"])
        # The unit was told the deadline its dispatch names: held to it, counted from the
        # dispatch, and not announced again. A dispatch from before dispatch named deadlines
        # names none: then the tier's limit from now, announced in issue.clock_armed.
        named = p["claim_due_at"]
        start = (p["dispatched_at"] if named else None) or context.clock()
        fresh = Clock.armed(lead, "claim", p["category"], context.policies, start, named)
        ladder.arm(uow, context, fresh, new=claim is None, announced=named is not None)


def on_issue_claimed(uow: UnitOfWork, event: Envelope, context) -> None:
    """Claimed: the claim clock stops and the resolve clock starts (at the work day's
    promise, if any)."""
    p = event.payload
    if p["role"] != "lead":
        part = _stop_part(uow, event, context, "claim")
        _arm_part(uow, event, context, "resolve", part.category if part else None)
        return
    lead = _lead(event, p["tier"], p["street"])
    claim = store.get_clock(uow.conn, event.issue_id, "claim")
    if claim is None or claim.may_stop(lead.assignment):
        _stop(uow, context, claim, "claim", lead)
    resolve = store.get_clock(uow.conn, event.issue_id, "resolve")
    if resolve is None or resolve.may_arm(lead.assignment):
        category = claim.category if claim else None
        now = context.clock()
        fresh = Clock.armed(lead, "resolve", category, context.policies, now, p["promised_by"])
        ladder.arm(uow, context, fresh, new=resolve is None)


def on_issue_resolved(uow: UnitOfWork, event: Envelope, context) -> None:
    """The lead's resolution resolves the issue: the parts still running stop with it, each
    recorded as it stood. A part's own resolution stops its clock only."""
    p = event.payload
    if p["role"] != "lead":
        _stop_part(uow, event, context, "resolve")
        return
    for part in store.parts_running(uow.conn, event.issue_id):
        _stop(uow, context, part, part.name, _part_lead(part))
    resolve = store.get_clock(uow.conn, event.issue_id, "resolve")
    if resolve is None:
        _stop(uow, context, None, "resolve", _lead(event, "small", ""))
    elif resolve.may_stop(p["assignment"]):
        _stop(uow, context, resolve, "resolve", _lead(event, resolve.tier, resolve.street))


def on_awaiting_resident(uow: UnitOfWork, event: Envelope, context) -> None:
    """While the unit waits for the resident the resolve clock stands still; what was left
    is kept, and its warnings not fired yet wait with it."""
    clock = store.get_clock(uow.conn, event.issue_id, "resolve")
    if clock is None or clock.state != "armed":
        return
    store.put_clock(uow.conn, clock.paused(context.policies, context.clock()))
    store.pause_warnings(uow.conn, event.issue_id, "resolve")


def on_resident_replied(uow: UnitOfWork, event: Envelope, context) -> None:
    """The resolve clock runs again for what was left, and the warnings that waited with it
    are armed again (see ladder.resume_warnings), in this one transaction."""
    clock = store.get_clock(uow.conn, event.issue_id, "resolve")
    if clock is None or clock.state != "paused":
        return
    resumed = clock.resumed(context.policies, context.clock())
    store.put_clock(uow.conn, resumed)
    ladder.resume_warnings(uow, context, clock, resumed)
    uow.emit(resumed.armed_event())


def on_issue_returned(uow: UnitOfWork, event: Envelope, context) -> None:
    """A co-handling department declining its part: its claim clock stops (the lead's own
    return is dispatch's to route, and its clock moves with the next dispatch)."""
    _stop_part(uow, event, context, "claim")


def _arm_part(uow: UnitOfWork, event: Envelope, context, kind: str, category) -> None:
    p = event.payload
    name = part_clock(kind, p["assignment"])
    if store.get_clock(uow.conn, event.issue_id, name) is not None:
        return  # armed already (a replay, or the part claimed before)
    lead = store.get_clock(uow.conn, event.issue_id, "claim")
    tier = p.get("tier") or (lead.tier if lead else "big")
    street = p.get("street") or (lead.street if lead else "")
    part = Lead(event.issue_id, p["assignment"], p["unit_id"], tier, street)
    fresh = Clock.armed(part, name, category, context.policies, context.clock())
    ladder.arm(uow, context, fresh, new=True)


def _stop_part(uow: UnitOfWork, event: Envelope, context, kind: str) -> Clock | None:
    """The part's `kind` clock stopped, if it has one running; the clock as it was."""
    name = part_clock(kind, event.payload["assignment"])
    clock = store.get_clock(uow.conn, event.issue_id, name)
    if clock is not None and clock.running:
        _stop(uow, context, clock, name, _part_lead(clock))
    return clock


def _part_lead(clock: Clock) -> Lead:
    return Lead(clock.issue_id, clock.assignment, clock.unit_id, clock.tier, clock.street)


def on_arbitration_needed(uow: UnitOfWork, event: Envelope, context) -> None:
    """Returned too often: the street office must arbitrate, and is told why."""
    office = context.directory.units.get(event.payload["street_office_id"])
    claim = store.get_clock(uow.conn, event.issue_id, "claim")
    if office is not None and claim is not None:
        ladder.escalate_once(uow, context, claim, "returns", office, "returned_too_often")


def on_reopened(uow: UnitOfWork, event: Envelope, context) -> None:
    """The resident was not satisfied: the lead unit's supervisor hears of it."""
    claim = store.get_clock(uow.conn, event.issue_id, "claim")
    supervisor = ladder.unit_above(context.directory, claim.unit_id) if claim else None
    if supervisor is not None:
        ladder.escalate_once(uow, context, claim, "reopen", supervisor, "reopened")


def on_notification_failed(uow: UnitOfWork, event: Envelope, context) -> None:
    """A unit could not be told of its work: its supervisor is, instead."""
    p = event.payload
    if (
        not p["final"]
        or p["cause_type"] not in NOTIFIED_ABOUT_UNIT_WORK
        or p["recipient_unit_id"] not in context.directory.units
    ):
        return  # a fallback channel is still trying, or it was not about a unit's work
    clock = store.get_clock(uow.conn, event.issue_id, "claim") or store.get_clock(
        uow.conn, event.issue_id, "resolve"
    )
    supervisor = ladder.unit_above(context.directory, p["recipient_unit_id"])
    if clock is not None and supervisor is not None:
        ladder.escalate_once(
            uow, context, clock, "notify", supervisor, "undeliverable", p["recipient_unit_id"]
        )


def on_token_issued(uow: UnitOfWork, event: Envelope, context) -> None:
    store.remember_token(uow.conn, event.payload["token_hash"], event.payload["unit_id"])


def on_token_revoked(uow: UnitOfWork, event: Envelope, context) -> None:
    p = event.payload
    store.revoke_token(uow.conn, p["token_hash"], p["unit_id"], p["revoked_at"])


def _remember_summary(uow: UnitOfWork, event: Envelope, context) -> None:
    """What the leader's board says the issue is about: never a name or a phone number, and
    the resident's words only as a short masked excerpt."""
    p = event.payload
    store.put_summary(
        uow.conn,
        event.issue_id,
        category=p["category"],
        category_name=(p["category_name"] or "")[:64] or None,
        place_id=p["place_id"],
        place_name=(p["place_name"] or "")[:128] or None,
        building=(p["building"] or "")[:100] or None,
        description=short_description(p["description"] or ""),
        tier=p["tier"],
        updated_at=context.clock(),
    )


def short_description(words: str, limit: int = SUMMARY_LENGTH) -> str:
    """Phone numbers masked first (so none is cut into an unmasked piece), then at most
    `limit` characters, with an ellipsis when shortened."""
    masked = " ".join(mask_phones(words).split())
    return masked if len(masked) <= limit else masked[: limit - 1] + "…"


def _lead(event: Envelope, tier: str, street: str) -> Lead:
    p = event.payload
    return Lead(event.issue_id, p["assignment"], p["unit_id"], tier, street)


def _stop(uow: UnitOfWork, context, clock: Clock | None, name: str, lead: Lead) -> None:
    now = context.clock()
    if clock is None:
        stopped = Clock.stopped_unarmed(lead, name, context.policies.version, now)
    else:
        stopped = clock.stopped(lead, now)
    store.put_clock(uow.conn, stopped, new=clock is None)
    store.cancel_warnings(uow.conn, lead.issue_id, name)


EVENT_HANDLERS = {
    "issue.dispatched": on_issue_dispatched,
    "issue.claimed": on_issue_claimed,
    "issue.resolved": on_issue_resolved,
    "issue.returned": on_issue_returned,
    "issue.awaiting_resident": on_awaiting_resident,
    "issue.resident_replied": on_resident_replied,
    "issue.arbitration_needed": on_arbitration_needed,
    "issue.reopened": on_reopened,
    "notification.failed": on_notification_failed,
    "unit.token_issued": on_token_issued,
    "unit.token_revoked": on_token_revoked,
}
