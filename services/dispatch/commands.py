"""What units and supervisors ask of an issue: claim, return (退單), note, resolve (over HTTP
or by SMS reply); urge (督辦), re-tier, triage, arbitrate; and closing it. Each checks who may
act and in which state, then commits the change and its event together."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from district.directory import Unit
from district.links import SUPERVISION
from services.dispatch import links, metrics, replies, rules, store
from services.dispatch.events import (
    AwaitingResident,
    IssueClaimed,
    IssueClosed,
    IssueResolved,
    IssueRetiered,
    IssueReturned,
    IssueUrged,
    ProgressNoted,
    ResidentReplied,
)
from services.dispatch.model import Assignment, Case, InvalidTransition, UnknownReference
from services.dispatch.routing import route, send, to_arbitration
from shared.errors import Forbidden, Invalid, NotFound
from shared.outbox import UnitOfWork

if TYPE_CHECKING:
    from services.dispatch.main import Context


def claim(uow: UnitOfWork, context: Context, issue_id: str, unit: Unit) -> None:
    case, a = _own(uow, issue_id, unit)
    now = context.clock()
    store.save_assignment(uow.conn, a.claimed(now))
    if a.is_lead:
        store.save_case(uow.conn, case.claimed(now))
    uow.emit(
        IssueClaimed(
            issue_id=issue_id,
            assignment=a.id,
            role=a.role,
            unit_id=unit.id,
            tier=case.tier,
            street=case.street,
            promised_by=case.promised_by,
            claimed_at=now,
        )
    )
    on_time = "unknown" if case.claim_due is None else str(now <= case.claim_due).lower()
    waited = a.seconds_to_claim(now)
    uow.on_commit(
        lambda: (
            metrics.CLAIMED.labels(case.street, unit.id, on_time).inc(),
            metrics.CLAIM_SECONDS.labels(case.street).observe(waited),
        )
    )


def give_back(
    uow: UnitOfWork, context: Context, issue_id: str, unit: Unit, reason: str, note: str | None
) -> None:
    """Return (退單): to the next untried candidate; past the return limit, to arbitration."""
    case, a = _own(uow, issue_id, unit)
    now = context.clock()
    store.save_assignment(uow.conn, a.returned(reason, now))
    case = case.returned_by(a, now)
    store.save_case(uow.conn, case)
    if note:  # the unit's explanation, for the page's timeline and the office's arbitration
        store.add_note(
            uow.conn, issue_id=issue_id, unit_id=unit.id, note=note, created_at=now, kind="return"
        )
    uow.emit(
        IssueReturned(
            issue_id=issue_id,
            assignment=a.id,
            unit_id=unit.id,
            reason=reason,
            note=note,
            returns=case.returns,
            returned_at=now,
        )
    )
    uow.on_commit(lambda: metrics.RETURNED.labels(case.street, unit.id, reason).inc())
    if not a.is_lead:
        return  # a co-unit declining its part leaves the lead in charge
    if case.returned_too_often(context.rules.max_returns):
        to_arbitration(uow, context, case, now)
    else:
        route(uow, context, case, now)


def note(uow: UnitOfWork, context: Context, issue_id: str, unit: Unit, text: str) -> int:
    """Progress on a claimed issue; the note's id (the unit pages attach photos to it)."""
    _, a = _own(uow, issue_id, unit)
    a.next_state("note")
    now = context.clock()
    note_id = store.add_note(
        uow.conn, issue_id=issue_id, unit_id=unit.id, note=text, created_at=now
    )
    uow.emit(ProgressNoted(issue_id=issue_id, unit_id=unit.id, note=text, noted_at=now))
    return note_id


