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


@dataclass(frozen=True)
class FeedbackRequested:
    """Ask the resident how it went. Like resident.acknowledged and resident.closed, the three
    events that carry a resident's phone, it is written only for a resident who consented to
    be contacted, and only notify's queue is bound to it."""

    type: ClassVar[str] = "resident.feedback_requested"
    issue_id: str
    phone: str
    resolution: str
    linked_to: str | None
    requested_at: datetime


@dataclass(frozen=True)
class ResidentAcknowledged:
    """Tell the resident (who consented) that their report was received, with its reference."""

    type: ClassVar[str] = "resident.acknowledged"
    issue_id: str
    phone: str
    at: datetime


@dataclass(frozen=True)
class ResidentClosed:
    """Tell the resident (who consented) that the issue is closed."""

    type: ClassVar[str] = "resident.closed"
    issue_id: str
    phone: str
    reason: str
    at: datetime
