"""What a supervisor does by hand: escalate, extend a deadline (recorded, with its reason),
close supervision. Each checks the unit may, then commits the change with its event."""

from __future__ import annotations

from datetime import datetime

from district.directory import Unit
from services.escalation import ladder, model, store
from services.escalation.events import DeadlineExtended, SupervisionClosed
from services.escalation.model import Clock
from shared.errors import Conflict, Forbidden, NotFound
from shared.outbox import UnitOfWork


def escalate(uow: UnitOfWork, context, issue_id: str, unit: Unit) -> None:
    """One level up from where the running clock stands, now, with reason manual."""
    clock = _running(uow, issue_id, ("claim", "resolve"))
    _check(context, unit, clock)
    supervisor = ladder.unit_above(context.directory, clock.unit_id)
    if supervisor is None:
        raise Conflict("the issue is already at the top of its ladder", clock.state)
    ladder.move_up(uow, context, clock, supervisor, "manual", context.clock())


def extend(
    uow: UnitOfWork,
    context,
    issue_id: str,
    unit: Unit,
    clock_name: str,
    until: datetime,
    reason: str,
) -> None:
    """A later deadline for a running clock, recorded with who moved it and why."""
    clock = _running(uow, issue_id, (clock_name,))
    _check(context, unit, clock)
    if clock.state == "paused":
        raise Conflict("the clock is paused while the resident is awaited", "paused")
    if until <= clock.due_at:
        raise Conflict("an extension moves the deadline later", clock.state)
    now = context.clock()
    store.add_extension(
        uow.conn,
        issue_id=issue_id,
        clock=clock_name,
        by_unit_id=unit.id,
        reason=reason,
        from_due=clock.due_at,
        to_due=until,
        at=now,
    )
    extended = clock.extended(until, now)
    store.put_clock(uow.conn, extended)
    uow.emit(
        DeadlineExtended(
            issue_id=issue_id,
            clock=clock_name,
            by_unit_id=unit.id,
            reason=reason,
            from_due=clock.due_at,
            to_due=until,
            extended_at=now,
        )
    )
    uow.emit(extended.armed_event())


def close_supervision(uow: UnitOfWork, context, issue_id: str, unit: Unit, reason: str) -> None:
    clock = _running(uow, issue_id, ("supervision",))
    if unit.id != clock.unit_id and unit.type != "district_leader":
        raise Forbidden("only a district leader closes supervision")
    now = context.clock()
    store.put_clock(uow.conn, clock.closed(now))
    store.cancel_warnings(uow.conn, issue_id, "supervision")
    uow.emit(SupervisionClosed(issue_id=issue_id, by_unit_id=unit.id, reason=reason, closed_at=now))


def _running(uow: UnitOfWork, issue_id: str, names: tuple[str, ...]) -> Clock:
    for name in names:
        clock = store.get_clock(uow.conn, issue_id, name)
        if clock is not None and clock.running:
            return clock
    raise NotFound(f"issue {issue_id} has no running {' or '.join(names)} clock")


def _check(context, unit: Unit, clock: Clock) -> None:
    if not model.may_act(context.directory, unit, clock):
        raise Forbidden(f"{unit.id} does not supervise {clock.unit_id} on this issue")
