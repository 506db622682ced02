"""Escalation's handlers: arm and stop clocks from dispatch's events; fire what is due."""
from __future__ import annotations

from datetime import datetime

from services.escalation import metrics, model, store
from services.escalation.events import IssueClockArmed, IssueEscalated
from shared.envelope import Envelope
from shared.outbox import UnitOfWork


def on_issue_dispatched(uow: UnitOfWork, event: Envelope, context) -> None:
    """The assigned unit must claim within its tier's limit. Co-units' parts carry no clock."""
    p = event.payload
    if p["role"] != "lead":
        return
    existing = store.get_clock(uow.conn, event.issue_id, "claim")
    if model.may_arm(p["assignment"], existing):
        _arm(uow, context, existing, event.issue_id, "claim", p["assignment"], p["unit_id"], p["tier"], p["street"])


def on_issue_claimed(uow: UnitOfWork, event: Envelope, context) -> None:
    """Claimed: the claim clock stops and the resolve clock starts (at the work day's promise, if any)."""
    p = event.payload
    if p["role"] != "lead":
        return
    claim = store.get_clock(uow.conn, event.issue_id, "claim")
    if model.may_stop(p["assignment"], claim):
        _stop(uow, context, claim, event.issue_id, "claim", p["assignment"], p["unit_id"], p["tier"], p["street"])
    resolve = store.get_clock(uow.conn, event.issue_id, "resolve")
    if model.may_arm(p["assignment"], resolve):
        _arm(uow, context, resolve, event.issue_id, "resolve", p["assignment"], p["unit_id"], p["tier"],
             p["street"], due_at=p["promised_by"])


def on_issue_resolved(uow: UnitOfWork, event: Envelope, context) -> None:
    p = event.payload
    if p["role"] != "lead":
        return
    resolve = store.get_clock(uow.conn, event.issue_id, "resolve")
    if model.may_stop(p["assignment"], resolve):
        tier = resolve["tier"] if resolve else "small"
        street = resolve["street"] if resolve else ""
        _stop(uow, context, resolve, event.issue_id, "resolve", p["assignment"], p["unit_id"], tier, street)


def fire_due(uow: UnitOfWork, context, now: datetime, limit: int = 100) -> int:
    """Escalate every clock past due, one level each, in this one transaction with its events."""
    due = store.due_clocks(uow.conn, now, limit)
    for clock in due:
        _escalate(uow, context, clock, now)
    return len(due)


def _escalate(uow: UnitOfWork, context, clock: dict, now: datetime) -> None:
    level = clock["level"] + 1
    supervisor = model.next_rung(context.directory, clock["unit_id"])
    key = (clock["issue_id"], clock["clock"], clock["assignment"], level)
    if supervisor is None or store.escalation_fired(uow.conn, *key):
        store.put_clock(uow.conn, clock, **{**clock, "state": "exhausted", "updated_at": now})
        return
    reason = model.REASON_BY_CLOCK[clock["clock"]]
    limit = context.policies.tiers[clock["tier"]].limit(clock["clock"])
    next_deadline = model.deadline(now, limit)
    store.add_escalation(uow.conn, issue_id=clock["issue_id"], clock=clock["clock"],
                         assignment=clock["assignment"], level=level, reason=reason,
                         from_unit_id=clock["unit_id"], to_unit_id=supervisor.id,
                         missed_deadline=clock["due_at"], fired_at=now)
    store.put_clock(uow.conn, clock, **{**clock, "level": level, "unit_id": supervisor.id,
                                        "due_at": next_deadline, "updated_at": now})
    uow.emit(IssueClockArmed(issue_id=clock["issue_id"], clock=clock["clock"], assignment=clock["assignment"],
                             level=level, unit_id=supervisor.id, due_at=next_deadline))
    uow.emit(IssueEscalated(
        issue_id=clock["issue_id"], clock=clock["clock"], assignment=clock["assignment"], level=level,
        reason=reason, from_unit_id=clock["unit_id"], to_unit_id=supervisor.id, to_unit_name=supervisor.name,
        to_unit_contacts=[{"name": c.name, "phone": c.phone} for c in supervisor.contacts],
        missed_deadline=clock["due_at"], next_deadline=next_deadline, escalated_at=now))
    lag = (now - clock["due_at"]).total_seconds()
    uow.on_commit(lambda: (metrics.ESCALATIONS.labels(str(level), reason).inc(),
                           metrics.FIRING_LAG.observe(lag)))


def _arm(uow, context, existing, issue_id, clock_name, assignment, unit_id, tier, street, due_at=None) -> None:
    now = context.clock()
    due_at = due_at or model.deadline(now, context.policies.tiers[tier].limit(clock_name))
    store.put_clock(uow.conn, existing, issue_id=issue_id, clock=clock_name, assignment=assignment, level=0,
                    unit_id=unit_id, tier=tier, street=street, state="armed",
                    due_at=due_at, policy_version=context.policies.version, updated_at=now)
    uow.emit(IssueClockArmed(issue_id=issue_id, clock=clock_name, assignment=assignment, level=0,
                             unit_id=unit_id, due_at=due_at))


def _stop(uow, context, existing, issue_id, clock_name, assignment, unit_id, tier, street) -> None:
    now = context.clock()
    level = existing["level"] if existing else 0
    due_at = existing["due_at"] if existing else now
    version = existing["policy_version"] if existing else context.policies.version
    store.put_clock(uow.conn, existing, issue_id=issue_id, clock=clock_name, assignment=assignment,
                    level=level, unit_id=unit_id, tier=tier, street=street, state="stopped", due_at=due_at,
                    policy_version=version, updated_at=now)


EVENT_HANDLERS = {
    "issue.dispatched": on_issue_dispatched,
    "issue.claimed": on_issue_claimed,
    "issue.resolved": on_issue_resolved,
}
