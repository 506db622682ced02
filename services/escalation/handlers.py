"""Escalation's handlers: clocks armed, stopped, paused and resumed from dispatch's events;
due clocks and warnings fired by the sweeper; other reasons to escalate (returned too often,
reopened, undeliverable) taken as they come."""

from __future__ import annotations

from datetime import datetime, timedelta

from district.directory import Unit
from services.escalation import metrics, model, store
from services.escalation.events import (
    IssueClockArmed,
    IssueEscalated,
    IssueWarned,
    SupervisionOpened,
)
from services.escalation.policies import ClockPolicy
from shared.envelope import Envelope
from shared.outbox import UnitOfWork

NOTIFIED_ABOUT_UNIT_WORK = ("issue.dispatched", "issue.escalated", "issue.warned")


def on_issue_dispatched(uow: UnitOfWork, event: Envelope, context) -> None:
    """The lead unit must claim within its tier's limit. Co-units' parts carry no clock."""
    p = event.payload
    if p["role"] != "lead":
        return
    existing = store.get_clock(uow.conn, event.issue_id, "claim")
    if model.may_arm(p["assignment"], existing):
        _arm(
            uow,
            context,
            existing,
            event.issue_id,
            "claim",
            p["assignment"],
            p["unit_id"],
            p["tier"],
            p["street"],
            p["category"],
        )


def on_issue_claimed(uow: UnitOfWork, event: Envelope, context) -> None:
    """Claimed: the claim clock stops and the resolve clock starts (at the work day's promise, if any)."""
    p = event.payload
    if p["role"] != "lead":
        return
    claim = store.get_clock(uow.conn, event.issue_id, "claim")
    category = claim["category"] if claim else None
    if model.may_stop(p["assignment"], claim):
        _stop(
            uow,
            context,
            claim,
            event.issue_id,
            "claim",
            p["assignment"],
            p["unit_id"],
            p["tier"],
            p["street"],
        )
    resolve = store.get_clock(uow.conn, event.issue_id, "resolve")
    if model.may_arm(p["assignment"], resolve):
        _arm(
            uow,
            context,
            resolve,
            event.issue_id,
            "resolve",
            p["assignment"],
            p["unit_id"],
            p["tier"],
            p["street"],
            category,
            due_at=p["promised_by"],
        )


def on_issue_resolved(uow: UnitOfWork, event: Envelope, context) -> None:
    p = event.payload
    if p["role"] != "lead":
        return
    resolve = store.get_clock(uow.conn, event.issue_id, "resolve")
    if model.may_stop(p["assignment"], resolve):
        tier = resolve["tier"] if resolve else "small"
        street = resolve["street"] if resolve else ""
        _stop(
            uow,
            context,
            resolve,
            event.issue_id,
            "resolve",
            p["assignment"],
            p["unit_id"],
            tier,
            street,
        )


def on_awaiting_resident(uow: UnitOfWork, event: Envelope, context) -> None:
    """While the unit waits for the resident the resolve clock stands still; what was left is kept."""
    clock = store.get_clock(uow.conn, event.issue_id, "resolve")
    if clock is None or clock["state"] != "armed":
        return
    now = context.clock()
    left = context.policies.remaining(now, clock["due_at"], _policy(context, clock))
    store.put_clock(
        uow.conn,
        clock,
        **{**clock, "state": "paused", "paused_seconds": left.total_seconds(), "updated_at": now},
    )
    store.cancel_warnings(uow.conn, event.issue_id, "resolve")


def on_resident_replied(uow: UnitOfWork, event: Envelope, context) -> None:
    clock = store.get_clock(uow.conn, event.issue_id, "resolve")
    if clock is None or clock["state"] != "paused":
        return
    now = context.clock()
    policy = _policy(context, clock)
    due_at = context.policies.deadline(
        now, ClockPolicy(timedelta(seconds=clock["paused_seconds"]), policy.working)
    )
    resumed = {
        **clock,
        "state": "armed",
        "due_at": due_at,
        "paused_seconds": None,
        "updated_at": now,
    }
    store.put_clock(uow.conn, clock, **resumed)
    uow.emit(
        IssueClockArmed(
            issue_id=clock["issue_id"],
            clock="resolve",
            assignment=clock["assignment"],
            level=clock["level"],
            unit_id=clock["unit_id"],
            due_at=due_at,
        )
    )


def on_arbitration_needed(uow: UnitOfWork, event: Envelope, context) -> None:
    """Returned too often: the street office must arbitrate, and is told why."""
    office = context.directory.units.get(event.payload["street_office_id"])
    claim = store.get_clock(uow.conn, event.issue_id, "claim")
    if office is not None and claim is not None:
        escalate_once(uow, context, claim, "returns", office, "returned_too_often")


