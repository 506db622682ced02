"""Dispatch's lifecycle as tables, and the domain errors it answers with."""

from __future__ import annotations

RETURN_REASONS = ("wrong_function", "wrong_place", "unclear_ownership")
OPEN_CASE_STATES = ("triage", "arbitration", "dispatched", "claimed")
SUPERVISING_TYPES = ("street_office", "district_leader")

# An assignment's lifecycle: action -> (states it is allowed in, the state it leads to).
ASSIGNMENT = {
    "claim": ({"dispatched"}, "claimed"),
    "return": ({"dispatched"}, "returned"),
    "note": ({"claimed", "awaiting_resident"}, None),
    "await": ({"claimed"}, "awaiting_resident"),
    "resume": ({"awaiting_resident"}, "claimed"),
    "resolve": ({"claimed"}, "resolved"),
}
# The issue's own lifecycle: action -> (states it is allowed in, the state it leads to).
CASE = {
    "triage": ({"triage"}, "dispatched"),
    "arbitrate": ({"arbitration"}, "dispatched"),
    "retier": ({"dispatched", "claimed"}, None),
    "feedback": ({"resolved"}, None),
}


class NotFound(Exception):
    pass


class Forbidden(Exception):
    pass


class Invalid(Exception):
    """A well-formed request naming something that does not exist (an unknown unit or category)."""

    def __init__(self, errors: dict):
        super().__init__("; ".join(f"{k}: {v[0]}" for k, v in errors.items()))
        self.errors = errors


class InvalidTransition(Exception):
    def __init__(self, action: str, state: str, what: str = "assignment"):
        super().__init__(
            f"cannot {action} an {what} that is {state}"
            if what[0] in "aeiou"
            else f"cannot {action} a {what} that is {state}"
        )
        self.action, self.state = action, state


def after(
    action: str, state: str, table: dict = ASSIGNMENT, what: str = "assignment"
) -> str | None:
    """The state after `action`, or InvalidTransition naming the current state."""
    allowed, result = table[action]
    if state not in allowed:
        raise InvalidTransition(action, state, what)
    return result if result is not None else state


def duplicate_key(location: dict) -> str | None:
    """Same building, or same compound when no building is named: the same problem twice."""
    if location.get("building") and (location.get("compound") or location.get("community")):
        return f"{location.get('compound') or location.get('community')}/{location['building']}"
    if location.get("compound"):
        return location["compound"]
    return None
