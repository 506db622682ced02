"""Escalation's own tables: one row per clock (claim, resolve) of an issue, indexed by due
time, and the escalations fired, each unique by (issue, clock, assignment, level)."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import (Column, Connection, Index, Integer, MetaData, String, Table, UniqueConstraint,
                        func, insert, select, update)

from shared.db import UTCDateTime
from shared.outbox import SEQ_TYPE

metadata = MetaData()
clocks = Table(
    "clocks", metadata,
    Column("issue_id", String(36), primary_key=True),
    Column("clock", String(16), primary_key=True),
    Column("assignment", Integer, nullable=False),
    Column("level", Integer, nullable=False),
    Column("unit_id", String(64), nullable=False),
    Column("tier", String(16), nullable=False),
    Column("street", String(64), nullable=False),
    Column("state", String(16), nullable=False),  # armed, stopped, exhausted
    Column("due_at", UTCDateTime, nullable=False),
    Column("policy_version", String(32), nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
)
# The sweeper reads only armed rows by due time: its cost follows the due rows, not all clocks.
Index("ix_clocks_armed_due", clocks.c.due_at, postgresql_where=clocks.c.state == "armed",
      sqlite_where=clocks.c.state == "armed")
escalations = Table(
    "escalations", metadata,
    Column("id", SEQ_TYPE, primary_key=True, autoincrement=True),
    Column("issue_id", String(36), nullable=False, index=True),
    Column("clock", String(16), nullable=False),
    Column("assignment", Integer, nullable=False),
    Column("level", Integer, nullable=False),
    Column("reason", String(32), nullable=False),
    Column("from_unit_id", String(64), nullable=False),
    Column("to_unit_id", String(64), nullable=False),
    Column("missed_deadline", UTCDateTime, nullable=False),
    Column("fired_at", UTCDateTime, nullable=False),
    UniqueConstraint("issue_id", "clock", "assignment", "level", name="uq_escalation_step"),
)


def get_clock(conn: Connection, issue_id: str, clock: str) -> dict | None:
    row = conn.execute(select(clocks).where(clocks.c.issue_id == issue_id, clocks.c.clock == clock)
                       .with_for_update()).mappings().first()
    return dict(row) if row else None


def put_clock(conn: Connection, existing: dict | None, **values) -> None:
    if existing is None:
        conn.execute(insert(clocks).values(**values))
    else:
        conn.execute(update(clocks).where(clocks.c.issue_id == values["issue_id"],
                                          clocks.c.clock == values["clock"]).values(**values))


def due_clocks(conn: Connection, now: datetime, limit: int) -> list[dict]:
    """Armed clocks past due, locked; other sweepers skip them rather than wait."""
    rows = conn.execute(select(clocks).where(clocks.c.state == "armed", clocks.c.due_at <= now)
                        .order_by(clocks.c.due_at).limit(limit)
                        .with_for_update(skip_locked=True)).mappings()
    return [dict(r) for r in rows]


def escalation_fired(conn: Connection, issue_id: str, clock: str, assignment: int, level: int) -> bool:
    return conn.execute(select(escalations.c.id).where(
        escalations.c.issue_id == issue_id, escalations.c.clock == clock,
        escalations.c.assignment == assignment, escalations.c.level == level)).first() is not None


def add_escalation(conn: Connection, **values) -> None:
    conn.execute(insert(escalations).values(**values))


def list_clocks(conn: Connection, issue_id: str) -> list[dict]:
    return [dict(r) for r in conn.execute(select(clocks).where(clocks.c.issue_id == issue_id)
                                          .order_by(clocks.c.clock)).mappings()]


def list_escalations(conn: Connection, issue_id: str | None, limit: int) -> list[dict]:
    query = select(escalations).order_by(escalations.c.id.desc()).limit(limit)
    if issue_id:
        query = query.where(escalations.c.issue_id == issue_id)
    return [dict(r) for r in conn.execute(query).mappings()]


def overdue_unfired(conn: Connection, now: datetime) -> int:
    return conn.execute(select(func.count()).select_from(clocks)
                        .where(clocks.c.state == "armed", clocks.c.due_at <= now)).scalar_one()


def armed_count(conn: Connection) -> int:
    return conn.execute(select(func.count()).select_from(clocks).where(clocks.c.state == "armed")).scalar_one()
