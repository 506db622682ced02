"""What a unit's SMS carries to find its issue again: the short reference, and the short link
to one assignment (`/u/<code>`).

Dispatch (which serves the page) and notify (which writes the SMS) both derive the code from
a secret they share, so no credential rides the bus: the first 10 characters of the base32
HMAC-SHA256 of the issue, the unit and the assignment — about 50 bits, unguessable, short
enough for a text message. Dispatch records each code it issued, so a code it never issued,
an expired or a revoked one is refused.

A unit an escalation or a warning reaches without holding the issue (a supervisor) gets a
supervision link and reply code, numbered SUPERVISION instead of an assignment: they let it
read the issue and urge the unit in charge, never claim or resolve."""

from __future__ import annotations

import base64
import hashlib
import hmac

CODE_LENGTH = 10
SUPERVISION = 0  # the "assignment" of a supervisor's link and reply code (assignments start at 1)


def link_code(secret: str, issue_id: str, unit_id: str, assignment: int) -> str:
    digest = hmac.new(
        secret.encode(), f"{issue_id}:{unit_id}:{assignment}".encode(), hashlib.sha256
    )
    return base64.b32encode(digest.digest()).decode().lower()[:CODE_LENGTH]


def reference(issue_id: str) -> str:
    """The short issue reference an SMS prints and a unit's page shows beside it."""
    return issue_id.replace("-", "")[:8]
