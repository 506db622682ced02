"""The ladder: moving a clock one level up, escalating once without moving a clock, opening
supervision at the district leader. Events, the sweeper and supervisors' commands all climb
it through here, each step recorded with its event in the caller's transaction."""

from __future__ import annotations

from datetime import datetime

from district.directory import Directory, Unit
from services.escalation import metrics, store
from services.escalation.events import IssueEscalated, SupervisionOpened
from services.escalation.model import Clock, Escalation
from shared.outbox import UnitOfWork


def unit_above(directory: Directory, unit_id: str) -> Unit | None:
    """The next rung up from `unit_id`: None at the top, or for a unit the directory no
    longer knows (a clock can outlive its unit's entry in the directory)."""
    return next(directory.chain_above(unit_id), None)


def arm(uow: UnitOfWork, context, clock: Clock, new: bool) -> None:
    """A clock starts running for its unit, with its warnings; dispatch is told. `new` when
    the issue had no such clock yet."""
    store.put_clock(uow.conn, clock, new)
    arm_warnings(uow, context, clock)
    uow.emit(clock.armed_event())


def move_up(
    uow: UnitOfWork, context, clock: Clock, to_unit: Unit, reason: str, now: datetime
) -> None:
    """One level up the ladder: a fresh deadline for the next unit, which is told."""
    moved = clock.moved_up(to_unit.id, context.policies, now)
    store.put_clock(uow.conn, moved)
    if store.escalation_fired(uow.conn, moved.issue_id, moved.name, moved.assignment, moved.level):
        return  # this step already happened once: it is never told twice
    step = Escalation(
        issue_id=moved.issue_id,
        clock=moved.name,
        assignment=moved.assignment,
        level=moved.level,
        reason=reason,
        from_unit_id=clock.unit_id,
        to_unit_id=to_unit.id,
        missed_deadline=clock.due_at,
        fired_at=now,
    )
    _record(uow, context, step, to_unit, moved.due_at, moved)
    arm_warnings(uow, context, moved)
    uow.emit(moved.armed_event())


def escalate_once(
    uow: UnitOfWork,
    context,
    clock: Clock,
    kind: str,
    to_unit: Unit,
    reason: str,
    from_unit_id: str | None = None,
) -> None:
    """An escalation that moves no clock (reopened, undeliverable, returned too often),
    numbered per `kind`: recorded and told."""
    now = context.clock()
    step = Escalation(
        issue_id=clock.issue_id,
        clock=kind,
        assignment=clock.assignment,
        level=store.escalations_count(uow.conn, clock.issue_id, kind) + 1,
        reason=reason,
        from_unit_id=from_unit_id or clock.unit_id,
        to_unit_id=to_unit.id,
        missed_deadline=now,
        fired_at=now,
    )
    _record(uow, context, step, to_unit, clock.due_at, clock)


def _record(
    uow: UnitOfWork,
    context,
    step: Escalation,
    to_unit: Unit,
    next_deadline: datetime,
    clock: Clock,
) -> None:
    store.add_escalation(uow.conn, step)
    uow.emit(
        IssueEscalated(
            issue_id=step.issue_id,
            clock=step.clock,
            assignment=step.assignment,
            level=step.level,
            reason=step.reason,
            from_unit_id=step.from_unit_id,
            to_unit_id=to_unit.id,
            to_unit_name=to_unit.name,
            missed_deadline=step.missed_deadline,
            next_deadline=next_deadline,
            escalated_at=step.fired_at,
        )
    )
    uow.on_commit(lambda: _count(step))
    if to_unit.type == "district_leader":
        _open_supervision(uow, context, clock, to_unit, step.fired_at)


def _count(step: Escalation) -> None:
    metrics.ESCALATIONS.labels(str(min(step.level, 5)), step.reason).inc()
    if step.reason.endswith("_overdue"):
        metrics.FIRING_LAG.observe((step.fired_at - step.missed_deadline).total_seconds())


def _open_supervision(uow: UnitOfWork, context, clock: Clock, leader: Unit, now: datetime) -> None:
    existing = store.get_clock(uow.conn, clock.issue_id, "supervision")
    if existing is not None and existing.supervising:
        return
    supervision = Clock.supervision(clock, leader.id, context.policies, now)
    store.put_clock(uow.conn, supervision, new=existing is None)
    uow.emit(
        SupervisionOpened(
            issue_id=supervision.issue_id,
            leader_id=leader.id,
            due_at=supervision.due_at,
            opened_at=now,
        )
    )


def arm_warnings(uow: UnitOfWork, context, clock: Clock) -> None:
    """The clock's warning points before its deadline, counted from when it was armed."""
    policy = clock.policy(context.policies)
    points = []
    for warning in policy.warnings:
        unit_id = (
            clock.unit_id
            if warning.to == "unit"
            else context.directory.units[clock.unit_id].supervisor
        )
        due_at = context.policies.deadline(clock.updated_at, policy, warning.at)
        if unit_id and due_at < clock.due_at:
            points.append((warning.at, unit_id, due_at))
    store.arm_warnings(uow.conn, clock, points)
