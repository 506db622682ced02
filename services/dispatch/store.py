"""Dispatch's own tables: cases (one per issue), assignments (one per unit sent it), progress
notes, unit tokens, work-day meetings, units' links and photos."""

from __future__ import annotations

import json
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy import Connection, bindparam, func, insert, select, update

from services.dispatch.model import OPEN_ASSIGNMENT_STATES, OPEN_CASE_STATES, Assignment, Case
from shared.db import UTCDateTime
from shared.outbox import SEQ_TYPE

metadata = sa.MetaData()
cases = sa.Table(
    "cases",
    metadata,
    sa.Column("issue_id", sa.String(36), primary_key=True),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("category", sa.String(32)),
    sa.Column("tier", sa.String(16)),
    sa.Column("flags", sa.Text, nullable=False),
    sa.Column("description", sa.Text, nullable=False),
    sa.Column("street", sa.String(64), nullable=False),
    sa.Column("place_id", sa.String(64), nullable=False),
    sa.Column("building", sa.String(100)),
    sa.Column("duplicate_key", sa.String(200)),
    sa.Column("lead_unit_id", sa.String(64)),
    sa.Column("returns", sa.Integer, nullable=False),
    sa.Column("reopened", sa.Integer, nullable=False),
    sa.Column("linked_to", sa.String(36)),
    sa.Column("meeting_id", sa.String(36)),
    sa.Column("promised_by", UTCDateTime),
    sa.Column("escalation_level", sa.Integer, nullable=False),
    sa.Column("claim_due", UTCDateTime),
    sa.Column("resolve_due", UTCDateTime),
    sa.Column("resolution", sa.Text),
    sa.Column("closed_reason", sa.String(32)),
    sa.Column("submitted_at", UTCDateTime, nullable=False),
    sa.Column("resolved_at", UTCDateTime),
    sa.Column("feedback_due", UTCDateTime),
    sa.Column("updated_at", UTCDateTime, nullable=False),
)
assignments = sa.Table(
    "assignments",
    metadata,
    sa.Column("id", SEQ_TYPE, primary_key=True, autoincrement=True),
    sa.Column("issue_id", sa.String(36), nullable=False, index=True),
    sa.Column("unit_id", sa.String(64), nullable=False),
    sa.Column("role", sa.String(8), nullable=False),
    sa.Column("forced", sa.Boolean, nullable=False),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("return_reason", sa.String(32)),
    sa.Column("resolution", sa.Text),
    sa.Column("dispatched_at", UTCDateTime, nullable=False),
    sa.Column("claimed_at", UTCDateTime),
    sa.Column("finished_at", UTCDateTime),
    # a co-handling part's own deadlines (escalation's claim@N / resolve@N clocks)
    sa.Column("part_claim_due", UTCDateTime),
    sa.Column("part_resolve_due", UTCDateTime),
)
notes = sa.Table(
    "notes",
    metadata,
    sa.Column("id", SEQ_TYPE, primary_key=True, autoincrement=True),
    sa.Column("issue_id", sa.String(36), nullable=False, index=True),
    sa.Column("unit_id", sa.String(64), nullable=False),
    sa.Column("note", sa.Text, nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    # progress, return (the returning unit's explanation) or urge (a supervisor's words)
    sa.Column("kind", sa.String(16), nullable=False, server_default="progress"),
)
unit_tokens = sa.Table(
    "unit_tokens",
    metadata,
    sa.Column("token_hash", sa.String(64), primary_key=True),
    sa.Column("unit_id", sa.String(64), nullable=False, index=True),
    sa.Column("prefix", sa.String(12)),  # the token's first characters, for telling them apart
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("revoked_at", UTCDateTime),
)
meetings = sa.Table(
    "meetings",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("street", sa.String(64), nullable=False),
    sa.Column("held_on", sa.String(10), nullable=False),
    sa.Column("place", sa.String(200), nullable=False),
    sa.Column("attending", sa.Text, nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
)
meeting_items = sa.Table(  # what a work day raised from its agenda (services/dispatch/workday.py)
    "meeting_items",
    metadata,
    sa.Column("meeting_id", sa.String(36), primary_key=True),
    sa.Column("issue_id", sa.String(36), primary_key=True, index=True),
    sa.Column("unit_id", sa.String(64), nullable=False),
    sa.Column("promise", sa.Text, nullable=False),
    sa.Column("promised_by", UTCDateTime, nullable=False),
    sa.Column("raised_at", UTCDateTime, nullable=False),
)
unit_links = sa.Table(  # a unit's short link to one assignment (services/dispatch/links.py)
    "unit_links",
    metadata,
    sa.Column("code", sa.String(16), primary_key=True),
    sa.Column("issue_id", sa.String(36), nullable=False, index=True),
    sa.Column("unit_id", sa.String(64), nullable=False),
    sa.Column("assignment", sa.BigInteger, nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("expires_at", UTCDateTime),
    sa.Column("revoked_at", UTCDateTime),
)
photos = sa.Table(  # attached to a note (note_id) or to a resolution (assignment)
    "photos",
    metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("issue_id", sa.String(36), nullable=False, index=True),
    sa.Column("unit_id", sa.String(64), nullable=False),
    sa.Column("note_id", sa.BigInteger),
    sa.Column("assignment", sa.BigInteger),
    sa.Column("content_type", sa.String(32), nullable=False),
    sa.Column("width", sa.Integer, nullable=False),
    sa.Column("height", sa.Integer, nullable=False),
    sa.Column("size", sa.Integer, nullable=False),
    sa.Column("data", sa.LargeBinary, nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
)


def _case(row) -> Case:
    return Case(**{**row, "flags": json.loads(row["flags"])})


def _case_row(case: Case) -> dict:
    # vars(), not asdict(): asdict deep-copies every field, and a row needs no copy at all
    return {**vars(case), "flags": json.dumps(case.flags)}


def _cases(conn: Connection, query) -> list[Case]:
    return [_case(r) for r in conn.execute(query).mappings()]


# The statements every event runs, built once: built per call, their bound values and cache
# keys cost more Python than the round trip. They take their values at execute time.
_CASE = select(cases).where(cases.c.issue_id == bindparam("b_issue_id"))
_CASE_LOCKED = _CASE.with_for_update()  # actions on one issue take turns, across replicas
_SAVE_CASE = update(cases).where(cases.c.issue_id == bindparam("b_issue_id"))
_OPEN_DUPLICATE = (
    select(cases)
    .where(
        cases.c.category == bindparam("b_category"),
        cases.c.duplicate_key == bindparam("b_duplicate_key"),
        cases.c.issue_id != bindparam("b_issue_id"),
        cases.c.linked_to.is_(None),
        cases.c.state.in_(OPEN_CASE_STATES),
    )
    .order_by(cases.c.submitted_at)
    .limit(1)
)
_ASSIGNMENTS_OF = (
    select(assignments)
    .where(assignments.c.issue_id == bindparam("b_issue_id"))
    .order_by(assignments.c.id)
)


def add_case(conn: Connection, case: Case) -> None:
    conn.execute(insert(cases), _case_row(case))


def get_case(conn: Connection, issue_id: str, for_update: bool = False) -> Case | None:
    query = _CASE_LOCKED if for_update else _CASE
    row = conn.execute(query, {"b_issue_id": issue_id}).mappings().first()
    return _case(row) if row else None


def save_case(conn: Connection, case: Case) -> None:
    """Write the whole case: its callers hold its row lock (get_case, linked_to, ...)."""
    values = _case_row(case)
    values["b_issue_id"] = values.pop("issue_id")
    conn.execute(_SAVE_CASE, values)


def open_duplicate(
    conn: Connection, category: str, duplicate_key: str, issue_id: str
) -> Case | None:
    """The open primary this new issue repeats, if any (twins are never primaries)."""
    row = (
        conn.execute(
            _OPEN_DUPLICATE,
            {"b_category": category, "b_duplicate_key": duplicate_key, "b_issue_id": issue_id},
        )
        .mappings()
        .first()
    )
    return _case(row) if row else None


def linked_to(conn: Connection, issue_id: str) -> list[Case]:
    """The twins that follow the primary `issue_id`, locked as their primary is."""
    return _cases(
        conn,
        select(cases)
        .where(cases.c.linked_to == issue_id, cases.c.state.in_(("linked", "resolved")))
        .order_by(cases.c.submitted_at)
        .with_for_update(),
    )


def add_assignment(conn: Connection, assignment: Assignment) -> int:
    values = dict(vars(assignment))
    del values["id"]
    return conn.execute(insert(assignments), values).inserted_primary_key[0]


def assignments_of(conn: Connection, issue_id: str) -> list[Assignment]:
    rows = conn.execute(_ASSIGNMENTS_OF, {"b_issue_id": issue_id}).mappings()
    return [Assignment(**r) for r in rows]


def current_assignment(conn: Connection, issue_id: str, unit_id: str) -> Assignment | None:
    """The unit's latest assignment on the issue, locked."""
    row = (
        conn.execute(
            select(assignments)
            .where(assignments.c.issue_id == issue_id, assignments.c.unit_id == unit_id)
            .order_by(assignments.c.id.desc())
            .limit(1)
            .with_for_update()
        )
        .mappings()
        .first()
    )
    return Assignment(**row) if row else None


def set_part_due(conn: Connection, issue_id: str, assignment: int, kind: str, due_at) -> None:
    column = {"claim": "part_claim_due", "resolve": "part_resolve_due"}[kind]
    conn.execute(
        update(assignments)
        .where(assignments.c.issue_id == issue_id, assignments.c.id == assignment)
        .values({column: due_at})
    )


def save_assignment(conn: Connection, assignment: Assignment) -> None:
    values = dict(vars(assignment))
    values["b_id"] = values.pop("id")
    conn.execute(_SAVE_ASSIGNMENT, values)


_SAVE_ASSIGNMENT = update(assignments).where(assignments.c.id == bindparam("b_id"))


def inbox(conn: Connection, unit_id: str) -> list[dict]:
    """The unit's open assignments with what it needs to know of each case, oldest first."""
    query = (
        select(
            assignments,
            cases.c.category,
            cases.c.tier,
            cases.c.street,
            cases.c.place_id,
            cases.c.description,
            cases.c.claim_due,
            cases.c.resolve_due,
            cases.c.promised_by,
        )
        .join(cases, cases.c.issue_id == assignments.c.issue_id)
        .where(
            assignments.c.unit_id == unit_id,
            assignments.c.state.in_(OPEN_ASSIGNMENT_STATES),
        )
        .order_by(assignments.c.dispatched_at)
    )
    return [dict(r) for r in conn.execute(query).mappings()]


def street_queue(conn: Connection, street: str, states: tuple[str, ...]) -> list[Case]:
    return _cases(
        conn,
        select(cases)
        .where(cases.c.street == street, cases.c.state.in_(states))
        .order_by(cases.c.submitted_at),
    )


def add_note(conn: Connection, **values) -> int:
    return conn.execute(insert(notes).values(**values)).inserted_primary_key[0]


def notes_of(conn: Connection, issue_id: str) -> list[dict]:
    query = select(notes).where(notes.c.issue_id == issue_id).order_by(notes.c.id)
    return [dict(r) for r in conn.execute(query).mappings()]


def feedback_overdue(conn: Connection, now: datetime, limit: int) -> list[Case]:
    """Resolved cases the resident has not answered in time, locked; other sweepers skip them."""
    return _cases(
        conn,
        select(cases)
        .where(cases.c.state == "resolved", cases.c.feedback_due <= now)
        .order_by(cases.c.feedback_due, cases.c.linked_to.is_not(None))  # primaries first
        .limit(limit)
        .with_for_update(skip_locked=True),
    )


def open_by_tier(conn: Connection) -> list[tuple[str, str, int]]:
    query = (
        select(cases.c.street, cases.c.tier, func.count())
        .where(cases.c.state.in_(OPEN_CASE_STATES))
        .group_by(cases.c.street, cases.c.tier)
    )
    return [tuple(r) for r in conn.execute(query)]


UNCLAIMED_STATES = ("triage", "arbitration", "dispatched")


def overdue_by_unit(conn: Connection, now: datetime) -> list[tuple[str, str | None, int]]:
    """Open issues past their deadline (claim while unclaimed, resolve once claimed)."""
    late = sa.or_(
        sa.and_(cases.c.state.in_(UNCLAIMED_STATES), cases.c.claim_due < now),
        sa.and_(cases.c.state == "claimed", cases.c.resolve_due < now),
    )
    query = (
        select(cases.c.street, cases.c.lead_unit_id, func.count())
        .where(late)
        .group_by(cases.c.street, cases.c.lead_unit_id)
    )
    return [tuple(r) for r in conn.execute(query)]


def add_meeting(conn: Connection, **values) -> None:
    conn.execute(insert(meetings).values(**values))


def get_meeting(conn: Connection, meeting_id: str) -> dict | None:
    row = conn.execute(select(meetings).where(meetings.c.id == meeting_id)).mappings().first()
    return {**row, "attending": json.loads(row["attending"])} if row else None


def meetings_of(conn: Connection, street: str) -> list[dict]:
    """The street's meetings, the latest first."""
    query = (
        select(meetings)
        .where(meetings.c.street == street)
        .order_by(meetings.c.held_on.desc(), meetings.c.created_at.desc())
    )
    return [{**r, "attending": json.loads(r["attending"])} for r in conn.execute(query).mappings()]


def add_meeting_item(conn: Connection, **values) -> bool:
    """False if the meeting already raised this issue (the first promise stands)."""
    known = select(meeting_items.c.issue_id).where(
        meeting_items.c.meeting_id == values["meeting_id"],
        meeting_items.c.issue_id == values["issue_id"],
    )
    if conn.execute(known).first():
        return False
    conn.execute(insert(meeting_items).values(**values))
    return True


def meeting_items_of(conn: Connection, meeting_id: str) -> list[dict]:
    query = (
        select(meeting_items)
        .where(meeting_items.c.meeting_id == meeting_id)
        .order_by(meeting_items.c.raised_at)
    )
    return [dict(r) for r in conn.execute(query).mappings()]


def last_notes(conn: Connection, issue_ids: list[str]) -> dict[str, dict]:
    """The latest note of each issue, for the desk's board."""
    if not issue_ids:
        return {}
    query = select(notes).where(notes.c.issue_id.in_(issue_ids)).order_by(notes.c.id)
    return {r["issue_id"]: dict(r) for r in conn.execute(query).mappings()}


def raised_at(conn: Connection, meeting_id: str) -> list[Case]:
    return _cases(
        conn, select(cases).where(cases.c.meeting_id == meeting_id).order_by(cases.c.submitted_at)
    )
