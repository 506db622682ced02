"""What dispatch publishes."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import ClassVar


@dataclass(frozen=True)
class IssueDispatched:
    """Sent to one unit, which must claim it. `assignment` counts dispatches of one issue."""

    type: ClassVar[str] = "issue.dispatched"
    issue_id: str
    assignment: int
    unit_id: str
    unit_name: str
    unit_contacts: list
    supervisor_id: str | None
    tier: str
    category: str
    category_name: str
    street: str
    place_id: str
    place_name: str
    dispatched_at: datetime


@dataclass(frozen=True)
class IssueClaimed:
    type: ClassVar[str] = "issue.claimed"
    issue_id: str
    assignment: int
    unit_id: str
    tier: str
    street: str
    claimed_at: datetime


@dataclass(frozen=True)
class IssueResolved:
    type: ClassVar[str] = "issue.resolved"
    issue_id: str
    assignment: int
    unit_id: str
    resolution: str
    resolved_at: datetime