def urge(uow: UnitOfWork, context: Context, issue_id: str, unit: Unit, text: str) -> int:
    """A supervisor presses the lead unit in charge (督办意见): kept on the issue's timeline,
    sent to that unit by notify. Only while a unit holds it (dispatched or claimed)."""
    case = _case(uow, issue_id)
    case.check_supervised_by(unit, context.directory)
    case.next_state("urge")
    held = store.current_assignment(uow.conn, issue_id, case.lead_unit_id)
    if held is None or held.finished_at is not None:
        raise InvalidTransition("urge", case.state, "issue")
    now = context.clock()
    note_id = store.add_note(
        uow.conn, issue_id=issue_id, unit_id=unit.id, note=text, created_at=now, kind="urge"
    )
    uow.emit(
        IssueUrged(
            issue_id=issue_id,
            assignment=held.id,
            unit_id=held.unit_id,
            by_unit_id=unit.id,
            by_unit_name=unit.name,
            note=text,
            urged_at=now,
        )
    )
    uow.on_commit(lambda: metrics.URGED.labels(case.street).inc())
    return note_id


def await_resident(uow: UnitOfWork, context: Context, issue_id: str, unit: Unit, text: str) -> None:
    """The lead waits for the resident; escalation stops the resolve clock meanwhile."""
    _, a = _own(uow, issue_id, unit)
    now = context.clock()
    store.save_assignment(uow.conn, a.awaiting_resident())
    store.add_note(
        uow.conn, issue_id=issue_id, unit_id=unit.id, note=text, created_at=now, kind="awaiting"
    )
    uow.emit(AwaitingResident(issue_id=issue_id, unit_id=unit.id, note=text, at=now))


def resident_replied(uow: UnitOfWork, context: Context, issue_id: str, unit: Unit) -> None:
    _, a = _own(uow, issue_id, unit)
    store.save_assignment(uow.conn, a.resumed())
    uow.emit(ResidentReplied(issue_id=issue_id, unit_id=unit.id, at=context.clock()))


def resolve(uow: UnitOfWork, context: Context, issue_id: str, unit: Unit, resolution: str) -> None:
    """A co-unit resolves its part; the lead's resolution resolves the issue and its twins."""
    case, a = _own(uow, issue_id, unit)
    now = context.clock()
    store.save_assignment(uow.conn, a.resolved(resolution, now))
    uow.emit(_resolved(case, a, resolution, None, now))
    if not a.is_lead:
        return
    feedback_within = context.rules.feedback_within
    store.save_case(uow.conn, case.resolved(resolution, now, feedback_within))
    for twin in store.linked_to(uow.conn, issue_id):
        store.save_case(uow.conn, twin.resolved(resolution, now, feedback_within))
        uow.emit(_resolved(twin, a, resolution, issue_id, now))
    took = a.seconds_to_resolve(now)
    in_time = "unknown" if case.resolve_due is None else str(now <= case.resolve_due).lower()
    uow.on_commit(
        lambda: (
            metrics.RESOLVED.labels(case.street, unit.id, in_time).inc(),
            metrics.RESOLVE_SECONDS.labels(case.street).observe(took),
        )
    )


def _resolved(
    case: Case, a: Assignment, resolution: str, linked_to: str | None, now: datetime
) -> IssueResolved:
    return IssueResolved(
        issue_id=case.issue_id,
        assignment=a.id,
        role=a.role,
        unit_id=a.unit_id,
        resolution=resolution,
        linked_to=linked_to,
        resolved_at=now,
    )


def reply(
    uow: UnitOfWork,
    context: Context,
    issue_id: str,
    unit_id: str,
    assignment: int,
    action: str,
    text: str,
) -> str:
    """A unit's SMS reply on one assignment, applied as that unit through the commands above;
    what the unit is told. A refusal raises, having changed nothing."""
    unit = context.directory.units.get(unit_id)
    if unit is None:
        raise replies.UnknownUnit(f"no unit {unit_id}")
    if assignment == SUPERVISION or action == "urge":
        return _supervisor_reply(uow, context, issue_id, unit, assignment, action, text)
    _, current = _own(uow, issue_id, unit)
    if current.id != assignment:
        raise replies.NotCurrent(assignment)
    if action == "claim":
        claim(uow, context, issue_id, unit)
        return replies.applied(action)
    if action == "return":
        reason = replies.return_reason(text)
        give_back(uow, context, issue_id, unit, reason, text or None)
        return replies.applied(action, reason)
    if not text:
        raise Invalid("a resolution needs its text", {"text": ["missing"]})
    resolve(uow, context, issue_id, unit, text)
    return replies.applied(action)


