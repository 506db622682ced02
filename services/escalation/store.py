"""Escalation's own tables: one row per clock (claim, resolve, supervision) of an issue,
indexed by due time, and the escalations fired, each unique by (issue, clock, assignment,
level). Clocks are read and written as model.Clock."""

from __future__ import annotations

from dataclasses import fields
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy import Connection, bindparam, func, insert, select, update

from services.escalation.model import Clock, Escalation
from shared.db import UTCDateTime, insert_rows, update_rows
from shared.outbox import SEQ_TYPE

metadata = sa.MetaData()
clocks = sa.Table(
    "clocks",
    metadata,
    sa.Column("issue_id", sa.String(36), primary_key=True),
    sa.Column("clock", sa.String(16), primary_key=True),
    sa.Column("assignment", sa.Integer, nullable=False),
    sa.Column("level", sa.Integer, nullable=False),
    sa.Column("unit_id", sa.String(64), nullable=False),
    sa.Column("tier", sa.String(16), nullable=False),
    sa.Column("street", sa.String(64), nullable=False),
    # armed: running, swept when due; paused: the resident is awaited; overdue: supervision
    # past due, its leader told; stopped: claimed or resolved; exhausted: past due at the top
    # of its ladder; closed: supervision closed by the leader
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("due_at", UTCDateTime, nullable=False),
    sa.Column("policy_version", sa.String(32), nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
    sa.Column("category", sa.String(32)),
    sa.Column(
        "paused_seconds", sa.Float
    ),  # what was left when the issue began waiting for the resident
)
# The sweeper reads only armed rows by due time: its cost follows the due rows, not all clocks.
sa.Index(
    "ix_clocks_armed_due",
    clocks.c.due_at,
    postgresql_where=clocks.c.state == "armed",
    sqlite_where=clocks.c.state == "armed",
)
escalations = sa.Table(
    "escalations",
    metadata,
    sa.Column("id", SEQ_TYPE, primary_key=True, autoincrement=True),
    sa.Column("issue_id", sa.String(36), nullable=False, index=True),
    sa.Column("clock", sa.String(16), nullable=False),
    sa.Column("assignment", sa.Integer, nullable=False),
    sa.Column("level", sa.Integer, nullable=False),
    sa.Column("reason", sa.String(32), nullable=False),
    sa.Column("from_unit_id", sa.String(64), nullable=False),
    sa.Column("to_unit_id", sa.String(64), nullable=False),
    sa.Column("missed_deadline", UTCDateTime, nullable=False),
    sa.Column("fired_at", UTCDateTime, nullable=False),
    sa.UniqueConstraint("issue_id", "clock", "assignment", "level", name="uq_escalation_step"),
)


warnings = sa.Table(
    "warnings",
    metadata,
    sa.Column("issue_id", sa.String(36), primary_key=True),
    sa.Column("clock", sa.String(16), primary_key=True),
    sa.Column("assignment", sa.Integer, primary_key=True),
    sa.Column("level", sa.Integer, primary_key=True),
    sa.Column("fraction", sa.Float, primary_key=True),
    sa.Column("to_unit_id", sa.String(64), nullable=False),
    sa.Column("deadline", UTCDateTime, nullable=False),
    sa.Column("due_at", UTCDateTime, nullable=False),
    # armed, fired, cancelled; paused: its clock is paused (the resident is awaited) and the
    # warning had not fired, so the resume arms it again (handlers.on_resident_replied)
    sa.Column("state", sa.String(16), nullable=False),
)
sa.Index(
    "ix_warnings_armed_due",
    warnings.c.due_at,
    postgresql_where=warnings.c.state == "armed",
    sqlite_where=warnings.c.state == "armed",
)
extensions = sa.Table(
    "extensions",
    metadata,
    sa.Column("id", SEQ_TYPE, primary_key=True, autoincrement=True),
    sa.Column("issue_id", sa.String(36), nullable=False),
    sa.Column("clock", sa.String(16), nullable=False),
    sa.Column("by_unit_id", sa.String(64), nullable=False),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("from_due", UTCDateTime, nullable=False),
    sa.Column("to_due", UTCDateTime, nullable=False),
    sa.Column("at", UTCDateTime, nullable=False),
)
unit_tokens = sa.Table(
    "unit_tokens",
    metadata,
    sa.Column("token_hash", sa.String(64), primary_key=True),
    sa.Column("unit_id", sa.String(64), nullable=False),
    sa.Column("revoked_at", UTCDateTime),  # kept, so a late unit.token_issued cannot revive it
)
# What the leader's board says an issue is about, from the lead's issue.dispatched: category,
# place and a short description, phone numbers masked (handlers.on_issue_dispatched).
issue_summaries = sa.Table(
    "issue_summaries",
    metadata,
    sa.Column("issue_id", sa.String(36), primary_key=True),
    sa.Column("category", sa.String(32)),
    sa.Column("category_name", sa.String(64)),
    sa.Column("place_id", sa.String(64)),
    sa.Column("place_name", sa.String(128)),
    sa.Column("building", sa.String(100)),
    sa.Column("description", sa.String(160), nullable=False),
    sa.Column("tier", sa.String(16), nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
)


def arm_warnings(conn: Connection, clock: Clock, points: list[tuple[float, str, datetime]]) -> None:
    """Replace a clock's pending warnings by `points` (fraction, unit to warn, when)."""
    rearm_warnings(conn, [(clock, points)])


# One statement for a batch's clocks (their keys expanded into the IN list when executed),
# not one a clock: built once.
_CANCEL_WARNINGS_OF = (
    update(warnings)
    .where(
        sa.tuple_(warnings.c.issue_id, warnings.c.clock).in_(bindparam("b_clocks", expanding=True)),
        warnings.c.state.in_(("armed", "paused")),
    )
    .values(state="cancelled")
)


def rearm_warnings(
    conn: Connection, armed: list[tuple[Clock, list[tuple[float, str, datetime]]]]
) -> None:
    """arm_warnings for each (clock, points): two statements whatever their number (the
    cancelling UPDATE takes every clock's key at once; the INSERT, shared.db.insert_rows)."""
    if not armed:
        return
    conn.execute(
        _CANCEL_WARNINGS_OF, {"b_clocks": [(clock.issue_id, clock.name) for clock, _ in armed]}
    )
    rows = [
        {
            "issue_id": clock.issue_id,
            "clock": clock.name,
            "assignment": clock.assignment,
            "level": clock.level,
            "fraction": fraction,
            "to_unit_id": unit_id,
            "deadline": clock.due_at,
            "due_at": due_at,
            "state": "armed",
        }
        for clock, points in armed
        for fraction, unit_id, due_at in points
    ]
    insert_rows(conn, warnings, rows)


def cancel_warnings(conn: Connection, issue_id: str, clock: str) -> None:
    """The clock's warnings still to fire (armed, or paused with it) never will."""
    conn.execute(_CANCEL_WARNINGS_OF, {"b_clocks": [(issue_id, clock)]})


def pause_warnings(conn: Connection, issue_id: str, clock: str) -> None:
    """The clock's armed warnings wait with it; those fired stay fired."""
    conn.execute(
        update(warnings)
        .where(
            warnings.c.issue_id == issue_id, warnings.c.clock == clock, warnings.c.state == "armed"
        )
        .values(state="paused")
    )


def paused_warnings(conn: Connection, clock: Clock) -> list[dict]:
    """The warnings paused with `clock`, at its assignment and level."""
    rows = conn.execute(
        select(warnings).where(
            warnings.c.issue_id == clock.issue_id,
            warnings.c.clock == clock.name,
            warnings.c.assignment == clock.assignment,
            warnings.c.level == clock.level,
            warnings.c.state == "paused",
        )
    ).mappings()
    return [dict(r) for r in rows]


def rearm_warning(conn: Connection, w: dict, due_at: datetime, deadline: datetime) -> None:
    conn.execute(
        update(warnings)
        .where(*_warning_key(w))
        .values(state="armed", due_at=due_at, deadline=deadline)
    )


def due_warnings(conn: Connection, now: datetime, limit: int) -> list[dict]:
    rows = conn.execute(_DUE_WARNINGS, {"b_now": now, "b_limit": limit}).mappings()
    return [dict(r) for r in rows]


def mark_warnings_fired(conn: Connection, fired: list[dict]) -> None:
    """The warnings read (and locked) by due_warnings have fired: one statement for them all."""
    key = ("issue_id", "clock", "assignment", "level", "fraction")
    update_rows(conn, warnings, key, [{k: w[k] for k in key} | {"state": "fired"} for w in fired])


def mark_warning_cancelled(conn: Connection, w: dict) -> None:
    conn.execute(update(warnings).where(*_warning_key(w)).values(state="cancelled"))


def _warning_key(w: dict) -> list:
    return [warnings.c[k] == w[k] for k in ("issue_id", "clock", "assignment", "level", "fraction")]


def add_extension(conn: Connection, **values) -> None:
    conn.execute(insert(extensions).values(**values))


def remember_token(conn: Connection, token_hash: str, unit_id: str) -> None:
    if not _knows_token(conn, token_hash):
        conn.execute(insert(unit_tokens).values(token_hash=token_hash, unit_id=unit_id))


def revoke_token(conn: Connection, token_hash: str, unit_id: str, at: datetime) -> None:
    """Revoked for good, even if its unit.token_issued has not arrived yet."""
    if not _knows_token(conn, token_hash):
        conn.execute(
            insert(unit_tokens).values(token_hash=token_hash, unit_id=unit_id, revoked_at=at)
        )
    else:
        conn.execute(
            update(unit_tokens)
            .where(unit_tokens.c.token_hash == token_hash, unit_tokens.c.revoked_at.is_(None))
            .values(revoked_at=at)
        )


def unit_of_token(conn: Connection, token_hash: str) -> str | None:
    """The unit a token acts for, None if unknown or revoked: read on every request."""
    return conn.execute(
        select(unit_tokens.c.unit_id).where(
            unit_tokens.c.token_hash == token_hash, unit_tokens.c.revoked_at.is_(None)
        )
    ).scalar()


def _knows_token(conn: Connection, token_hash: str) -> bool:
    query = select(unit_tokens.c.unit_id).where(unit_tokens.c.token_hash == token_hash)
    return conn.execute(query).first() is not None


def escalations_count(conn: Connection, issue_id: str, clock: str) -> int:
    return conn.execute(
        select(func.count())
        .select_from(escalations)
        .where(escalations.c.issue_id == issue_id, escalations.c.clock == clock)
    ).scalar_one()


# Every consumed event reads its clock: built once, values at execute time.
_CLOCK_LOCKED = (
    select(clocks)
    .where(clocks.c.issue_id == bindparam("b_issue_id"), clocks.c.clock == bindparam("b_clock"))
    .with_for_update()
)
_SUMMARY_EXISTS = select(issue_summaries.c.issue_id).where(
    issue_summaries.c.issue_id == bindparam("b_issue_id")
)
_UPDATE_SUMMARY = update(issue_summaries).where(
    issue_summaries.c.issue_id == bindparam("b_issue_id")
)


def get_clock(conn: Connection, issue_id: str, name: str) -> Clock | None:
    """The clock, locked for this transaction: events about one issue apply one at a time."""
    row = conn.execute(_CLOCK_LOCKED, {"b_issue_id": issue_id, "b_clock": name}).mappings().first()
    return _clock(row) if row else None


def put_clock(conn: Connection, clock: Clock, new: bool = False) -> None:
    """Write the clock's row; `new` when get_clock found none. That one is an insert, never an
    upsert: a racing transaction's insert then fails this one, which is retried and decides
    again, instead of being overwritten."""
    if new:
        conn.execute(insert(clocks), as_row(clock))
    else:
        put_clocks(conn, [clock])


def put_clocks(conn: Connection, found: list[Clock]) -> None:
    """Write the rows of clocks read (and locked) before, in one statement (update_rows)."""
    if not found:
        return
    update_rows(
        conn,
        clocks,
        ("issue_id", "clock"),
        [{"issue_id": c.issue_id, "clock": c.name, **_changeable(c)} for c in found],
    )


def _changeable(clock: Clock) -> dict:
    """The row's columns but its key."""
    return {f: getattr(clock, f) for f in _CHANGEABLE}


# The sweeper asks these several times a second on every replica, idle or not: built once.
_NEXT_DUE = select(
    select(func.min(clocks.c.due_at)).where(clocks.c.state == "armed").scalar_subquery(),
    select(func.min(warnings.c.due_at)).where(warnings.c.state == "armed").scalar_subquery(),
)
_DUE_CLOCKS = (
    select(clocks)
    .where(clocks.c.state == "armed", clocks.c.due_at <= bindparam("b_now"))
    .order_by(clocks.c.due_at)
    .limit(bindparam("b_limit"))
    .with_for_update(skip_locked=True)  # other sweepers skip them rather than wait
)
_DUE_WARNINGS = (
    select(warnings)
    .where(warnings.c.state == "armed", warnings.c.due_at <= bindparam("b_now"))
    .order_by(warnings.c.due_at)
    .limit(bindparam("b_limit"))
    .with_for_update(skip_locked=True)
)


def next_due(conn: Connection) -> datetime | None:
    """The earliest deadline an armed clock or warning has: when the sweeper next has work."""
    found = [d for d in conn.execute(_NEXT_DUE).one() if d is not None]
    return min(found) if found else None


def due_clocks(conn: Connection, now: datetime, limit: int) -> list[Clock]:
    """Armed clocks past due, locked; other sweepers skip them rather than wait."""
    rows = conn.execute(_DUE_CLOCKS, {"b_now": now, "b_limit": limit}).mappings()
    return [_clock(r) for r in rows]


def as_row(clock: Clock) -> dict:
    """The clock as its row (and its JSON): the column `clock` holds its name."""
    return {"issue_id": clock.issue_id, "clock": clock.name, **_changeable(clock)}


Step = tuple[str, str, int, int]  # an escalation's unique key: issue, clock, assignment, level
_CHANGEABLE = tuple(f.name for f in fields(Clock) if f.name not in ("issue_id", "name"))


def _clock(row) -> Clock:
    return Clock(issue_id=row["issue_id"], name=row["clock"], **{f: row[f] for f in _CHANGEABLE})


def add_escalations(conn: Connection, steps: list[Escalation]) -> set[Step]:
    """Record each step not taken before, in one query and one insert_rows whatever their
    number; the keys of those recorded. Only a transaction holding a step's clock locked
    takes it; should another have, the unique key fails this one, which is retried."""
    if not steps:
        return set()
    e = escalations.c
    query = select(e.issue_id, e.clock, e.assignment, e.level).where(
        e.issue_id.in_({step.issue_id for step in steps})  # by the issues' index
    )
    taken = {tuple(r) for r in conn.execute(query)}
    fresh = [step for step in steps if step_key(step) not in taken]
    insert_rows(conn, escalations, [vars(step).copy() for step in fresh])
    return {step_key(step) for step in fresh}


def step_key(step: Escalation) -> Step:
    return step.issue_id, step.clock, step.assignment, step.level


def add_escalation(conn: Connection, escalation: Escalation) -> None:
    """Record a step numbered by the caller: a racing one with the same number fails this
    transaction, which is retried and numbers it again."""
    conn.execute(insert(escalations).values(**vars(escalation)))


def list_clocks(conn: Connection, issue_id: str) -> list[Clock]:
    query = select(clocks).where(clocks.c.issue_id == issue_id).order_by(clocks.c.clock)
    return [_clock(r) for r in conn.execute(query).mappings()]


def list_escalations(conn: Connection, filters: dict, limit: int) -> list[dict]:
    query = select(escalations).order_by(escalations.c.id.desc()).limit(limit)
    for key in ("issue_id", "reason", "to_unit_id", "level"):
        if filters.get(key) is not None:
            query = query.where(escalations.c[key] == filters[key])
    if filters.get("since"):
        query = query.where(escalations.c.fired_at >= filters["since"])
    return [dict(r) for r in conn.execute(query).mappings()]


def overdue_now(conn: Connection, now: datetime) -> list[tuple[str, str, int]]:
    """(street, unit, count) of armed clocks past due."""
    query = (
        select(clocks.c.street, clocks.c.unit_id, func.count())
        .where(clocks.c.state == "armed", clocks.c.due_at <= now)
        .group_by(clocks.c.street, clocks.c.unit_id)
    )
    return [tuple(r) for r in conn.execute(query)]


def overdue_unfired(conn: Connection, now: datetime) -> int:
    return conn.execute(
        select(func.count())
        .select_from(clocks)
        .where(clocks.c.state == "armed", clocks.c.due_at <= now)
    ).scalar_one()


def armed_count(conn: Connection) -> int:
    return conn.execute(
        select(func.count()).select_from(clocks).where(clocks.c.state == "armed")
    ).scalar_one()


def escalations_count_all(conn: Connection) -> int:
    return conn.execute(select(func.count()).select_from(escalations)).scalar_one()


_ADD_SUMMARY = insert(issue_summaries)


def put_summary(conn: Connection, issue_id: str, **values) -> None:
    """The issue's summary as the latest lead dispatch tells it (a re-tier or re-dispatch
    may change category and place)."""
    found = conn.execute(_SUMMARY_EXISTS, {"b_issue_id": issue_id}).first()
    if found is None:
        conn.execute(_ADD_SUMMARY, {"issue_id": issue_id, **values})
    else:
        conn.execute(_UPDATE_SUMMARY, {"b_issue_id": issue_id, **values})


def summaries(conn: Connection, issue_ids: list[str]) -> dict[str, dict]:
    query = select(issue_summaries).where(issue_summaries.c.issue_id.in_(issue_ids))
    return {r["issue_id"]: dict(r) for r in conn.execute(query).mappings()}


def supervised(conn: Connection, leader_id: str, streets: tuple[str, ...]) -> list[Clock]:
    """Open supervision clocks held by the leader or on one of its streets."""
    query = select(clocks).where(
        clocks.c.clock == "supervision",
        clocks.c.state.in_(("armed", "overdue")),
        sa.or_(clocks.c.unit_id == leader_id, clocks.c.street.in_(streets)),
    )
    return [_clock(r) for r in conn.execute(query).mappings()]


def parts_running(conn: Connection, issue_id: str) -> list[Clock]:
    """The co-handling parts' clocks of the issue still running, locked."""
    query = (
        select(clocks)
        .where(
            clocks.c.issue_id == issue_id,
            clocks.c.clock.like("%@%"),
            clocks.c.state.in_(("armed", "paused", "overdue")),
        )
        .with_for_update()
    )
    return [_clock(r) for r in conn.execute(query).mappings()]


def clocks_of(conn: Connection, issue_ids: list[str]) -> list[Clock]:
    query = select(clocks).where(clocks.c.issue_id.in_(issue_ids))
    return [_clock(r) for r in conn.execute(query).mappings()]


def escalations_of(conn: Connection, issue_ids: list[str]) -> list[dict]:
    """The steps each issue climbed, oldest first."""
    query = (
        select(escalations).where(escalations.c.issue_id.in_(issue_ids)).order_by(escalations.c.id)
    )
    return [dict(r) for r in conn.execute(query).mappings()]


def extensions_of(conn: Connection, issue_ids: list[str]) -> list[dict]:
    query = select(extensions).where(extensions.c.issue_id.in_(issue_ids)).order_by(extensions.c.id)
    return [dict(r) for r in conn.execute(query).mappings()]
