"""What units and supervisors do to an issue: claim, return (退單), note, resolve; re-tier,
triage, arbitrate. Each checks who may act and in which state, then commits the change and
its event together."""

from __future__ import annotations

from district.directory import Unit
from services.dispatch import metrics, model, routing, rules, store
from services.dispatch.events import (
    AwaitingResident,
    IssueClaimed,
    IssueResolved,
    IssueRetiered,
    IssueReturned,
    ProgressNoted,
    ResidentReplied,
)
from shared.outbox import UnitOfWork


def _case(uow: UnitOfWork, issue_id: str) -> dict:
    case = store.get_case(uow.conn, issue_id, for_update=True)
    if case is None:
        raise model.NotFound(f"no issue {issue_id}")
    return case


def _own(uow: UnitOfWork, issue_id: str, unit: Unit) -> tuple[dict, dict]:
    case = _case(uow, issue_id)
    assignment = store.current_assignment(uow.conn, issue_id, unit.id)
    if assignment is None:
        raise model.Forbidden(f"issue {issue_id} is not assigned to {unit.id}")
    return case, assignment


def claim(uow: UnitOfWork, context, issue_id: str, unit: Unit) -> None:
    case, a = _own(uow, issue_id, unit)
    now = context.clock()
    store.change_assignment(
        uow.conn, a["id"], state=model.after("claim", a["state"]), claimed_at=now
    )
    if a["role"] == "lead":
        store.change_case(uow.conn, issue_id, state="claimed", updated_at=now)
    uow.emit(
        IssueClaimed(
            issue_id=issue_id,
            assignment=a["id"],
            role=a["role"],
            unit_id=unit.id,
            tier=case["tier"],
            street=case["street"],
            promised_by=case["promised_by"],
            claimed_at=now,
        )
    )
    on_time = "unknown" if case["claim_due"] is None else str(now <= case["claim_due"]).lower()
    waited = (now - a["dispatched_at"]).total_seconds()
    uow.on_commit(
        lambda: (
            metrics.CLAIMED.labels(case["street"], unit.id, on_time).inc(),
            metrics.CLAIM_SECONDS.labels(case["street"]).observe(waited),
        )
    )


def give_back(
    uow: UnitOfWork, context, issue_id: str, unit: Unit, reason: str, note: str | None
) -> None:
    """Return (退單): to the next candidate, never twice to the same unit; past the limit, arbitration."""
    case, a = _own(uow, issue_id, unit)
    if a["forced"]:
        raise model.InvalidTransition("return", "forced by arbitration")
    now = context.clock()
    store.change_assignment(
        uow.conn,
        a["id"],
        state=model.after("return", a["state"]),
        return_reason=reason,
        finished_at=now,
    )
    returns = case["returns"] + (a["role"] == "lead")
    store.change_case(uow.conn, issue_id, returns=returns, updated_at=now)
    uow.emit(
        IssueReturned(
            issue_id=issue_id,
            assignment=a["id"],
            unit_id=unit.id,
            reason=reason,
            note=note,
            returns=returns,
            returned_at=now,
        )
    )
    uow.on_commit(lambda: metrics.RETURNED.labels(case["street"], unit.id, reason).inc())
    if a["role"] != "lead":
        return  # a co-unit declining its part leaves the lead in charge
    if returns > context.rules.max_returns:
        routing.to_arbitration(uow, context, {**case, "returns": returns}, now)
    else:
        routing.route(uow, context, {**case, "returns": returns}, now)


def note(uow: UnitOfWork, context, issue_id: str, unit: Unit, text: str) -> None:
    _, a = _own(uow, issue_id, unit)
    model.after("note", a["state"])
    now = context.clock()
    store.add_note(uow.conn, issue_id=issue_id, unit_id=unit.id, note=text, created_at=now)
    uow.emit(ProgressNoted(issue_id=issue_id, unit_id=unit.id, note=text, noted_at=now))


def await_resident(uow: UnitOfWork, context, issue_id: str, unit: Unit, text: str) -> None:
    """The lead waits for the resident; escalation stops the resolve clock meanwhile."""
    _, a = _own(uow, issue_id, unit)
    now = context.clock()
    store.change_assignment(uow.conn, a["id"], state=model.after("await", a["state"]))
    store.add_note(uow.conn, issue_id=issue_id, unit_id=unit.id, note=text, created_at=now)
    uow.emit(AwaitingResident(issue_id=issue_id, unit_id=unit.id, note=text, at=now))


def resident_replied(uow: UnitOfWork, context, issue_id: str, unit: Unit) -> None:
    _, a = _own(uow, issue_id, unit)
    store.change_assignment(uow.conn, a["id"], state=model.after("resume", a["state"]))
    uow.emit(ResidentReplied(issue_id=issue_id, unit_id=unit.id, at=context.clock()))


