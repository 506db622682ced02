"""What a supervisor does by hand: escalate, extend a deadline (recorded, with its reason),
close supervision. Each checks the unit may, then commits the change with its event."""

from __future__ import annotations

from district.directory import Unit
from services.escalation import model, store
from services.escalation.events import DeadlineExtended, IssueClockArmed, SupervisionClosed
from services.escalation.handlers import move_up
from shared.outbox import UnitOfWork


class NotFound(Exception):
    pass


class Forbidden(Exception):
    pass


class Conflict(Exception):
    def __init__(self, detail: str, state: str):
        super().__init__(detail)
        self.state = state


def _running(uow: UnitOfWork, issue_id: str, names: tuple[str, ...]) -> dict:
    for name in names:
        clock = store.get_clock(uow.conn, issue_id, name)
        if clock is not None and clock["state"] in ("armed", "paused", "overdue"):
            return clock
    raise NotFound(f"issue {issue_id} has no running {' or '.join(names)} clock")


def _check(context, unit: Unit, clock: dict) -> None:
    if not model.may_act(context.directory, unit, clock):
        raise Forbidden(f"{unit.id} does not supervise {clock['unit_id']} on this issue")


def escalate(uow: UnitOfWork, context, issue_id: str, unit: Unit) -> None:
    """One level up from where the running clock stands, now, with reason manual."""
    clock = _running(uow, issue_id, ("claim", "resolve"))
    _check(context, unit, clock)
    supervisor = model.next_rung(context.directory, clock["unit_id"])
    if supervisor is None:
        raise Conflict("the issue is already at the top of its ladder", clock["state"])
    move_up(uow, context, clock, supervisor, "manual", context.clock())


def extend(
    uow: UnitOfWork, context, issue_id: str, unit: Unit, clock_name: str, until, reason: str
) -> None:
    clock = _running(uow, issue_id, (clock_name,))
    _check(context, unit, clock)
    if clock["state"] == "paused":
        raise Conflict("the clock is paused while the resident is awaited", "paused")
    if until <= clock["due_at"]:
        raise Conflict("an extension moves the deadline later", clock["state"])
    now = context.clock()
    store.add_extension(
        uow.conn,
        issue_id=issue_id,
        clock=clock_name,
        by_unit_id=unit.id,
        reason=reason,
        from_due=clock["due_at"],
        to_due=until,
        at=now,
    )
    store.put_clock(
        uow.conn, clock, **{**clock, "due_at": until, "state": "armed", "updated_at": now}
    )
    uow.emit(
        DeadlineExtended(
            issue_id=issue_id,
            clock=clock_name,
            by_unit_id=unit.id,
            reason=reason,
            from_due=clock["due_at"],
            to_due=until,
            extended_at=now,
        )
    )
    uow.emit(
        IssueClockArmed(
            issue_id=issue_id,
            clock=clock_name,
            assignment=clock["assignment"],
            level=clock["level"],
            unit_id=clock["unit_id"],
            due_at=until,
        )
    )


def close_supervision(uow: UnitOfWork, context, issue_id: str, unit: Unit, reason: str) -> None:
    clock = _running(uow, issue_id, ("supervision",))
    if unit.id != clock["unit_id"] and unit.type != "district_leader":
        raise Forbidden("only a district leader closes supervision")
    now = context.clock()
    store.put_clock(uow.conn, clock, **{**clock, "state": "closed", "updated_at": now})
    store.cancel_warnings(uow.conn, issue_id, "supervision")
    uow.emit(SupervisionClosed(issue_id=issue_id, by_unit_id=unit.id, reason=reason, closed_at=now))
