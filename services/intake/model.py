"""Intake's view of an issue's life: the issue as intake keeps it, and pure decisions; no I/O."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime

# An issue only moves forward here; events may arrive out of order, so a late
# "dispatched" never takes a claimed issue back.
STATUS_RANK = {"received": 0, "dispatched": 1, "claimed": 2, "resolved": 3, "closed": 4}
STATUS_AFTER = {
    "issue.dispatched": "dispatched",
    "issue.claimed": "claimed",
    "issue.resolved": "resolved",
    "issue.closed": "closed",
}
OPEN311_CLOSED = {"resolved", "closed"}
QUIET_EVENTS = {"issue.clock_armed"}  # they set deadlines; the timeline shows what people did
LOCATION_KEYS = ("street", "community", "compound", "building", "address", "lat", "lon")


@dataclass(frozen=True)
class Issue:
    """An issue as a gateway submitted it, and its public view: status, tier, the unit it is
    assigned to, its deadlines and escalation level, as the other services' events move them."""

    id: str
    gateway: str | None
    external_id: str | None
    channel: str
    title: str | None
    description: str
    category: str | None
    street: str
    community: str | None
    compound: str | None
    building: str | None
    address: str | None
    lat: float | None
    lon: float | None
    media_urls: list[str]
    attributes: dict
    extra_attributes: dict  # the gateway's own, which its category does not ask for: unpublished
    status: str
    tier: str | None
    assigned_unit_id: str | None
    assigned_unit_name: str | None
    escalation_level: int
    claim_deadline: datetime | None
    resolve_deadline: datetime | None
    status_note: str | None
    reopened_at: datetime | None
    submitted_at: datetime
    updated_at: datetime
    # co-handling parts (聯辦) by assignment: unit, state, its own deadlines
    parts: dict = field(default_factory=dict)

    @classmethod
    def received(cls, issue_id: str, gateway: str | None, submission: dict, at: datetime) -> Issue:
        """A new issue from a checked submission, not yet dispatched."""
        location = submission["location"]
        return cls(
            id=issue_id,
            gateway=gateway,
            external_id=submission.get("external_id"),
            channel=submission["channel"],
            title=submission.get("title"),
            description=submission["description"],
            category=submission.get("category"),
            **{key: location.get(key) for key in LOCATION_KEYS},
            media_urls=submission.get("media_urls") or [],
            attributes=submission.get("attributes") or {},
            extra_attributes=submission.get("extra_attributes") or {},
            status="received",
            tier=None,
            assigned_unit_id=None,
            assigned_unit_name=None,
            escalation_level=0,
            claim_deadline=None,
            resolve_deadline=None,
            status_note=None,
            reopened_at=None,
            submitted_at=at,
            updated_at=at,
        )

    @property
    def location(self) -> dict:
        """Where it is, as submitted: only the parts that were given."""
        return {key: getattr(self, key) for key in LOCATION_KEYS if getattr(self, key) is not None}

    @property
    def open311_status(self) -> str:
        return "closed" if self.status in OPEN311_CLOSED else "open"

    def after(self, event_type: str, payload: dict, occurred_at: datetime) -> Issue:
        """The issue as an event about it leaves it."""
        return replace(self, **self._changes(event_type, payload, occurred_at))

    def _parts_after(self, event_type: str, payload: dict) -> dict | None:
        """The parts as the event leaves them, or None when it is not about a part."""
        found = _part_key(event_type, payload)
        if found is None:
            return None
        number, what = found
        co = payload.get("role") == "co" or (
            event_type == "issue.returned" and number in self.parts
        )
        if what == "state" and not (
            co and (number in self.parts or event_type == "issue.dispatched")
        ):
            return None
        part = dict(self.parts.get(number) or {})
        if what == "state":
            part.update(state=PART_STATES[event_type], unit_id=payload["unit_id"])
            if payload.get("unit_name"):
                part["unit_name"] = payload["unit_name"]
        else:
            part[what] = payload["due_at"].isoformat()
        return {**self.parts, number: part}

    def _changes(self, event_type: str, payload: dict, occurred_at: datetime) -> dict:
        """The fields of the public view that an event changes. A reopening starts the status
        over; events from before it no longer move the status."""
        if event_type == "issue.reopened":
            return {
                "status": "dispatched",
                "tier": payload["tier"],
                "reopened_at": occurred_at,
                "status_note": None,
            }
        stale = self.reopened_at is not None and occurred_at < self.reopened_at
        parts = self._parts_after(event_type, payload)
        if parts is not None:
            return {"parts": parts}  # a part's event moves the part, not the issue
        lead = payload.get("role", "lead") == "lead"
        if event_type in ("issue.claimed", "issue.resolved") and not lead:
            stale = True  # a co-unit's part does not move the issue
        found = {} if stale else {"status": next_status(self.status, event_type)}
        if event_type == "issue.dispatched" and lead and not stale:
            found.update(
                assigned_unit_id=payload["unit_id"],
                assigned_unit_name=payload["unit_name"],
                tier=payload["tier"],
                category=self.category or payload["category"],
            )
            if payload.get("claim_due_at"):  # dispatch names it; older events left it to
                found["claim_deadline"] = payload["claim_due_at"]  # escalation's clock_armed
        elif event_type == "issue.escalated":
            found["escalation_level"] = max(self.escalation_level, payload["level"])
            found["status_note"] = summary(event_type, payload)
        elif event_type == "issue.resolved" and not stale:
            found["status_note"] = payload["resolution"] or None
        elif event_type == "issue.progress_noted":
            found["status_note"] = payload["note"]
        elif event_type == "issue.retiered":
            found["tier"] = payload["to_tier"]
        elif event_type == "issue.linked":
            found["status_note"] = (
                f"linked to {payload['primary_issue_id']}, the same problem already open"
            )
        elif event_type == "issue.clock_armed" and payload["clock"] in ("claim", "resolve"):
            found[f"{payload['clock']}_deadline"] = payload["due_at"]
        return found