def on_reopened(uow: UnitOfWork, event: Envelope, context) -> None:
    """The resident was not satisfied: the lead unit's supervisor hears of it."""
    claim = store.get_clock(uow.conn, event.issue_id, "claim")
    supervisor = model.next_rung(context.directory, claim["unit_id"]) if claim else None
    if supervisor is not None:
        escalate_once(uow, context, claim, "reopen", supervisor, "reopened")


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
    supervisor = model.next_rung(context.directory, p["recipient_unit_id"])
    if clock is not None and supervisor is not None:
        escalate_once(
            uow,
            context,
            {**clock, "unit_id": p["recipient_unit_id"]},
            "notify",
            supervisor,
            "undeliverable",
        )


def on_token_issued(uow: UnitOfWork, event: Envelope, context) -> None:
    store.remember_token(uow.conn, event.payload["token_hash"], event.payload["unit_id"])


def fire_due(uow: UnitOfWork, context, now: datetime, limit: int = 100) -> int:
    """Escalate every clock past due one level, and send every warning due, in this one
    transaction with their events. Rows are claimed with SKIP LOCKED: replicas share the work."""
    due = store.due_clocks(uow.conn, now, limit)
    for clock in due:
        _breach(uow, context, clock, now)
    warnings = store.due_warnings(uow.conn, now, limit)
    for warning in warnings:
        _warn(uow, context, warning, now)
    return len(due) + len(warnings)


def _breach(uow: UnitOfWork, context, clock: dict, now: datetime) -> None:
    if clock["clock"] == "supervision":  # nobody above the leader: the leader is told it ran over
        store.put_clock(uow.conn, clock, **{**clock, "state": "overdue", "updated_at": now})
        _emit_warning(
            uow,
            context,
            clock["issue_id"],
            "supervision",
            clock["level"],
            1.0,
            clock["unit_id"],
            clock["due_at"],
            now,
        )
        return
    supervisor = model.next_rung(context.directory, clock["unit_id"])
    if supervisor is None:
        store.put_clock(uow.conn, clock, **{**clock, "state": "exhausted", "updated_at": now})
        return
    move_up(uow, context, clock, supervisor, model.REASON_BY_CLOCK[clock["clock"]], now)


def move_up(
    uow: UnitOfWork, context, clock: dict, to_unit: Unit, reason: str, now: datetime
) -> None:
    """One level up the ladder: a fresh deadline for the next unit, which is told."""
    level = clock["level"] + 1
    policy = _policy(context, clock)
    next_deadline = context.policies.deadline(now, policy)
    moved = {
        **clock,
        "level": level,
        "unit_id": to_unit.id,
        "due_at": next_deadline,
        "state": "armed",
        "updated_at": now,
    }
    store.put_clock(uow.conn, clock, **moved)
    if store.escalation_fired(
        uow.conn, clock["issue_id"], clock["clock"], clock["assignment"], level
    ):
        return  # this step already happened once: it is never told twice
    _record(
        uow, context, moved, clock["unit_id"], to_unit, reason, clock["due_at"], next_deadline, now
    )
    _arm_warnings(uow, context, moved, policy, now)
    uow.emit(
        IssueClockArmed(
            issue_id=clock["issue_id"],
            clock=clock["clock"],
            assignment=clock["assignment"],
            level=level,
            unit_id=to_unit.id,
            due_at=next_deadline,
        )
    )


def escalate_once(
    uow: UnitOfWork, context, clock: dict, kind: str, to_unit: Unit, reason: str
) -> None:
    """An escalation that moves no clock (reopened, undeliverable, returned too often): recorded and told."""
    now = context.clock()
    level = store.escalations_count(uow.conn, clock["issue_id"], kind) + 1
    _record(
        uow,
        context,
        {**clock, "clock": kind, "level": level},
        clock["unit_id"],
        to_unit,
        reason,
        now,
        clock["due_at"],
        now,
    )


def _record(
    uow,
    context,
    clock: dict,
    from_unit_id: str,
    to_unit: Unit,
    reason: str,
    missed: datetime,
    next_deadline: datetime,
    now: datetime,
) -> None:
    store.add_escalation(
        uow.conn,
        issue_id=clock["issue_id"],
        clock=clock["clock"],
        assignment=clock["assignment"],
        level=clock["level"],
        reason=reason,
        from_unit_id=from_unit_id,
        to_unit_id=to_unit.id,
        missed_deadline=missed,
        fired_at=now,
    )
    uow.emit(
        IssueEscalated(
            issue_id=clock["issue_id"],
            clock=clock["clock"],
            assignment=clock["assignment"],
            level=clock["level"],
            reason=reason,
            from_unit_id=from_unit_id,
            to_unit_id=to_unit.id,
            to_unit_name=to_unit.name,
            missed_deadline=missed,
            next_deadline=next_deadline,
            escalated_at=now,
        )
    )
    lag, level = (now - missed).total_seconds(), clock["level"]
    uow.on_commit(
        lambda: (
            metrics.ESCALATIONS.labels(str(min(level, 5)), reason).inc(),
            metrics.FIRING_LAG.observe(lag) if reason.endswith("_overdue") else None,
        )
    )
    if to_unit.type == "district_leader":
        _open_supervision(uow, context, clock, to_unit, now)


