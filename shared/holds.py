"""Per-issue order on the RabbitMQ bus while events wait in its delay queues.

An event whose handler failed waits in a delay queue for its next attempt; a later event of
its issue must not be applied meanwhile. The store's `held_issue` table lists, per issue and
in the order they came, the events sent to wait: the one that failed and those parked behind
it. An event is applied only when no live row of another event comes before its own (before
any row, when it has none); otherwise it is parked, sent (not failed) to the delay queue the
event just before it waits in, with the same expiration, so that it comes back after that one.
Keeping the parked ones in the table, not only the failed one, is what stops a new event from
overtaking them once the failed one is applied. A row goes with its event's effect, in the
same transaction, or when its event is dead-lettered. A row past `held_until` is ignored: an
event lost on its way cannot hold its issue for ever. Replicas share the store, so they share
the order; two events of one issue in flight at once on two replicas were never ordered.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import NamedTuple

from sqlalchemy import Connection, bindparam, delete, or_, select
from sqlalchemy.dialects import postgresql, sqlite

from shared.outbox import held_issue

# Beyond the delays: time for a returning event to wait in a busy work queue and be handled.
MARGIN = timedelta(seconds=60)


class Ahead(NamedTuple):
    """The event a parked one must come back after, and the delay queue it waits in."""

    event_id: str
    attempt: int


_LINE = (  # built once: every message asks it
    select(held_issue.c.id, held_issue.c.event_id, held_issue.c.attempt, held_issue.c.held_until)
    .where(held_issue.c.issue_id == bindparam("issue_id"))
    .order_by(held_issue.c.id)
)


_LINES_AMONG = (  # built once: every batch asks it
    select(held_issue.c.issue_id)
    .where(held_issue.c.issue_id.in_(bindparam("issue_ids", expanding=True)))
    .distinct()
)


class Lines:
    """ahead_of() for the events of one batch. The issues that have a line (rows, live or past
    their time) are asked once per transaction, nearly always none: an event of any other
    issue needs no lookup of its own. Nothing in a batch adds a row, so what was asked at its
    start still holds at its end."""

    def __init__(self, issue_ids: list[str]):
        self._issue_ids = sorted(set(issue_ids))
        self._ask_first = len(issue_ids) > 1  # one event: its own lookup is the one query
        self._asked_in: Connection | None = None  # kept: its id is not reused meanwhile
        self._lined: set[str] = set()

    def ahead_of(self, conn: Connection, issue_id: str, event_id: str, now: datetime):
        if self._ask_first:
            if conn is not self._asked_in:
                found = conn.execute(_LINES_AMONG, {"issue_ids": self._issue_ids}).scalars()
                self._lined, self._asked_in = set(found), conn
            if issue_id not in self._lined:
                return None
        return ahead_of(conn, issue_id, event_id, now)


def ahead_of(conn: Connection, issue_id: str, event_id: str, now: datetime) -> Ahead | None:
    """The live event just before this one in its issue's line, or None: then it may be
    applied, and its own row (and any past its time) is removed in this transaction."""
    rows = conn.execute(_LINE, {"issue_id": issue_id}).all()
    if not rows:
        return None  # nearly every message: one lookup on the index
    own = next((r.id for r in rows if r.event_id == event_id), None)
    before = [
        r
        for r in rows
        if r.event_id != event_id and r.held_until > now and (own is None or r.id < own)
    ]
    if before:
        return Ahead(before[-1].event_id, before[-1].attempt)
    conn.execute(
        delete(held_issue).where(
            held_issue.c.issue_id == issue_id,
            or_(held_issue.c.event_id == event_id, held_issue.c.held_until <= now),
        )
    )
    return None


def hold(conn: Connection, issue_id: str, event_id: str, attempt: int, until: datetime) -> None:
    """The event waits in delay queue `attempt` until about `until`: its row, at the end of
    its issue's line, or where it already is (a second failure keeps its place)."""
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    statement = dialect.insert(held_issue).values(
        issue_id=issue_id, event_id=event_id, attempt=attempt, held_until=until
    )
    conn.execute(
        statement.on_conflict_do_update(
            index_elements=[held_issue.c.issue_id, held_issue.c.event_id],
            set_={"attempt": attempt, "held_until": until},
        )
    )


def release(conn: Connection, issue_id: str, event_id: str) -> None:
    """The event was dead-lettered: the events behind it go on."""
    conn.execute(
        delete(held_issue).where(
            held_issue.c.issue_id == issue_id, held_issue.c.event_id == event_id
        )
    )
