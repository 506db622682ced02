"""Intake's view of an issue's life: pure decisions, no I/O."""
from __future__ import annotations

# An issue only moves forward here; events may arrive out of order, so a late
# "dispatched" never takes a claimed issue back.
STATUS_RANK = {"received": 0, "dispatched": 1, "claimed": 2, "resolved": 3, "closed": 4}
STATUS_AFTER = {"issue.dispatched": "dispatched", "issue.claimed": "claimed", "issue.resolved": "resolved"}


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
        return f"dispatched to {payload.get('unit_name') or payload['unit_id']}"
    if event_type == "issue.claimed":
        return f"claimed by {payload['unit_id']}"
    if event_type == "issue.resolved":
        return f"resolved by {payload['unit_id']}"
    if event_type == "issue.escalated":
        return (f"escalated to level {payload['level']} "
                f"({payload.get('to_unit_name') or payload['to_unit_id']}): {payload['reason']}")
    if event_type == "notification.sent":
        return f"{payload.get('recipient_unit_id') or 'recipient'} notified by {payload.get('channel')}"
    if event_type == "notification.failed":
        return f"notifying {payload.get('recipient_unit_id') or 'recipient'} failed: {payload.get('reason')}"
    return event_type