def resolve(uow: UnitOfWork, context, issue_id: str, unit: Unit, resolution: str) -> None:
    """A co-unit resolves its part; the lead's resolution resolves the issue and its twins."""
    case, a = _own(uow, issue_id, unit)
    now = context.clock()
    store.change_assignment(
        uow.conn,
        a["id"],
        state=model.after("resolve", a["state"]),
        resolution=resolution,
        finished_at=now,
    )
    uow.emit(
        IssueResolved(
            issue_id=issue_id,
            assignment=a["id"],
            role=a["role"],
            unit_id=unit.id,
            resolution=resolution,
            linked_to=None,
            resolved_at=now,
        )
    )
    if a["role"] != "lead":
        return
    feedback_due = now + context.rules.feedback_within
    store.change_case(
        uow.conn,
        issue_id,
        state="resolved",
        resolution=resolution,
        resolved_at=now,
        feedback_due=feedback_due,
        updated_at=now,
    )
    for twin in store.linked_to(uow.conn, issue_id):
        store.change_case(
            uow.conn,
            twin["issue_id"],
            state="resolved",
            resolution=resolution,
            resolved_at=now,
            feedback_due=feedback_due,
            updated_at=now,
        )
        uow.emit(
            IssueResolved(
                issue_id=twin["issue_id"],
                assignment=a["id"],
                role="lead",
                unit_id=unit.id,
                resolution=resolution,
                linked_to=issue_id,
                resolved_at=now,
            )
        )
    took = (now - (a["claimed_at"] or a["dispatched_at"])).total_seconds()
    uow.on_commit(
        lambda: (
            metrics.RESOLVED.labels(case["street"], unit.id).inc(),
            metrics.RESOLVE_SECONDS.labels(case["street"]).observe(took),
        )
    )


def supervises(context, unit: Unit, case: dict) -> bool:
    """Street office of the issue's street, a district leader, or anyone above the lead unit."""
    d = context.directory
    if unit.type == "district_leader" or unit.id == rules.street_office(d, case["street"]).id:
        return True
    above, current = set(), case["lead_unit_id"]
    while current and current in d.units:
        current = d.units[current].supervisor
        above.add(current)
    return unit.id in above


def retier(uow: UnitOfWork, context, issue_id: str, unit: Unit, tier: str, reason: str) -> None:
    """A supervisor moves the issue to another tier; it goes to that tier's lead unit."""
    case = _case(uow, issue_id)
    if not supervises(context, unit, case):
        raise model.Forbidden(f"{unit.id} does not supervise issue {issue_id}")
    model.after("retier", case["state"], model.CASE, "issue")
    if tier == case["tier"]:
        return
    now = context.clock()
    for a in store.assignments_of(uow.conn, issue_id):
        if a["state"] in ("dispatched", "claimed"):
            store.change_assignment(uow.conn, a["id"], state="withdrawn", finished_at=now)
    store.change_case(uow.conn, issue_id, tier=tier, updated_at=now)
    uow.emit(
        IssueRetiered(
            issue_id=issue_id,
            from_tier=case["tier"],
            to_tier=tier,
            reason=reason,
            by_unit_id=unit.id,
            at=now,
        )
    )
    routing.route(uow, context, {**case, "tier": tier}, now)


def triage(uow: UnitOfWork, context, issue_id: str, unit: Unit, category: str, flags: dict) -> None:
    """The street office sets the category the keywords could not find."""
    case = _street_office_case(uow, context, issue_id, unit)
    model.after("triage", case["state"], model.CASE, "issue")
    if category not in context.directory.categories:
        raise model.Invalid({"category": [f"unknown category {category!r}"]})
    now = context.clock()
    flags = {**case["flags"], **flags}
    tier = rules.tier_for(context.directory, context.rules, category, flags)
    store.change_case(uow.conn, issue_id, category=category, flags=flags, tier=tier, updated_at=now)
    routing.route(uow, context, {**case, "category": category, "flags": flags, "tier": tier}, now)


def arbitrate(uow: UnitOfWork, context, issue_id: str, unit: Unit, chosen_unit_id: str) -> None:
    """The street office's forced assignment: the chosen unit cannot return it."""
    case = _street_office_case(uow, context, issue_id, unit)
    model.after("arbitrate", case["state"], model.CASE, "issue")
    chosen = context.directory.units.get(chosen_unit_id)
    if chosen is None:
        raise model.Invalid({"unit_id": [f"unknown unit {chosen_unit_id!r}"]})
    routing.send(uow, context, case, chosen, "lead", True, context.clock())


def _street_office_case(uow: UnitOfWork, context, issue_id: str, unit: Unit) -> dict:
    case = _case(uow, issue_id)
    if unit.id != rules.street_office(context.directory, case["street"]).id:
        raise model.Forbidden(f"only the street office of {case['street']} may do this")
    return case
