"""Notify's decisions: who is told about what, when a resident may be disturbed, and when to
try again. The words are in templates (templates.py); this file only decides."""

from __future__ import annotations

import random
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from district.directory import Unit

LOCAL_TIME = ZoneInfo("Asia/Shanghai")
_DELIVERY_NAMESPACE = uuid.UUID("6f1b7c1e-4a53-4c8e-9c3e-2b0d4d1f0a11")
RESIDENT = "resident"


@dataclass(frozen=True)
class Recipient:
    unit_id: str  # the unit, or "resident"
    key: str  # stable per (event, person): part of the delivery's identity
    address: str
    channel: str = "sms"
    fallback: str | None = None  # an email address to try when this channel fails


def delivery_id(event_id: str, recipient_key: str, channel: str) -> str:
    """Stable for one (event, recipient, channel): the provider's idempotency key too."""
    return str(uuid.uuid5(_DELIVERY_NAMESPACE, f"{event_id}|{recipient_key}|{channel}"))


def reference(issue_id: str) -> str:
    """The short issue reference printed in messages."""
    return issue_id.replace("-", "")[:8]


class UnknownUnit(LookupError):
    """An event names a unit notify's directory does not have: the services' directory files
    are out of step. Nobody can be told, so the notice fails as undeliverable."""

    def __init__(self, unit_id: str):
        super().__init__(unit_id)
        self.unit_id = unit_id


def _unit(units: Mapping[str, Unit], unit_id: str) -> list[Recipient]:
    """Every contact by SMS (email if SMS fails), and the unit's own system if it has a webhook.
    Both come from notify's directory: events name the unit only, so no phone rides the bus."""
    unit = units.get(unit_id)
    if unit is None:
        raise UnknownUnit(unit_id)
    # Keys by position, as before contacts left the bus: a redelivered event keeps its delivery ids.
    told = [
        Recipient(unit.id, f"unit:{unit.id}:{i}", c.phone, "sms", c.email)
        for i, c in enumerate(unit.contacts)
    ]
    if unit.webhook_url:
        told.append(Recipient(unit.id, f"unit:{unit.id}:webhook", unit.webhook_url, "webhook"))
    return told


def _resident(issue_id: str, payload: dict) -> list[Recipient]:
    """The consenting resident's phone is the one a resident event carries: intake alone keeps it."""
    return [Recipient(RESIDENT, f"resident:{issue_id}", payload["phone"])]


# Who is told what: the routing table from event type to recipients, given the directory's units.
ROUTES = {
    "issue.dispatched": lambda issue_id, p, units: _unit(units, p["unit_id"]),
    "issue.escalated": lambda issue_id, p, units: _unit(units, p["to_unit_id"]),
    "issue.warned": lambda issue_id, p, units: _unit(units, p["to_unit_id"]),
    "resident.acknowledged": lambda issue_id, p, units: _resident(issue_id, p),
    "resident.feedback_requested": lambda issue_id, p, units: _resident(issue_id, p),
    "resident.closed": lambda issue_id, p, units: _resident(issue_id, p),
}


def recipients(
    event_type: str, issue_id: str, payload: dict, units: Mapping[str, Unit]
) -> list[Recipient]:
    """Raises UnknownUnit when the event's unit is not in `units`."""
    return ROUTES[event_type](issue_id, payload, units)


def quiet_until(now: datetime, recipient: Recipient, quiet: tuple[time, time]) -> datetime | None:
    """Residents are not woken: inside quiet hours (22:00–07:00 by default) a message waits
    until they end. Units and leaders are told at once, night or day."""
    if recipient.unit_id != RESIDENT:
        return None
    start, end = quiet
    local = now.astimezone(LOCAL_TIME)
    clock = local.time()
    inside = (start <= clock or clock < end) if start > end else (start <= clock < end)
    if not inside:
        return None
    day = local.date() + timedelta(days=1) if clock >= end and start > end else local.date()
    return datetime.combine(day, end, LOCAL_TIME)


def retry_at(now: datetime, attempts: int, base: float, retry_after: float | None) -> datetime:
    """Exponential backoff with full jitter; a provider's Retry-After wins when it is longer."""
    delay = random.uniform(0, base * 2 ** (attempts - 1))
    if retry_after is not None:
        delay = max(delay, retry_after)
    return now + timedelta(seconds=delay)
