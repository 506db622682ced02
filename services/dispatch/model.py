"""Dispatch's core: the case (one per issue) and its assignments (one per unit sent it), each
with its lifecycle as a table, and who may act on them. No I/O."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from district.directory import Directory, Unit
from services.dispatch import rules
from shared.errors import Conflict, Forbidden, Invalid

RETURN_REASONS = ("wrong_function", "wrong_place", "unclear_ownership")
OPEN_CASE_STATES = ("triage", "arbitration", "dispatched", "claimed")
OPEN_ASSIGNMENT_STATES = ("dispatched", "claimed", "awaiting_resident")

# An assignment's lifecycle: action -> (states it is allowed in, the state it leads to).
ASSIGNMENT = {
    "claim": ({"dispatched"}, "claimed"),
    "return": ({"dispatched"}, "returned"),
    "note": ({"claimed", "awaiting_resident"}, None),
    "await": ({"claimed"}, "awaiting_resident"),
    "resume": ({"awaiting_resident"}, "claimed"),
    "resolve": ({"claimed"}, "resolved"),
}
# The issue's own lifecycle: action -> (states it is allowed in, the state it leads to).
CASE = {
    "triage": ({"triage"}, "dispatched"),
    "arbitrate": ({"arbitration"}, "dispatched"),
    "retier": ({"dispatched", "claimed"}, None),
    "urge": ({"dispatched", "claimed"}, None),
    "feedback": ({"resolved"}, None),
}


class InvalidTransition(Conflict):
    """The lifecycle does not allow the action in the current state, which the answer names."""

    def __init__(self, action: str, state: str, what: str = "assignment"):
        article = "an" if what[0] in "aeiou" else "a"
        super().__init__(f"cannot {action} {article} {what} that is {state}", state)
        self.action = action


class UnknownReference(Invalid):
    """A well-formed request naming something that does not exist (an unknown unit or category)."""

    def __init__(self, errors: dict):
        super().__init__("; ".join(f"{k}: {v[0]}" for k, v in errors.items()), errors)


def after(action: str, state: str, table: dict, what: str) -> str:
    """The state after `action`, or InvalidTransition naming the current state."""
    allowed, result = table[action]
    if state not in allowed:
        raise InvalidTransition(action, state, what)
    return result if result is not None else state


@dataclass(frozen=True)
class Assignment:
    """One unit sent the issue, as lead or as a co-unit of a big matter (聯辦)."""

    id: int | None  # numbered by the store when it is added
    issue_id: str
    unit_id: str
    role: str
    forced: bool  # the street office's arbitration: the unit cannot return it
    state: str
    dispatched_at: datetime
    return_reason: str | None = None
    resolution: str | None = None
    claimed_at: datetime | None = None
    finished_at: datetime | None = None
    part_claim_due: datetime | None = None  # a co-handling part's own deadlines
    part_resolve_due: datetime | None = None

    @property
    def is_lead(self) -> bool:
        return self.role == "lead"

    def next_state(self, action: str) -> str:
        """The state `action` leads to, or InvalidTransition if it is not allowed now."""
        return after(action, self.state, ASSIGNMENT, "assignment")

    def claimed(self, now: datetime) -> Assignment:
        return replace(self, state=self.next_state("claim"), claimed_at=now)

    def returned(self, reason: str, now: datetime) -> Assignment:
        if self.forced:
            raise InvalidTransition("return", "forced by arbitration")
        return replace(self, state=self.next_state("return"), return_reason=reason, finished_at=now)

    def awaiting_resident(self) -> Assignment:
        return replace(self, state=self.next_state("await"))

    def resumed(self) -> Assignment:
        return replace(self, state=self.next_state("resume"))

    def resolved(self, resolution: str, now: datetime) -> Assignment:
        return replace(
            self, state=self.next_state("resolve"), resolution=resolution, finished_at=now
        )

    @property
    def withdrawable(self) -> bool:
        """A re-tier takes back what is still being worked, not what was returned or done."""
        return self.state in ("dispatched", "claimed")

    def withdrawn(self, now: datetime) -> Assignment:
        return replace(self, state="withdrawn", finished_at=now)

    def seconds_to_claim(self, now: datetime) -> float:
        return (now - self.dispatched_at).total_seconds()

    def seconds_to_resolve(self, now: datetime) -> float:
        return (now - (self.claimed_at or self.dispatched_at)).total_seconds()


@dataclass(frozen=True)
class Case:
    """One issue as dispatch keeps it: where it is, who leads it, where its lifecycle stands."""

    issue_id: str
    state: str
    category: str | None
    tier: str | None
    flags: dict  # the tier rules' answers (households_affected, ...)
    description: str
    street: str
    place_id: str
    duplicate_key: str | None
    submitted_at: datetime
    updated_at: datetime
    building: str | None = None  # as the resident named it; the unit's SMS says it
    lead_unit_id: str | None = None
    returns: int = 0
    reopened: int = 0
    linked_to: str | None = None  # the primary issue of a twin
    meeting_id: str | None = None
    promised_by: datetime | None = None  # what the work day promised the resident
    escalation_level: int = 0
    claim_due: datetime | None = None
    resolve_due: datetime | None = None
    resolution: str | None = None
    closed_reason: str | None = None
    resolved_at: datetime | None = None
    feedback_due: datetime | None = None

    @classmethod
    def submitted(
        cls, issue_id: str, submission: dict, category: str | None, place_id: str, now: datetime
    ) -> Case:
        """A new issue as `issue.submitted` brings it; it waits in triage until it is routed."""
        location = submission["location"]
        return cls(
            issue_id=issue_id,
            state="triage",
            category=category,
            tier=None,
            flags=flags_from(submission["attributes"]),
            description=submission["description"],
            street=location["street"],
            place_id=place_id,
            building=location.get("building"),
            duplicate_key=duplicate_key(location),
            meeting_id=submission["meeting_id"],
            promised_by=submission["promised_by"],
            submitted_at=submission["submitted_at"] or now,
            updated_at=now,
        )

    # Who may act.

    def street_office(self, directory: Directory) -> Unit:
        return rules.street_office(directory, self.street)

    def supervised_by(self, unit: Unit, directory: Directory) -> bool:
        """Street office of the issue's street, a district leader, or anyone above the lead."""
        return (
            unit.type == "district_leader"
            or unit.id == self.street_office(directory).id
            or (self.lead_unit_id is not None and directory.is_above(unit.id, self.lead_unit_id))
        )

    def check_supervised_by(self, unit: Unit, directory: Directory) -> None:
        if not self.supervised_by(unit, directory):
            raise Forbidden(f"{unit.id} does not supervise issue {self.issue_id}")

    def check_street_office(self, unit: Unit, directory: Directory) -> None:
        if unit.id != self.street_office(directory).id:
            raise Forbidden(f"only the street office of {self.street} may do this")

    def is_overdue(self, now: datetime) -> bool:
        """Unclaimed past its claim deadline, or claimed and unresolved past its resolve one."""
        if self.state in ("triage", "arbitration", "dispatched"):
            return self.claim_due is not None and self.claim_due < now
        return self.state == "claimed" and self.resolve_due is not None and self.resolve_due < now

    # Its lifecycle.

    def next_state(self, action: str) -> str:
        """The state `action` leads to, or InvalidTransition if it is not allowed now."""
        return after(action, self.state, CASE, "issue")

    @property
    def awaits_feedback(self) -> bool:
        return self.state in CASE["feedback"][0]

    def linked(self, primary: Case) -> Case:
        """The same problem twice: it follows its primary, and is not dispatched again."""
        return replace(
            self,
            state="linked",
            linked_to=primary.issue_id,
            tier=primary.tier,
            lead_unit_id=primary.lead_unit_id,
        )

    def tiered(self, tier: str) -> Case:
        return replace(self, tier=tier)

    def dispatched_to(self, unit_id: str, now: datetime) -> Case:
        return replace(self, state="dispatched", lead_unit_id=unit_id, updated_at=now)

    def in_arbitration(self, now: datetime) -> Case:
        return replace(self, state="arbitration", updated_at=now)

    def claimed(self, now: datetime) -> Case:
        return replace(self, state="claimed", updated_at=now)

    def returned_by(self, assignment: Assignment, now: datetime) -> Case:
        """Only the lead's returns count towards arbitration; a co-unit's leaves the lead."""
        return replace(self, returns=self.returns + assignment.is_lead, updated_at=now)

    def returned_too_often(self, max_returns: int) -> bool:
        return self.returns > max_returns

    def resolved(self, resolution: str, now: datetime, feedback_within: timedelta) -> Case:
        return replace(
            self,
            state="resolved",
            resolution=resolution,
            resolved_at=now,
            feedback_due=now + feedback_within,
            updated_at=now,
        )

    def retiered(self, tier: str, now: datetime) -> Case:
        self.next_state("retier")
        return replace(self, tier=tier, updated_at=now)

    def triaged(self, category: str, flags: dict, tier: str, now: datetime) -> Case:
        return replace(
            self,
            state=self.next_state("triage"),
            category=category,
            flags=flags,
            tier=tier,
            updated_at=now,
        )

    def reopened_higher(self, now: datetime) -> Case:
        """A dissatisfied resident: one tier higher, no longer a twin, waiting for its lead."""
        return replace(
            self,
            tier=rules.higher(self.tier),
            reopened=self.reopened + 1,
            linked_to=None,
            resolution=None,
            feedback_due=None,
            updated_at=now,
        )

    def closed(self, reason: str, now: datetime) -> Case:
        return replace(self, state="closed", closed_reason=reason, updated_at=now)

    def promised(self, by: datetime, now: datetime) -> Case:
        """A work day promised the resident it would be done `by` then."""
        return replace(self, promised_by=by, updated_at=now)

    def escalated(self, level: int) -> Case:
        return replace(self, escalation_level=max(self.escalation_level, level))

    def due(self, clock: str, due_at: datetime) -> Case:
        """The claim and resolve deadlines, for the work-day agenda's "overdue": a lead's
        first claim deadline as dispatch names it, the rest as escalation arms them."""
        return replace(self, **{f"{clock}_due": due_at})


def duplicate_key(location: dict) -> str | None:
    """Same building, or same compound when no building is named: the same problem twice."""
    if location.get("building") and (location.get("compound") or location.get("community")):
        return f"{location.get('compound') or location.get('community')}/{location['building']}"
    if location.get("compound"):
        return location["compound"]
    return None


def place_of(directory: Directory, location: dict) -> str:
    """The most specific place of the location that the directory knows."""
    for key in ("building", "compound", "community"):
        if location.get(key) in directory.places:
            return location[key]
    return location["street"]


def flags_from(attributes: dict) -> dict:
    """The tier rules' flags, from the answers a submission carries."""
    return {
        "households_affected": int(float(attributes.get("households_affected") or 0)),
        "needs_several_departments": _yes(attributes.get("needs_several_departments", "")),
        "repeated_complaint": _yes(
            attributes.get("repeated") or attributes.get("repeated_complaint") or ""
        ),
    }


def _yes(answer) -> bool:
    return str(answer).lower() in ("yes", "true", "1")


def office_street(unit: Unit, directory: Directory) -> str:
    """The street a street office answers for; any other unit is refused."""
    if unit.type != "street_office":
        raise Forbidden("only a street office may do this")
    return next(p for p in unit.covers if p in directory.streets)