def _open_supervision(uow: UnitOfWork, context, clock: dict, leader: Unit, now: datetime) -> None:
    existing = store.get_clock(uow.conn, clock["issue_id"], "supervision")
    if existing is not None and existing["state"] in ("armed", "overdue"):
        return
    due_at = context.policies.deadline(now, context.policies.supervision)
    store.put_clock(
        uow.conn,
        existing,
        issue_id=clock["issue_id"],
        clock="supervision",
        assignment=clock["assignment"],
        level=0,
        unit_id=leader.id,
        tier=clock["tier"],
        street=clock["street"],
        state="armed",
        due_at=due_at,
        policy_version=context.policies.version,
        updated_at=now,
        category=clock.get("category"),
        paused_seconds=None,
    )
    uow.emit(
        SupervisionOpened(
            issue_id=clock["issue_id"], leader_id=leader.id, due_at=due_at, opened_at=now
        )
    )


def _warn(uow: UnitOfWork, context, warning: dict, now: datetime) -> None:
    store.mark_warning_fired(uow.conn, warning)
    _emit_warning(
        uow,
        context,
        warning["issue_id"],
        warning["clock"],
        warning["level"],
        warning["fraction"],
        warning["to_unit_id"],
        warning["deadline"],
        now,
    )


def _emit_warning(
    uow, context, issue_id, clock_name, level, fraction, unit_id, deadline, now
) -> None:
    unit = context.directory.units.get(unit_id)
    if unit is None:
        return
    uow.emit(
        IssueWarned(
            issue_id=issue_id,
            clock=clock_name,
            level=level,
            fraction=fraction,
            to_unit_id=unit.id,
            to_unit_name=unit.name,
            deadline=deadline,
            warned_at=now,
        )
    )
    uow.on_commit(lambda: metrics.WARNINGS.labels(clock_name).inc())


def _arm(
    uow,
    context,
    existing,
    issue_id,
    clock_name,
    assignment,
    unit_id,
    tier,
    street,
    category,
    due_at=None,
) -> None:
    now = context.clock()
    policy = context.policies.policy_for(tier, category).limit(clock_name)
    due_at = due_at or context.policies.deadline(now, policy)
    clock = {
        "issue_id": issue_id,
        "clock": clock_name,
        "assignment": assignment,
        "level": 0,
        "unit_id": unit_id,
        "tier": tier,
        "street": street,
        "state": "armed",
        "due_at": due_at,
        "policy_version": context.policies.version,
        "updated_at": now,
        "category": category,
        "paused_seconds": None,
    }
    store.put_clock(uow.conn, existing, **clock)
    _arm_warnings(uow, context, clock, policy, now)
    uow.emit(
        IssueClockArmed(
            issue_id=issue_id,
            clock=clock_name,
            assignment=assignment,
            level=0,
            unit_id=unit_id,
            due_at=due_at,
        )
    )


def _arm_warnings(uow, context, clock: dict, policy: ClockPolicy, start: datetime) -> None:
    points = []
    for w in policy.warnings:
        unit_id = (
            clock["unit_id"]
            if w.to == "unit"
            else context.directory.units[clock["unit_id"]].supervisor
        )
        due_at = context.policies.deadline(start, policy, w.at)
        if unit_id and due_at < clock["due_at"]:
            points.append((w.at, unit_id, due_at))
    store.arm_warnings(uow.conn, clock, points)


def _stop(uow, context, existing, issue_id, clock_name, assignment, unit_id, tier, street) -> None:
    now = context.clock()
    level = existing["level"] if existing else 0
    due_at = existing["due_at"] if existing else now
    version = existing["policy_version"] if existing else context.policies.version
    category = existing["category"] if existing else None
    store.put_clock(
        uow.conn,
        existing,
        issue_id=issue_id,
        clock=clock_name,
        assignment=assignment,
        level=level,
        unit_id=unit_id,
        tier=tier,
        street=street,
        state="stopped",
        due_at=due_at,
        policy_version=version,
        updated_at=now,
        category=category,
        paused_seconds=None,
    )
    store.cancel_warnings(uow.conn, issue_id, clock_name)


def _policy(context, clock: dict) -> ClockPolicy:
    if clock["clock"] == "supervision":
        return context.policies.supervision
    return context.policies.policy_for(clock["tier"], clock["category"]).limit(clock["clock"])


EVENT_HANDLERS = {
    "issue.dispatched": on_issue_dispatched,
    "issue.claimed": on_issue_claimed,
    "issue.resolved": on_issue_resolved,
    "issue.awaiting_resident": on_awaiting_resident,
    "issue.resident_replied": on_resident_replied,
    "issue.arbitration_needed": on_arbitration_needed,
    "issue.reopened": on_reopened,
    "notification.failed": on_notification_failed,
    "unit.token_issued": on_token_issued,
}
