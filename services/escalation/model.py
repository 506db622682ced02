"""Escalation's decisions: when a clock is due, whether an event may move it, who is next."""
from __future__ import annotations

from datetime import datetime, timedelta

from shared.directory import Directory, Unit

REASON_BY_CLOCK = {"claim": "claim_overdue", "resolve": "resolve_overdue"}


# Events can arrive shuffled. A clock remembers the assignment it belongs to: a dispatch
# arms it only for a newer assignment, a claim or resolve stops it for the same or newer.
def may_arm(assignment: int, clock: dict | None) -> bool:
    return clock is None or assignment > clock["assignment"]


def may_stop(assignment: int, clock: dict | None) -> bool:
    return clock is None or assignment >= clock["assignment"]


def next_rung(directory: Directory, unit_id: str) -> Unit | None:
    """One level up the ladder from `unit_id`: its supervisor, or None at the top."""
    if unit_id not in directory.units:
        return None
    return directory.supervisor_of(unit_id)


def deadline(start: datetime, limit: timedelta) -> datetime:
    """Calendar time for now; working time arrives with the working-calendar policies."""
    return start + limit
