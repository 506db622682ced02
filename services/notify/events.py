"""What notify publishes."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import ClassVar


@dataclass(frozen=True)
class NotificationSent:
    """The provider accepted the message (delivery receipts come later)."""

    type: ClassVar[str] = "notification.sent"
    issue_id: str
    delivery_id: str
    channel: str
    recipient_unit_id: str
    cause_type: str
    provider_message_id: str
    attempts: int
    sent_at: datetime


@dataclass(frozen=True)
class NotificationFailed:
    type: ClassVar[str] = "notification.failed"
    issue_id: str
    delivery_id: str
    channel: str
    recipient_unit_id: str
    cause_type: str
    reason: str
    attempts: int
    final: bool  # false when a fallback channel is still trying
    failed_at: datetime


@dataclass(frozen=True)
class UnitReplied:
    """A unit's contact answered an SMS with an action on one of its assignments (the reply
    code told which); dispatch applies it and answers with unit.reply_applied. No phone rides:
    `inbound_id` is notify's record of the SMS, and of where to send the answer."""

    type: ClassVar[str] = "unit.replied"
    issue_id: str
    assignment: int
    unit_id: str
    action: str  # claim, return, resolve
    text: str  # the return's reason or the resolution, in the unit's words
    inbound_id: str
