"""Dispatch's handlers for the events it consumes: a new issue is classified, tiered, checked
for a twin and routed; the resident's feedback closes or reopens it; escalation's clocks and
levels are kept for the work-day agenda."""

from __future__ import annotations

from services.dispatch import metrics, model, routing, rules, store
from services.dispatch.events import IssueClosed, IssueLinked, IssueReopened, TriageNeeded
from shared.envelope import Envelope
from shared.outbox import UnitOfWork
from shared.subscriber import UnknownIssue


def on_issue_submitted(uow: UnitOfWork, event: Envelope, context) -> None:
    if store.get_case(uow.conn, event.issue_id) is not None:
        return  # already taken in (a replay with a new event id changes nothing)
    p, d, now = event.payload, context.directory, context.clock()
    location = p["location"]
    place_id = _place_of(d, location)
    category = p["category"] or rules.classify(d, p["description"])
    flags = _flags(p["attributes"])
    case = {
        "issue_id": event.issue_id,
        "state": "triage",
        "category": category,
        "tier": None,
        "flags": flags,
        "description": p["description"],
        "street": location["street"],
        "place_id": place_id,
        "duplicate_key": model.duplicate_key(location),
        "returns": 0,
        "reopened": 0,
        "linked_to": None,
        "meeting_id": p["meeting_id"],
        "promised_by": p["promised_by"],
        "escalation_level": 0,
        "submitted_at": p["submitted_at"] or now,
        "updated_at": now,
    }
    if category is None:
        store.add_case(uow.conn, **case)
        office = rules.street_office(d, case["street"])
        uow.emit(TriageNeeded(issue_id=event.issue_id, street_office_id=office.id, at=now))
        return
    twin = (
        store.open_duplicate(uow.conn, category, case["duplicate_key"], event.issue_id)
        if case["duplicate_key"]
        else None
    )
    if twin is not None:
        store.add_case(
            uow.conn,
            **{
                **case,
                "state": "linked",
                "linked_to": twin["issue_id"],
                "tier": twin["tier"],
                "lead_unit_id": twin["lead_unit_id"],
            },
        )
        uow.emit(
            IssueLinked(issue_id=event.issue_id, primary_issue_id=twin["issue_id"], linked_at=now)
        )
        return
    case["tier"] = rules.tier_for(d, context.rules, category, flags)
    store.add_case(uow.conn, **case)
    routing.route(uow, context, case, now)


def on_feedback_given(uow: UnitOfWork, event: Envelope, context) -> None:
    """Satisfied closes it; dissatisfied sends it back to the same lead unit, one tier higher."""
    case = _case(uow, event)
    if case["state"] != "resolved":
        return  # late or repeated feedback changes nothing
    now = context.clock()
    if event.payload["satisfied"]:
        close(uow, context, case, "satisfied", now)
        return
    tier = rules.higher(case["tier"])
    store.change_case(
        uow.conn,
        case["issue_id"],
        tier=tier,
        reopened=case["reopened"] + 1,
        linked_to=None,
        resolution=None,
        feedback_due=None,
        updated_at=now,
    )
    uow.emit(IssueReopened(issue_id=case["issue_id"], tier=tier, reopened_at=now))
    lead = context.directory.units[case["lead_unit_id"]]
    routing.send(uow, context, {**case, "tier": tier}, lead, "lead", False, now)
    uow.on_commit(lambda: metrics.REOPENED.labels(case["street"]).inc())


def close(uow: UnitOfWork, context, case: dict, reason: str, now) -> None:
    store.change_case(
        uow.conn, case["issue_id"], state="closed", closed_reason=reason, updated_at=now
    )
    uow.emit(
        IssueClosed(
            issue_id=case["issue_id"], reason=reason, linked_to=case["linked_to"], closed_at=now
        )
    )
    uow.on_commit(lambda: metrics.CLOSED.labels(case["street"], reason).inc())
    for twin in store.linked_to(uow.conn, case["issue_id"]):
        store.change_case(
            uow.conn, twin["issue_id"], state="closed", closed_reason="with_linked", updated_at=now
        )
        uow.emit(
            IssueClosed(
                issue_id=twin["issue_id"],
                reason="with_linked",
                linked_to=case["issue_id"],
                closed_at=now,
            )
        )


def on_escalated(uow: UnitOfWork, event: Envelope, context) -> None:
    case = _case(uow, event)
    store.change_case(
        uow.conn,
        case["issue_id"],
        escalation_level=max(case["escalation_level"], event.payload["level"]),
    )


def on_clock_armed(uow: UnitOfWork, event: Envelope, context) -> None:
    """Claim and resolve deadlines, for the work-day agenda's "overdue"."""
    _case(uow, event)
    if event.payload["clock"] in ("claim", "resolve"):
        store.change_case(
            uow.conn, event.issue_id, **{f"{event.payload['clock']}_due": event.payload["due_at"]}
        )


def _case(uow: UnitOfWork, event: Envelope) -> dict:
    case = store.get_case(uow.conn, event.issue_id, for_update=True)
    if case is None:
        raise UnknownIssue(event.issue_id)
    return case


def _place_of(directory, location: dict) -> str:
    for key in ("building", "compound", "community"):
        if location.get(key) in directory.places:
            return location[key]
    return location["street"]


def _flags(attributes: dict) -> dict:
    """The tier rules' flags, from the answers a submission (or triage) carries."""
    return {
        "households_affected": int(float(attributes.get("households_affected") or 0)),
        "needs_several_departments": str(attributes.get("needs_several_departments", "")).lower()
        in ("yes", "true", "1"),
        "repeated_complaint": str(
            attributes.get("repeated") or attributes.get("repeated_complaint") or ""
        ).lower()
        in ("yes", "true", "1"),
    }


EVENT_HANDLERS = {
    "issue.submitted": on_issue_submitted,
    "issue.feedback_given": on_feedback_given,
    "issue.escalated": on_escalated,
    "issue.clock_armed": on_clock_armed,
}
