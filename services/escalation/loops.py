"""The sweeper: claims due clocks and warnings and fires them, each batch in one transaction
with its events. Rows are claimed with SKIP LOCKED, so replicas share the work."""

from __future__ import annotations

import threading
from datetime import datetime

from services.escalation import ladder, metrics, model, store
from services.escalation.events import IssueWarned
from services.escalation.model import Clock
from shared.outbox import UnitOfWork

BATCH = 500  # clocks per transaction: a burst pays each statement once per 500, not once each


MIN_WAIT = 0.005  # a deadline another replica holds locked: do not spin on it


def run_sweeper(service_store, context, interval: float, stop: threading.Event) -> None:
    """Sweep; then sleep until the next deadline the store knows, or `interval` at most (a
    clock armed meanwhile on another replica is due hours ahead, so it waits no longer than
    that). Firing at the deadline rather than at the next poll keeps the lag to milliseconds
    however many clocks are open: the next one is an index's first row."""
    while not stop.is_set():
        if sweep_once(service_store, context) >= BATCH:
            continue  # more is due now
        stop.wait(_until_next_due(service_store, context, interval))


def _until_next_due(service_store, context, interval: float) -> float:
    with service_store.read() as conn:
        due = store.next_due(conn)
    if due is None:
        return interval
    left = (due - context.clock()).total_seconds()
    return min(max(left, MIN_WAIT), interval)


def sweep_once(service_store, context) -> int:
    with service_store.unit_of_work() as uow:
        return fire_due(uow, context, context.clock(), BATCH)


def fire_due(uow: UnitOfWork, context, now: datetime, limit: int = BATCH) -> int:
    """Escalate every clock past due one level and send every warning due, in this one
    transaction with their events; the number fired. Clocks first: a warning due in the
    same sweep as its clock's deadline (the sweeper was down past both) is cancelled by the
    climb, not sent after the escalation it would contradict."""
    due = store.due_clocks(uow.conn, now, limit)
    climbs = [climb for clock in due if (climb := _breach(uow, context, clock, now))]
    ladder.move_all_up(uow, context, climbs, now)
    warnings = store.due_warnings(uow.conn, now, limit)
    store.mark_warnings_fired(uow.conn, warnings)
    for warning in warnings:
        _warn(
            uow,
            context,
            warning["to_unit_id"],
            now,
            issue_id=warning["issue_id"],
            clock=warning["clock"],
            level=warning["level"],
            fraction=warning["fraction"],
            deadline=warning["deadline"],
        )
    return len(due) + len(warnings)


def _breach(uow: UnitOfWork, context, clock: Clock, now: datetime) -> ladder.Climb | None:
    """Where a clock past due goes: one level up (the climb, taken with the batch's others),
    or nowhere, its row written here (supervision with nobody above: overdue, its leader
    told; any other clock at the top of its ladder: exhausted)."""
    reason = model.REASON_BY_CLOCK[clock.kind]
    if clock.name == "supervision":
        target = ladder.supervision_target(context.directory, context.policies, clock)
        if target is not None:  # one step up (supervision_escalation), with its own deadline
            return clock, target, reason
        store.put_clock(uow.conn, clock.overdue(now))  # it stays: its holder is told it ran over
        _warn(
            uow,
            context,
            clock.unit_id,
            now,
            issue_id=clock.issue_id,
            clock="supervision",
            level=clock.level,
            fraction=1.0,
            deadline=clock.due_at,
        )
        return None
    supervisor = ladder.unit_above(context.directory, clock.unit_id)
    if supervisor is None:
        store.put_clock(uow.conn, clock.exhausted(now))
        return None
    return clock, supervisor, reason


def _warn(uow: UnitOfWork, context, unit_id: str, now: datetime, **warning) -> None:
    """Tell `unit_id` a deadline is near (or supervision ran over), if the directory knows it."""
    unit = context.directory.units.get(unit_id)
    if unit is None:
        return
    uow.emit(IssueWarned(to_unit_id=unit.id, to_unit_name=unit.name, warned_at=now, **warning))
    uow.on_commit(lambda: metrics.WARNINGS.labels(warning["clock"]).inc())
