"""Escalation's decisions: when a clock is due, whether an event may move it, who is next."""

from __future__ import annotations

from district.directory import Directory, Unit

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


def may_act(directory: Directory, unit: Unit, clock: dict) -> bool:
    """A supervisor of the clock's unit (anyone above it), its street office, or a district leader."""
    if unit.type == "district_leader":
        return True
    if unit.type == "street_office" and clock["street"] in unit.covers:
        return True
    current = clock["unit_id"]
    while current in directory.units:
        current = directory.units[current].supervisor
        if current == unit.id:
            return True
    return False
