"""What escalation publishes."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import ClassVar


@dataclass(frozen=True)
class IssueEscalated:
    """A deadline passed; the issue moved one level up the ladder to `to_unit_id`. Units travel
    by id only: notify finds their contacts and webhook in the directory."""

    type: ClassVar[str] = "issue.escalated"
    issue_id: str
    clock: str
    assignment: int
    level: int
    reason: str
    from_unit_id: str
    to_unit_id: str
    to_unit_name: str
    missed_deadline: datetime
    next_deadline: datetime
    escalated_at: datetime


@dataclass(frozen=True)
class IssueClockArmed:
    """A claim or resolve deadline was set, or moved to the next level's."""

    type: ClassVar[str] = "issue.clock_armed"
    issue_id: str
    clock: str
    assignment: int
    level: int
    unit_id: str
    due_at: datetime


@dataclass(frozen=True)
class IssueWarned:
    """A deadline is near (or, at fraction 1, supervision ran over): tell the unit or its
    supervisor, named by id, like every unit on the bus."""

    type: ClassVar[str] = "issue.warned"
    issue_id: str
    clock: str
    level: int
    fraction: float
    to_unit_id: str
    to_unit_name: str
    deadline: datetime
    warned_at: datetime


@dataclass(frozen=True)
class SupervisionOpened:
    """The issue reached the district leader in charge: supervision (督辦) with its own deadline."""

    type: ClassVar[str] = "issue.supervision_opened"
    issue_id: str
    leader_id: str
    due_at: datetime
    opened_at: datetime


@dataclass(frozen=True)
class SupervisionClosed:
    type: ClassVar[str] = "issue.supervision_closed"
    issue_id: str
    by_unit_id: str
    reason: str
    closed_at: datetime


@dataclass(frozen=True)
class DeadlineExtended:
    type: ClassVar[str] = "issue.deadline_extended"
    issue_id: str
    clock: str
    by_unit_id: str
    reason: str
    from_due: datetime
    to_due: datetime
    extended_at: datetime
