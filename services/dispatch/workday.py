"""The work day as the street office runs it from its desk: issues raised from the agenda with
the unit that took each and what it promised, and whether each promise was kept — read at
the next meeting from the case itself (resolved by the promised time, or not)."""

from __future__ import annotations

from datetime import datetime

from district.directory import Unit
from services.dispatch import model, store
from services.dispatch.model import Case, InvalidTransition, UnknownReference
from shared.errors import Forbidden, NotFound
from shared.outbox import UnitOfWork


def raise_issue(
    uow: UnitOfWork,
    context,
    office: Unit,
    meeting_id: str,
    issue_id: str,
    unit_id: str,
    promise: str,
    promised_by: datetime,
) -> bool:
    """The meeting raised an open issue of its street: `unit_id` took it, promising `promise`
    by `promised_by`, which the unit's page shows from now on. False if already raised."""
    d, now = context.directory, context.clock()
    meeting = store.get_meeting(uow.conn, meeting_id)
    if meeting is None:
        raise NotFound(f"no meeting {meeting_id}")
    if model.office_street(office, d) != meeting["street"]:
        raise Forbidden(f"only the street office of {meeting['street']} runs its work day")
    case = store.get_case(uow.conn, issue_id, for_update=True)
    if case is None or case.street != meeting["street"]:
        raise NotFound(f"no issue {issue_id} in {meeting['street']}")
    if case.state not in model.OPEN_CASE_STATES:
        raise InvalidTransition("raise", case.state, "issue")
    if unit_id not in d.units:
        raise UnknownReference({"unit_id": [f"unknown unit {unit_id!r}"]})
    raised = store.add_meeting_item(
        uow.conn,
        meeting_id=meeting_id,
        issue_id=issue_id,
        unit_id=unit_id,
        promise=promise,
        promised_by=promised_by,
        raised_at=now,
    )
    if raised:
        store.save_case(uow.conn, case.promised(promised_by, now))
    return raised


def promise_state(case: Case | None, promised_by: datetime, now: datetime) -> str:
    """kept (resolved by the promised time), broken (resolved late, or still open past it),
    or pending."""
    if case is not None and case.resolved_at is not None:
        return "kept" if case.resolved_at <= promised_by else "broken"
    return "broken" if now > promised_by else "pending"


def promises(conn, meeting_id: str, now: datetime) -> list[dict]:
    """What the meeting raised, each with its case and whether the promise holds."""
    items = []
    for item in store.meeting_items_of(conn, meeting_id):
        case = store.get_case(conn, item["issue_id"])
        items.append({**item, "case": case, "kept": promise_state(case, item["promised_by"], now)})
    return items


def previous_meeting(conn, meeting: dict) -> dict | None:
    """The street's meeting before this one, whose promises this one checks."""
    earlier = [
        m
        for m in store.meetings_of(conn, meeting["street"])
        if (m["held_on"], m["created_at"]) < (meeting["held_on"], meeting["created_at"])
    ]
    return earlier[0] if earlier else None
