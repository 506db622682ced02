"""Dispatch's handlers: route a submitted issue, and the unit's claim and resolve."""
from __future__ import annotations

from services.dispatch import metrics, model, store
from services.dispatch.events import IssueClaimed, IssueDispatched, IssueResolved
from shared.envelope import Envelope, utcnow
from shared.outbox import UnitOfWork


def on_issue_submitted(uow: UnitOfWork, event: Envelope, context) -> None:
    """Send the issue to the one unit responsible for its category at its place."""
    if store.get(uow.conn, event.issue_id) is not None:
        return  # already dispatched (a replay with a new event id changes nothing)
    directory = context.directory
    category = event.payload["category"] or model.FALLBACK_CATEGORY
    place_id = model.place_of(directory, event.payload["location"])
    unit = model.lead_unit(directory, place_id, category)
    tier = model.tier_of(directory, category)
    street = event.payload["location"]["street"]
    now = utcnow()
    store.add(uow.conn, issue_id=event.issue_id, assignment=1, unit_id=unit.id, tier=tier, category=category,
              street=street, place_id=place_id, state="dispatched", dispatched_at=now)
    uow.emit(IssueDispatched(
        issue_id=event.issue_id, assignment=1, unit_id=unit.id, unit_name=unit.name,
        unit_contacts=[{"name": c.name, "phone": c.phone} for c in unit.contacts],
        supervisor_id=unit.supervisor, tier=tier, category=category,
        category_name=directory.categories[category].name, street=street, place_id=place_id,
        place_name=directory.places[place_id].name, dispatched_at=now))
    uow.on_commit(lambda: metrics.DISPATCHED.labels(street, unit.id, tier).inc())


def claim(uow: UnitOfWork, issue_id: str, unit_id: str) -> dict:
    assignment = _acting_on(uow, issue_id, unit_id)
    now = utcnow()
    store.change(uow.conn, issue_id, state=model.after("claim", assignment["state"]), claimed_at=now)
    uow.emit(IssueClaimed(issue_id=issue_id, assignment=assignment["assignment"], unit_id=unit_id,
                          tier=assignment["tier"], street=assignment["street"], claimed_at=now))
    waited = (now - assignment["dispatched_at"]).total_seconds()
    uow.on_commit(lambda: (metrics.CLAIMED.labels(assignment["street"], unit_id).inc(),
                           metrics.CLAIM_SECONDS.labels(assignment["street"]).observe(waited)))
    return store.get(uow.conn, issue_id)


def resolve(uow: UnitOfWork, issue_id: str, unit_id: str, resolution: str) -> dict:
    assignment = _acting_on(uow, issue_id, unit_id)
    now = utcnow()
    store.change(uow.conn, issue_id, state=model.after("resolve", assignment["state"]), resolved_at=now,
                 resolution=resolution)
    uow.emit(IssueResolved(issue_id=issue_id, assignment=assignment["assignment"], unit_id=unit_id,
                           resolution=resolution, resolved_at=now))
    uow.on_commit(lambda: metrics.RESOLVED.labels(assignment["street"], unit_id).inc())
    return store.get(uow.conn, issue_id)


def _acting_on(uow: UnitOfWork, issue_id: str, unit_id: str) -> dict:
    assignment = store.get(uow.conn, issue_id, for_update=True)
    if assignment is None:
        raise model.AssignmentNotFound(f"no assignment for issue {issue_id}")
    if assignment["unit_id"] != unit_id:
        raise model.NotAssignedToUnit(f"issue {issue_id} is not assigned to {unit_id}")
    return assignment


EVENT_HANDLERS = {"issue.submitted": on_issue_submitted}
