"""What the events dispatch consumes cause: a new issue is classified, tiered, checked for a
twin and routed; the resident's feedback closes or reopens it; escalation's clocks and
levels are kept for the work-day agenda; a unit's SMS reply is applied as that unit."""

from __future__ import annotations

from typing import TYPE_CHECKING

from services.dispatch import links, metrics, replies, rules, store
from services.dispatch.commands import close, reply
from services.dispatch.events import IssueLinked, IssueReopened, TriageNeeded, UnitReplyApplied
from services.dispatch.model import Case, place_of
from services.dispatch.routing import route, send
from shared.envelope import Envelope
from shared.errors import DomainError
from shared.outbox import UnitOfWork
from shared.subscriber import UnknownIssue

if TYPE_CHECKING:
    from services.dispatch.main import Context


def on_issue_submitted(uow: UnitOfWork, event: Envelope, context: Context) -> None:
    if store.get_case(uow.conn, event.issue_id) is not None:
        return  # already taken in (a replay with a new event id changes nothing)
    p, d, now = event.payload, context.directory, context.clock()
    category = p["category"] or rules.classify(d, p["description"])
    case = Case.submitted(event.issue_id, p, category, place_of(d, p["location"]), now)
    if category is None:
        store.add_case(uow.conn, case)
        office = case.street_office(d)
        uow.emit(TriageNeeded(issue_id=case.issue_id, street_office_id=office.id, at=now))
        return
    twin = (
        store.open_duplicate(uow.conn, category, case.duplicate_key, case.issue_id)
        if case.duplicate_key
        else None
    )
    if twin is not None:
        store.add_case(uow.conn, case.linked(twin))
        uow.emit(IssueLinked(issue_id=case.issue_id, primary_issue_id=twin.issue_id, linked_at=now))
        return
    case = case.tiered(rules.tier_for(d, context.rules, category, case.flags))
    store.add_case(uow.conn, case)
    route(uow, context, case, now)


def on_feedback_given(uow: UnitOfWork, event: Envelope, context: Context) -> None:
    """Satisfied closes it; dissatisfied sends it back to the same lead unit, one tier higher."""
    case = _case(uow, event)
    if not case.awaits_feedback:
        return  # late or repeated feedback changes nothing
    if event.payload["satisfied"]:
        close(uow, context, case, "satisfied")
        return
    now = context.clock()
    case = case.reopened_higher(now)
    store.save_case(uow.conn, case)
    uow.emit(IssueReopened(issue_id=case.issue_id, tier=case.tier, reopened_at=now))
    send(uow, context, case, context.directory.units[case.lead_unit_id], "lead", False, now)
    uow.on_commit(lambda: metrics.REOPENED.labels(case.street).inc())


def on_escalated(uow: UnitOfWork, event: Envelope, context: Context) -> None:
    """The level, for the agenda; and the link of the supervisor it reached, which notify
    writes in that supervisor's SMS."""
    p, now = event.payload, context.clock()
    store.save_case(uow.conn, _case(uow, event).escalated(p["level"]))
    if p["to_unit_id"]:
        links.record_supervision(
            uow.conn, context.link_secret, event.issue_id, p["to_unit_id"], now
        )


def on_warned(uow: UnitOfWork, event: Envelope, context: Context) -> None:
    """A warning may reach a supervisor before any escalation: its link, as on_escalated."""
    unit_id, now = event.payload["to_unit_id"], context.clock()
    links.record_supervision(uow.conn, context.link_secret, event.issue_id, unit_id, now)


def on_clock_armed(uow: UnitOfWork, event: Envelope, context: Context) -> None:
    """Claim and resolve deadlines, for the work-day agenda's "overdue"; a co-handling
    part's (claim@N, resolve@N) for that department's page."""
    case, clock = _case(uow, event), event.payload["clock"]
    if clock in ("claim", "resolve"):
        store.save_case(uow.conn, case.due(clock, event.payload["due_at"]))
    elif "@" in clock:
        kind, _, number = clock.partition("@")
        if kind in ("claim", "resolve") and number.isdigit():
            store.set_part_due(uow.conn, event.issue_id, int(number), kind, event.payload["due_at"])


def on_unit_replied(uow: UnitOfWork, event: Envelope, context: Context) -> None:
    """A unit acted by SMS. Applied or refused, the answer goes back to notify in the same
    transaction: a refusal (already claimed, not its assignment) is an answer, not a failure."""
    p = event.payload
    emitted, hooks = len(uow.emitted), len(uow.committed_hooks)
    try:
        with uow.conn.begin_nested():  # a refusal leaves nothing of the attempt behind
            detail = reply(
                uow, context, p["issue_id"], p["unit_id"], p["assignment"], p["action"], p["text"]
            )
        accepted = True
    except DomainError as error:
        del uow.emitted[emitted:], uow.committed_hooks[hooks:]
        accepted, detail = False, replies.refused(p["action"], error)
    outcome = "accepted" if accepted else "refused"
    uow.on_commit(lambda: metrics.REPLIES.labels(p["action"], outcome).inc())
    uow.emit(
        UnitReplyApplied(
            issue_id=p["issue_id"],
            inbound_id=p["inbound_id"],
            unit_id=p["unit_id"],
            accepted=accepted,
            detail=detail,
        )
    )


def _case(uow: UnitOfWork, event: Envelope) -> Case:
    case = store.get_case(uow.conn, event.issue_id, for_update=True)
    if case is None:
        raise UnknownIssue(event.issue_id)
    return case


EVENT_HANDLERS = {
    "issue.submitted": on_issue_submitted,
    "issue.feedback_given": on_feedback_given,
    "issue.escalated": on_escalated,
    "issue.warned": on_warned,
    "issue.clock_armed": on_clock_armed,
    "unit.replied": on_unit_replied,
}
