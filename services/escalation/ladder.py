"""The ladder: moving a clock one level up, escalating once without moving a clock, opening
supervision at the district leader and taking it one step further when it runs out. Events,
the sweeper and supervisors' commands all climb it through here, each step recorded with its
event in the caller's transaction."""

from __future__ import annotations

from datetime import datetime

from district.directory import Directory, Unit
from district.policies import ClockPolicy
from services.escalation import metrics, store
from services.escalation.events import IssueEscalated, SupervisionOpened
from services.escalation.model import Clock, Escalation
from shared.outbox import UnitOfWork


def unit_above(directory: Directory, unit_id: str) -> Unit | None:
    """The next rung up from `unit_id`: None at the top, or for a unit the directory no
    longer knows (a clock can outlive its unit's entry in the directory)."""
    return next(directory.chain_above(unit_id), None)


def supervision_target(directory: Directory, policies, clock: Clock) -> Unit | None:
    """Whom supervision that ran out goes to (`supervision_escalation.to`): the leader's own
    supervisor in the directory, or the unit named; None when it stays with its leader, who
    is only warned: `to: none`, nobody found, or supervision was escalated already (one
    step, never a second)."""
    to = policies.supervision_escalation.to
    if to == "none" or clock.level > 0:
        return None
    unit = unit_above(directory, clock.unit_id) if to == "supervisor" else directory.units.get(to)
    return unit if unit is not None and unit.id != clock.unit_id else None


def arm(uow: UnitOfWork, context, clock: Clock, new: bool, announced: bool = False) -> None:
    """A clock starts running for its unit, with its warnings; the other services are told
    its deadline unless it was `announced` already (a lead's claim deadline, which its
    issue.dispatched names). `new` when the issue had no such clock yet."""
    store.put_clock(uow.conn, clock, new)
    arm_warnings(uow, context, clock)
    if not announced:
        uow.emit(clock.armed_event())


Climb = tuple[Clock, Unit, str]  # a clock, the unit it goes up to, and why


def move_up(
    uow: UnitOfWork, context, clock: Clock, to_unit: Unit, reason: str, now: datetime
) -> None:
    """One level up the ladder: a fresh deadline for the next unit, which is told. Supervision
    climbs here too when it runs out: its unique step is (issue, supervision, assignment, 1)."""
    move_all_up(uow, context, [(clock, to_unit, reason)], now)


def move_all_up(uow: UnitOfWork, context, climbs: list[Climb], now: datetime) -> None:
    """move_up for each climb, in a handful of statements whatever their number (the
    sweeper's batch): the clocks written, the steps not taken before recorded, their warnings
    re-armed and their events in the outbox, in the caller's transaction; the events in
    climbs' order, each clock's as move_up emits them."""
    moved = [clock.moved_up(to_unit.id, context.policies, now) for clock, to_unit, _ in climbs]
    store.put_clocks(uow.conn, moved)
    steps = [_step(climb, up, now) for climb, up in zip(climbs, moved, strict=True)]
    recorded = store.add_escalations(uow.conn, steps)
    told, rearmed, events = [], [], []
    for (_, to_unit, _), up, step in zip(climbs, moved, steps, strict=True):
        if store.step_key(step) not in recorded:
            continue  # this step already happened once: it is never told twice
        told.append(step)
        events.append(_escalated(step, to_unit, up.due_at))
        events += _supervision(uow, context, step, to_unit, up)
        events.append(up.armed_event())
        rearmed.append((up, warning_points(context, up)))
    store.rearm_warnings(uow.conn, rearmed)
    uow.emit_many(events)
    uow.on_commit(lambda: _count(*told))


def _step(climb: Climb, moved: Clock, now: datetime) -> Escalation:
    clock, to_unit, reason = climb
    return Escalation(
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
    uow.emit(_escalated(step, to_unit, next_deadline))
    for opened in _supervision(uow, context, step, to_unit, clock):
        uow.emit(opened)
    uow.on_commit(lambda: _count(step))


def _escalated(step: Escalation, to_unit: Unit, next_deadline: datetime) -> IssueEscalated:
    return IssueEscalated(
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


def _count(*steps: Escalation) -> None:
    for step in steps:
        metrics.ESCALATIONS.labels(str(min(step.level, 5)), step.reason).inc()
        if step.reason.endswith("_overdue"):
            metrics.FIRING_LAG.observe((step.fired_at - step.missed_deadline).total_seconds())


def _supervision(
    uow: UnitOfWork, context, step: Escalation, leader: Unit, clock: Clock
) -> list[SupervisionOpened]:
    """A step that reaches a district leader opens supervision (督辦) unless it is open:
    its event, or none."""
    if leader.type != "district_leader" or clock.name == "supervision":
        return []
    existing = store.get_clock(uow.conn, clock.issue_id, "supervision")
    if existing is not None and existing.supervising:
        return []
    supervision = Clock.supervision(clock, leader.id, context.policies, step.fired_at)
    store.put_clock(uow.conn, supervision, new=existing is None)
    return [
        SupervisionOpened(
            issue_id=supervision.issue_id,
            leader_id=leader.id,
            due_at=supervision.due_at,
            opened_at=step.fired_at,
        )
    ]


def arm_warnings(uow: UnitOfWork, context, clock: Clock) -> None:
    """The clock's warning points before its deadline, counted from when it was armed."""
    store.arm_warnings(uow.conn, clock, warning_points(context, clock))


def warning_points(context, clock: Clock) -> list[tuple[float, str, datetime]]:
    """(fraction, unit to warn, when) of each of the clock's warnings due before it is."""
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
    return points


def resume_warnings(uow: UnitOfWork, context, paused: Clock, resumed: Clock) -> None:
    """The warnings paused with `paused` that had not fired are armed again for `resumed`,
    each exactly once (fired ones stay fired).

    Chosen rule: the time waiting for the resident does not count, for the warnings as for
    the deadline. A warning at fraction `at` fires once the clock has *run* for `at` x its
    policy's `within` (in the clock's own measure, working or calendar time), as it would
    have without the pause. So it is re-armed for exactly what it still had to go when the
    clock paused (measured from the pause to its old due time), counted from the resume. For
    a clock armed at its policy's limit, it fires with (1 - at) x `within` left before the
    resumed deadline, as it would have before the pause: paused at 30 % of P10D, the 50 %
    warning comes 2 days after the resume and the 80 % one 5 days after, 7 days before the
    deadline. A warning that would not come before the resumed deadline is cancelled."""
    policy = paused.policy(context.policies)
    for warning in store.paused_warnings(uow.conn, paused):
        left = context.policies.remaining(paused.updated_at, warning["due_at"], policy)
        due_at = context.policies.deadline(resumed.updated_at, ClockPolicy(left, policy.working))
        if due_at < resumed.due_at:
            store.rearm_warning(uow.conn, warning, due_at, resumed.due_at)
        else:
            store.mark_warning_cancelled(uow.conn, warning)
