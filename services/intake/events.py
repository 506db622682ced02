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
    title: str | None
    description: str
    category: str | None
    location: dict
    attributes: dict
    media_urls: list
    meeting_id: str | None
    promised_by: datetime | None
    submitted_at: datetime


@dataclass(frozen=True)
class FeedbackGiven:
    """The resident rated the outcome; dispatch closes or reopens the issue on it."""

    type: ClassVar[str] = "issue.feedback_given"
    issue_id: str
    satisfied: bool
    rating: int
    given_at: datetime