PART_STATES = {
    "issue.dispatched": "dispatched",
    "issue.claimed": "claimed",
    "issue.resolved": "resolved",
    "issue.returned": "returned",
}


def _part_key(event_type: str, payload: dict) -> tuple[str, str] | None:
    """(assignment, what it sets) when the event is about a co-handling part, else None."""
    if event_type == "issue.clock_armed":
        kind, _, number = payload["clock"].partition("@")
        return (number, f"{kind}_deadline") if number.isdigit() else None
    if event_type in PART_STATES and payload.get("assignment") is not None:
        return str(payload["assignment"]), "state"
    return None


def next_status(current: str, event_type: str) -> str:
    proposed = STATUS_AFTER.get(event_type)
    if proposed is None or STATUS_RANK[proposed] <= STATUS_RANK[current]:
        return current
    return proposed


def summary(event_type: str, payload: dict) -> str:
    """One line for the public timeline: units and levels, never people."""
    if event_type == "issue.submitted":
        return "received"
    if event_type == "issue.dispatched":
        part = " (co-handling)" if payload.get("role") == "co" else ""
        return f"dispatched to {payload.get('unit_name') or payload['unit_id']}{part}"
    if event_type == "issue.claimed":
        return f"claimed by {payload['unit_id']}"
    if event_type == "issue.resolved":
        return f"resolved by {payload['unit_id']}"
    if event_type == "issue.escalated":
        return (
            f"escalated to level {payload['level']} "
            f"({payload.get('to_unit_name') or payload['to_unit_id']}): {payload['reason']}"
        )
    if event_type == "issue.returned":
        return f"returned by {payload['unit_id']}: {payload['reason']}"
    if event_type == "issue.progress_noted":
        return f"progress from {payload['unit_id']}: {payload['note']}"
    if event_type == "issue.urged":  # the supervisor's words stay between units
        return f"urged (督办) by {payload.get('by_unit_name') or payload['by_unit_id']}"
    if event_type == "issue.closed":
        return f"closed ({payload['reason']})"
    if event_type == "issue.reopened":
        return f"reopened at tier {payload['tier']}: the resident was not satisfied"
    if event_type == "issue.retiered":
        moved = f"moved from tier {payload['from_tier']} to {payload['to_tier']}"
        return f"{moved} by {payload['by_unit_id']}: {payload['reason']}"
    if event_type == "issue.linked":
        return f"linked to the open issue {payload['primary_issue_id']}"
    if event_type == "issue.supervision_opened":
        return f"under the supervision (督办) of {payload['leader_id']}"
    if event_type == "issue.supervision_closed":
        return f"supervision closed by {payload['by_unit_id']}: {payload['reason']}"
    if event_type == "issue.deadline_extended":
        return (
            f"{payload['clock']} deadline extended by {payload['by_unit_id']}: {payload['reason']}"
        )
    if event_type == "issue.awaiting_resident":
        return f"{payload['unit_id']} is waiting for the resident: {payload['note']}"
    if event_type == "issue.resident_replied":
        return "the resident replied"
    if event_type == "issue.feedback_given":
        verdict = "satisfied" if payload["satisfied"] else "not satisfied"
        return f"resident {verdict}, rated {payload['rating']}/5"
    if event_type == "notification.sent":
        recipient = payload.get("recipient_unit_id") or "recipient"
        return f"{recipient} notified by {payload.get('channel')}"
    if event_type == "notification.failed":
        recipient = payload.get("recipient_unit_id") or "recipient"
        return f"notifying {recipient} failed: {payload.get('reason')}"
    return event_type


class Unlocatable(ValueError):
    """Open311 gave a location that names no place of the directory."""


def locate(
    directory,
    address_id: str | None,
    address_string: str | None,
    lat: float | None,
    lon: float | None,
) -> dict:
    """A v1 location from Open311's address_id, address_string or coordinates, in that order."""
    if address_id:
        if address_id not in directory.places:
            raise Unlocatable(f"address_id {address_id!r} is not a place of this district")
        return _location_of(directory, address_id)
    if address_string:
        named = sorted(
            (p for p in directory.places.values() if p.kind != "district"),
            key=lambda p: -len(p.name),
        )
        for place in named:
            if place.name in address_string or place.id in address_string:
                return {**_location_of(directory, place.id), "address": address_string}
        if lat is None:
            raise Unlocatable(
                "address_string names no street, community or compound of this district"
            )
    if lat is not None and lon is not None:
        streets = [p for p in directory.places.values() if p.kind == "street" and p.centroid]
        nearest = min(
            streets, key=lambda p: (p.centroid[0] - lat) ** 2 + (p.centroid[1] - lon) ** 2
        )
        location = {"street": nearest.id, "lat": lat, "lon": lon}
        return {**location, "address": address_string} if address_string else location
    raise Unlocatable("give lat and long, address_string or address_id")


def _location_of(directory, place_id: str) -> dict:
    location = {}
    for place in directory.lineage(place_id):
        kind = directory.places[place].kind
        if kind in ("street", "community", "compound", "building"):
            location[kind] = place
    return location