def _supervisor_reply(
    uow: UnitOfWork, context: Context, issue_id: str, unit: Unit, code_of: int, action: str, text
) -> str:
    """A supervisor's code urges; a unit's own code claims, returns, resolves — never both."""
    if code_of != SUPERVISION or action != "urge":
        raise replies.WrongCode(action)
    if not text:
        raise Invalid("urging needs its words", {"text": ["missing"]})
    urge(uow, context, issue_id, unit, text)
    return replies.applied(action)


def retier(
    uow: UnitOfWork, context: Context, issue_id: str, unit: Unit, tier: str, reason: str
) -> None:
    """A supervisor moves the issue to another tier; it goes to that tier's lead unit."""
    case = _case(uow, issue_id)
    case.check_supervised_by(unit, context.directory)
    case.next_state("retier")
    if tier == case.tier:
        return
    now = context.clock()
    for a in store.assignments_of(uow.conn, issue_id):
        if a.withdrawable:
            store.save_assignment(uow.conn, a.withdrawn(now))
    retiered = case.retiered(tier, now)
    store.save_case(uow.conn, retiered)
    uow.emit(
        IssueRetiered(
            issue_id=issue_id,
            from_tier=case.tier,
            to_tier=tier,
            reason=reason,
            by_unit_id=unit.id,
            at=now,
        )
    )
    route(uow, context, retiered, now)


def triage(
    uow: UnitOfWork, context: Context, issue_id: str, unit: Unit, category: str, flags: dict
) -> None:
    """The street office sets the category the keywords could not find."""
    d, case = context.directory, _case(uow, issue_id)
    case.check_street_office(unit, d)
    case.next_state("triage")
    if category not in d.categories:
        raise UnknownReference({"category": [f"unknown category {category!r}"]})
    flags = {**case.flags, **flags}
    tier, now = rules.tier_for(d, context.rules, category, flags), context.clock()
    case = case.triaged(category, flags, tier, now)
    store.save_case(uow.conn, case)
    route(uow, context, case, now)


def arbitrate(
    uow: UnitOfWork, context: Context, issue_id: str, unit: Unit, chosen_unit_id: str
) -> None:
    """The street office's forced assignment: the chosen unit cannot return it."""
    case = _case(uow, issue_id)
    case.check_street_office(unit, context.directory)
    case.next_state("arbitrate")
    chosen = context.directory.units.get(chosen_unit_id)
    if chosen is None:
        raise UnknownReference({"unit_id": [f"unknown unit {chosen_unit_id!r}"]})
    send(uow, context, case, chosen, "lead", True, context.clock())


def close(uow: UnitOfWork, context: Context, case: Case, reason: str) -> set[str]:
    """Closed as the resident answered (or did not); its twins close with it. The ids of
    every issue it closed."""
    now = context.clock()
    store.save_case(uow.conn, case.closed(reason, now))
    uow.emit(
        IssueClosed(issue_id=case.issue_id, reason=reason, linked_to=case.linked_to, closed_at=now)
    )
    uow.on_commit(lambda: metrics.CLOSED.labels(case.street, reason).inc())
    closed = {case.issue_id}
    for twin in store.linked_to(uow.conn, case.issue_id):
        store.save_case(uow.conn, twin.closed("with_linked", now))
        uow.emit(
            IssueClosed(
                issue_id=twin.issue_id,
                reason="with_linked",
                linked_to=case.issue_id,
                closed_at=now,
            )
        )
        closed.add(twin.issue_id)
    links.expire_with(uow.conn, closed, now, context.link_grace)
    return closed


def _case(uow: UnitOfWork, issue_id: str) -> Case:
    case = store.get_case(uow.conn, issue_id, for_update=True)
    if case is None:
        raise NotFound(f"no issue {issue_id}")
    return case


def _own(uow: UnitOfWork, issue_id: str, unit: Unit) -> tuple[Case, Assignment]:
    case = _case(uow, issue_id)
    assignment = store.current_assignment(uow.conn, issue_id, unit.id)
    if assignment is None:
        raise Forbidden(f"issue {issue_id} is not assigned to {unit.id}")
    return case, assignment
