"""What escalation publishes."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import ClassVar


@dataclass(frozen=True)
class IssueEscalated:
    """A deadline passed; the issue moved one level up the ladder to `to_unit_id`."""

    type: ClassVar[str] = "issue.escalated"
    issue_id: str
    clock: str
    assignment: int
    level: int
    reason: str
    from_unit_id: str
    to_unit_id: str
    to_unit_name: str
    to_unit_contacts: list
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
