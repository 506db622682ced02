"""Sending an issue to units: the lead (and co-units for big matters), the next candidate
after a return, the street office's arbitration. Each send is an assignment, its unit's
link and an event."""

from __future__ import annotations

from datetime import datetime

from district.directory import Unit
from services.dispatch import links, metrics, rules, store
from services.dispatch.events import ArbitrationNeeded, IssueDispatched
from services.dispatch.model import Assignment, Case
from shared.outbox import UnitOfWork
from shared.privacy import mask_phones


def route(uow: UnitOfWork, context, case: Case, now: datetime) -> None:
    """Send a case with a category and tier to its best untried lead, and co-units if big."""
    d = context.directory
    tried = {a.unit_id for a in store.assignments_of(uow.conn, case.issue_id) if a.is_lead}
    candidates = [
        u
        for u in rules.lead_candidates(d, case.tier, case.category, case.place_id, case.street)
        if u.id not in tried
    ]
    if not candidates:
        to_arbitration(uow, context, case, now)
        return
    send(uow, context, case, candidates[0], "lead", False, now)
    for unit in rules.co_units(d, case.tier, case.category, case.place_id):
        send(uow, context, case, unit, "co", False, now)


def send(
    uow: UnitOfWork, context, case: Case, unit: Unit, role: str, forced: bool, now: datetime
) -> None:
    """One assignment and its issue.dispatched; a lead's also makes the unit the case's lead."""
    d = context.directory
    number = store.add_assignment(
        uow.conn,
        Assignment(None, case.issue_id, unit.id, role, forced, "dispatched", dispatched_at=now),
    )
    links.record(uow.conn, context.link_secret, case.issue_id, unit.id, number, now)
    claim_due_at = None
    if role == "lead":
        claim_due_at = context.policies.claim_deadline(case.tier, case.category, now)
        store.save_case(uow.conn, case.dispatched_to(unit.id, now).due("claim", claim_due_at))
    overseer = rules.leader_in_charge(d, case.street) if case.tier == "hard" else None
    uow.emit(
        IssueDispatched(  # the unit by id: notify looks its contacts up in the directory
            issue_id=case.issue_id,
            assignment=number,
            role=role,
            forced=forced,
            unit_id=unit.id,
            unit_name=unit.name,
            supervisor_id=unit.supervisor,
            overseer_id=overseer.id if overseer else None,
            tier=case.tier,
            category=case.category,
            category_name=d.categories[case.category].name,
            street=case.street,
            place_id=case.place_id,
            place_name=d.places[case.place_id].name,
            building=case.building,
            description=mask_phones(case.description),
            promised_by=case.promised_by,
            meeting_id=case.meeting_id,
            dispatched_at=now,
            claim_due_at=claim_due_at,
        )
    )
    uow.on_commit(lambda: metrics.DISPATCHED.labels(case.street, unit.id, case.tier, role).inc())


def to_arbitration(uow: UnitOfWork, context, case: Case, now: datetime) -> None:
    """Returned too often, or nobody left: the street office decides, and its choice sticks."""
    office = case.street_office(context.directory)
    store.save_case(uow.conn, case.in_arbitration(now))
    uow.emit(
        ArbitrationNeeded(
            issue_id=case.issue_id, street_office_id=office.id, returns=case.returns, at=now
        )
    )
