"""What a service's domain refuses, raised by its commands and answered over HTTP by one
table. The HTTP edge itself (a malformed body or query, a missing credential) raises
`shared.http.Problem` instead: the domain never speaks HTTP."""

from __future__ import annotations


class DomainError(Exception):
    """Base of the refusals below; the message is said to the caller as it is."""


class NotFound(DomainError):
    """No such issue, assignment or delivery, or none the caller may see."""


class Forbidden(DomainError):
    """The caller is known but may not do this (another unit's assignment, not a supervisor)."""


class Conflict(DomainError):
    """Not now: the lifecycle does not allow it in `state`."""

    def __init__(self, message: str, state: str | None = None):
        super().__init__(message)
        self.state = state


class Invalid(DomainError):
    """Well-formed but wrong for the domain; `errors` names each field."""

    def __init__(self, message: str, errors: dict | None = None):
        super().__init__(message)
        self.errors = errors


# Domain errors and the HTTP answers they get, in one place.
ERRORS = {
    NotFound: (404, "Not Found"),
    Forbidden: (403, "Forbidden"),
    Conflict: (409, "Conflict"),
    Invalid: (422, "Invalid body"),
}
