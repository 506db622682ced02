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
