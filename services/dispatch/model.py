"""Dispatch's decisions: where an issue belongs, who handles it, what a unit may do now."""
from __future__ import annotations

from shared.directory import Directory, Unit

FALLBACK_CATEGORY = "other"
# The lifecycle as a table: action -> states it is allowed in, and the state it leads to.
TRANSITIONS = {"claim": ({"dispatched"}, "claimed"), "resolve": ({"claimed"}, "resolved")}


class AssignmentNotFound(Exception):
    pass


class NotAssignedToUnit(Exception):
    pass


class InvalidTransition(Exception):
    def __init__(self, action: str, state: str):
        super().__init__(f"cannot {action} an assignment that is {state}")
        self.action, self.state = action, state


def place_of(directory: Directory, location: dict) -> str:
    """The most specific place of the directory that the location names."""
    for key in ("building", "compound", "community"):
        place = location.get(key)
        if place in directory.places:
            return place
    return location["street"]


def lead_unit(directory: Directory, place_id: str, category: str) -> Unit:
    """The nearest unit that handles the category; the street office handles every category."""
    candidates = directory.units_for(place_id, category)
    if not candidates:
        raise LookupError(f"no unit handles {category} at {place_id}; check the directory")
    return candidates[0]


def tier_of(directory: Directory, category: str) -> str:
    return directory.categories[category].default_tier


def after(action: str, state: str) -> str:
    """The state after `action`, or InvalidTransition naming the current state."""
    allowed, result = TRANSITIONS[action]
    if state not in allowed:
        raise InvalidTransition(action, state)
    return result
