"""What intake publishes."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import ClassVar


@dataclass(frozen=True)
class IssueSubmitted:
    """An issue was accepted. The reporter's name and phone stay in intake's store."""

    type: ClassVar[str] = "issue.submitted"
    issue_id: str
    channel: str
    description: str
    category: str | None
    location: dict
    submitted_at: datetime
