"""What dispatch publishes: every transition of an issue, with the unit that acted."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import ClassVar


@dataclass(frozen=True)
class IssueDispatched:
    """Sent to one unit, which must claim it. `assignment` numbers the dispatches of one issue;
    `role` is lead, or co for a department handling its part of a big matter (聯辦).
    The unit travels by id only: its contacts and webhook are directory data, which notify
    resolves itself, so no phone rides to every queue bound to this event.
    `claim_due_at`, a lead's only: when it must have claimed, by the district's time limits
    (district/policies.py). Escalation holds the unit to it and its SMS names it, so no
    second event has to announce it (a co-handling part's deadline still comes from
    escalation, in issue.clock_armed)."""

    type: ClassVar[str] = "issue.dispatched"
    issue_id: str
    assignment: int
    role: str
    forced: bool
    unit_id: str
    unit_name: str
    supervisor_id: str | None
    overseer_id: str | None
    tier: str
    category: str
    category_name: str
    street: str
    place_id: str
    place_name: str
    building: str | None  # the building the resident named, which the directory may not know
    description: str  # the resident's words, phone numbers masked (they reach every queue)
    promised_by: datetime | None
    meeting_id: str | None
    dispatched_at: datetime
    claim_due_at: datetime | None


@dataclass(frozen=True)
class IssueClaimed:
    type: ClassVar[str] = "issue.claimed"
    issue_id: str
    assignment: int
    role: str
    unit_id: str
    tier: str
    street: str
    promised_by: datetime | None
    claimed_at: datetime


@dataclass(frozen=True)
class IssueReturned:
    """A unit sent it back (退單); dispatch sends it to the next candidate or to arbitration."""

    type: ClassVar[str] = "issue.returned"
    issue_id: str
    assignment: int
    unit_id: str
    reason: str
    note: str | None
    returns: int
    returned_at: datetime


@dataclass(frozen=True)
class ArbitrationNeeded:
    type: ClassVar[str] = "issue.arbitration_needed"
    issue_id: str
    street_office_id: str
    returns: int
    at: datetime


@dataclass(frozen=True)
class TriageNeeded:
    type: ClassVar[str] = "issue.triage_needed"
    issue_id: str
    street_office_id: str
    at: datetime


@dataclass(frozen=True)
class ProgressNoted:
    type: ClassVar[str] = "issue.progress_noted"
    issue_id: str
    unit_id: str
    note: str
    noted_at: datetime


@dataclass(frozen=True)
class IssueUrged:
    """A supervisor (the unit an escalation reached, the street office, a district leader)
    pressed the unit in charge, with words notify passes on to it by SMS (督办意见)."""

    type: ClassVar[str] = "issue.urged"
    issue_id: str
    assignment: int
    unit_id: str
    by_unit_id: str
    by_unit_name: str
    note: str
    urged_at: datetime


@dataclass(frozen=True)
class IssueResolved:
    type: ClassVar[str] = "issue.resolved"
    issue_id: str
    assignment: int
    role: str
    unit_id: str
    resolution: str
    linked_to: str | None
    resolved_at: datetime


@dataclass(frozen=True)
class IssueClosed:
    type: ClassVar[str] = "issue.closed"
    issue_id: str
    reason: str  # satisfied, no_feedback, with_linked
    linked_to: str | None
    closed_at: datetime


@dataclass(frozen=True)
class IssueReopened:
    """The resident was not satisfied: back to the same lead unit, one tier higher."""

    type: ClassVar[str] = "issue.reopened"
    issue_id: str
    tier: str
    reopened_at: datetime


@dataclass(frozen=True)
class IssueRetiered:
    type: ClassVar[str] = "issue.retiered"
    issue_id: str
    from_tier: str
    to_tier: str
    reason: str
    by_unit_id: str
    at: datetime


@dataclass(frozen=True)
class IssueLinked:
    """The same problem at the same place is already open: this one follows it."""

    type: ClassVar[str] = "issue.linked"
    issue_id: str
    primary_issue_id: str
    linked_at: datetime


@dataclass(frozen=True)
class AwaitingResident:
    """The unit waits for the resident (access, documents); the resolve clock stands still."""

    type: ClassVar[str] = "issue.awaiting_resident"
    issue_id: str
    unit_id: str
    note: str
    at: datetime


@dataclass(frozen=True)
class ResidentReplied:
    type: ClassVar[str] = "issue.resident_replied"
    issue_id: str
    unit_id: str
    at: datetime


@dataclass(frozen=True)
class UnitTokenIssued:
    """A unit got a token here; other services keep its hash so the unit can act there too.
    The envelope is issue-centred, so its issue_id is `unit:<unit id>`."""

    type: ClassVar[str] = "unit.token_issued"
    issue_id: str
    unit_id: str
    token_hash: str
    issued_at: datetime


@dataclass(frozen=True)
class UnitTokenRevoked:
    """A unit's token stops working here; escalation, which keeps its hash, stops it too."""

    type: ClassVar[str] = "unit.token_revoked"
    issue_id: str  # `unit:<unit id>`, as for unit.token_issued
    unit_id: str
    token_hash: str
    revoked_at: datetime


@dataclass(frozen=True)
class UnitReplyApplied:
    """What came of a unit's SMS reply (unit.replied): applied, or refused with the reason in
    words the person who replied understands. Notify tells that phone."""

    type: ClassVar[str] = "unit.reply_applied"
    issue_id: str
    inbound_id: str
    unit_id: str
    accepted: bool
    detail: str
