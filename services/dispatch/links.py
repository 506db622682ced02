"""Units' short links (`/u/<code>`, written in the SMS by notify from the same shared secret):
one per assignment dispatch sends, and one per supervisor an escalation or a warning reaches.
Dispatch records each code it derives, so a code it never issued is refused; a link expires
LOUDONG_LINK_GRACE after its issue closes and can be revoked (`loudong units links revoke
CODE`). Every page request checks its link again, so a revocation stops it at once on every
replica."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Connection, bindparam, insert, select, update

from district.links import SUPERVISION, link_code
from services.dispatch import metrics
from services.dispatch.store import unit_links
from shared.errors import NotFound

log = logging.getLogger(__name__)


class LinkRefused(NotFound):
    """A code dispatch never issued (404), or one expired or revoked (410)."""

    def __init__(self, reason: str):
        super().__init__(f"link {reason}")
        self.reason = reason
        self.status = 404 if reason == "unknown" else 410


@dataclass(frozen=True)
class Link:
    code: str
    issue_id: str
    unit_id: str
    assignment: int
    created_at: datetime
    expires_at: datetime | None = None
    revoked_at: datetime | None = None

    def refusal(self, now: datetime) -> str | None:
        """Why the link no longer opens anything, or None while it works."""
        if self.revoked_at is not None:
            return "revoked"
        if self.expires_at is not None and self.expires_at <= now:
            return "expired"
        return None

    @property
    def supervises(self) -> bool:
        return self.assignment == SUPERVISION

    def state(self, now: datetime) -> str:
        return self.refusal(now) or "active"


def record(
    conn: Connection, secret: str | None, issue_id: str, unit_id: str, assignment: int, now
) -> str | None:
    """The code of a new assignment, recorded; None when links are off (no secret)."""
    if not secret:
        return None
    code = link_code(secret, issue_id, unit_id, assignment)
    known = get(conn, code)
    if known is not None:
        if (known.issue_id, known.unit_id, known.assignment) == (issue_id, unit_id, assignment):
            return code  # a supervisor reached again by the same issue keeps its link
        # Two assignments with one 50-bit code: the first keeps it (never seen in practice).
        log.warning("link code of %s/%s collides; not recorded", issue_id, assignment)
        return None
    conn.execute(
        _ADD_LINK,
        {
            "code": code,
            "issue_id": issue_id,
            "unit_id": unit_id,
            "assignment": assignment,
            "created_at": now,
        },
    )
    return code


def record_supervision(conn: Connection, secret: str | None, issue_id: str, unit_id: str, now):
    """The link of a supervisor an escalation reached (one per supervisor and issue)."""
    return record(conn, secret, issue_id, unit_id, SUPERVISION, now)


def expire_with(conn: Connection, issue_ids: Iterable[str], now: datetime, grace: timedelta):
    """The issues closed: their links work `grace` longer, for a last look."""
    conn.execute(
        update(unit_links)
        .where(unit_links.c.issue_id.in_(list(issue_ids)), unit_links.c.expires_at.is_(None))
        .values(expires_at=now + grace)
    )


def get(conn: Connection, code: str) -> Link | None:
    row = conn.execute(_LINK, {"b_code": code}).mappings().first()
    return Link(**row) if row else None


# Built once, as every assignment asks them (see services/dispatch/store.py).
_ADD_LINK = insert(unit_links)
_LINK = select(unit_links).where(unit_links.c.code == bindparam("b_code"))


def opened(conn: Connection, code: str, now: datetime) -> Link:
    """The link behind `code` if it still works; otherwise LinkRefused, counted."""
    link = get(conn, code)
    reason = "unknown" if link is None else link.refusal(now)
    if reason is not None:
        metrics.LINK_REFUSALS.labels(reason).inc()
        raise LinkRefused(reason)
    return link


def of_unit(conn: Connection, unit_id: str) -> list[Link]:
    query = (
        select(unit_links)
        .where(unit_links.c.unit_id == unit_id)
        .order_by(unit_links.c.created_at, unit_links.c.code)
    )
    return [Link(**r) for r in conn.execute(query).mappings()]


def revoke(conn: Connection, code: str, now: datetime) -> bool:
    """Stop a link at once; False if there is no such link or it was already revoked."""
    done = conn.execute(
        update(unit_links)
        .where(unit_links.c.code == code, unit_links.c.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    return done.rowcount == 1
