"""Escalation's core: an issue's clock (claim, resolve or supervision) and what may move it,
and the escalation step it records; pure, no I/O."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from district.directory import Directory, Unit
from district.policies import ClockPolicy, Policies
from services.escalation.events import IssueClockArmed

REASON_BY_CLOCK = {
    "claim": "claim_overdue",
    "resolve": "resolve_overdue",
    "supervision": "supervision_overdue",
}
RUNNING = ("armed", "paused", "overdue")
PART = "@"  # a co-handling department's part: "claim@<assignment>", "resolve@<assignment>"


def part_clock(kind: str, assignment: int) -> str:
    """The name of a co-handling part's claim or resolve clock (聯辦: each part its own)."""
    return f"{kind}{PART}{assignment}"


@dataclass(frozen=True)
class Lead:
    """The lead unit's assignment on an issue, as dispatch's events name it."""

    issue_id: str
    assignment: int
    unit_id: str
    tier: str
    street: str


@dataclass(frozen=True)
class Clock:
    """One deadline of an issue, owed by `unit_id` at ladder `level` (0: the assigned unit)."""

    issue_id: str
    name: str  # claim, resolve or supervision
    assignment: int
    level: int
    unit_id: str
    tier: str
    street: str
    state: str  # see store.clocks
    due_at: datetime
    policy_version: str
    updated_at: datetime
    category: str | None = None
    paused_seconds: float | None = None  # what was left when the resident began to be awaited

    @classmethod
    def armed(
        cls,
        lead: Lead,
        name: str,
        category: str | None,
        policies: Policies,
        now: datetime,
        due_at: datetime | None = None,
    ) -> Clock:
        """A fresh clock at level 0 from `now`, due by its tier's limit unless `due_at` says
        otherwise (the resolve date a work day promised, the claim deadline a dispatch named)."""
        clock = cls(
            lead.issue_id,
            name,
            lead.assignment,
            0,
            lead.unit_id,
            lead.tier,
            lead.street,
            "armed",
            now,
            policies.version,
            now,
            category,
        )
        return replace(clock, due_at=due_at or policies.deadline(now, clock.policy(policies)))

    @classmethod
    def stopped_unarmed(cls, lead: Lead, name: str, version: str, now: datetime) -> Clock:
        """A stop that overtook its arm: kept, so the late arm is refused as older."""
        return cls(
            lead.issue_id,
            name,
            lead.assignment,
            0,
            lead.unit_id,
            lead.tier,
            lead.street,
            "stopped",
            now,
            version,
            now,
        )

    @classmethod
    def supervision(cls, of: Clock, leader_id: str, policies: Policies, now: datetime) -> Clock:
        """The district leader's own deadline (督辦) over the issue `of` belongs to."""
        return cls(
            of.issue_id,
            "supervision",
            of.assignment,
            0,
            leader_id,
            of.tier,
            of.street,
            "armed",
            policies.deadline(now, policies.supervision),
            policies.version,
            now,
            of.category,
        )

    # Events can arrive shuffled. A clock remembers the assignment it belongs to: a dispatch
    # arms it only for a newer assignment, a claim or resolve stops it for the same or newer.
    def may_arm(self, assignment: int) -> bool:
        return assignment > self.assignment

    def may_stop(self, assignment: int) -> bool:
        return assignment >= self.assignment

    @property
    def running(self) -> bool:
        return self.state in RUNNING

    @property
    def supervising(self) -> bool:
        """Supervision is open (armed, or past its deadline with the leader told)."""
        return self.state in ("armed", "overdue")

    @property
    def kind(self) -> str:
        """claim, resolve or supervision, whether the lead's clock or a part's."""
        return self.name.split(PART, 1)[0]

    @property
    def is_part(self) -> bool:
        return PART in self.name

    def policy(self, policies: Policies) -> ClockPolicy:
        if self.name == "supervision":
            escalated = policies.supervision_escalation.clock
            return escalated if self.level > 0 and escalated else policies.supervision
        return policies.policy_for(self.tier, self.category).limit(self.kind)

    def stopped(self, lead: Lead, now: datetime) -> Clock:
        return replace(
            self,
            assignment=lead.assignment,
            unit_id=lead.unit_id,
            tier=lead.tier,
            street=lead.street,
            state="stopped",
            updated_at=now,
            paused_seconds=None,
        )

    def paused(self, policies: Policies, now: datetime) -> Clock:
        """Stands still while the resident is awaited, keeping what was left in its measure."""
        left = policies.remaining(now, self.due_at, self.policy(policies))
        return replace(self, state="paused", paused_seconds=left.total_seconds(), updated_at=now)

    def resumed(self, policies: Policies, now: datetime) -> Clock:
        """Runs again from `now` for what was left when it paused."""
        left = ClockPolicy(timedelta(seconds=self.paused_seconds), self.policy(policies).working)
        return replace(
            self,
            state="armed",
            due_at=policies.deadline(now, left),
            paused_seconds=None,
            updated_at=now,
        )

    def moved_up(self, unit_id: str, policies: Policies, now: datetime) -> Clock:
        """One level up: the next unit gets the clock's whole limit again from `now` (for
        supervision, `supervision_escalation.within`)."""
        moved = replace(self, level=self.level + 1, unit_id=unit_id, state="armed", updated_at=now)
        return replace(moved, due_at=policies.deadline(now, moved.policy(policies)))

    def extended(self, until: datetime, now: datetime) -> Clock:
        return replace(self, due_at=until, state="armed", updated_at=now)

    def overdue(self, now: datetime) -> Clock:
        """Supervision past due with nobody to escalate it to (`supervision_escalation` is
        `to: none`, finds nobody, or was taken already): its holder is told."""
        return replace(self, state="overdue", updated_at=now)

    def exhausted(self, now: datetime) -> Clock:
        """Past due at the top of its ladder: nobody left to escalate to."""
        return replace(self, state="exhausted", updated_at=now)

    def closed(self, now: datetime) -> Clock:
        return replace(self, state="closed", updated_at=now)

    def armed_event(self) -> IssueClockArmed:
        return IssueClockArmed(
            issue_id=self.issue_id,
            clock=self.name,
            assignment=self.assignment,
            level=self.level,
            unit_id=self.unit_id,
            due_at=self.due_at,
        )


@dataclass(frozen=True)
class Escalation:
    """One step up the ladder, recorded once: unique by (issue, clock, assignment, level)."""

    issue_id: str
    clock: str  # the clock moved, or the kind of a one-off step (reopen, notify, returns)
    assignment: int
    level: int
    reason: str
    from_unit_id: str
    to_unit_id: str
    missed_deadline: datetime
    fired_at: datetime


def may_act(directory: Directory, unit: Unit, clock: Clock) -> bool:
    """Anyone above the clock's unit, the street office of its street, or a district leader."""
    return (
        unit.type == "district_leader"
        or (unit.type == "street_office" and clock.street in unit.covers)
        or directory.is_above(unit.id, clock.unit_id)
    )
