"""Dispatch's own table: one current assignment per issue."""
from __future__ import annotations

from sqlalchemy import Column, Connection, Integer, MetaData, String, Table, Text, insert, select, update

from shared.db import UTCDateTime

metadata = MetaData()
assignments = Table(
    "assignments", metadata,
    Column("issue_id", String(36), primary_key=True),
    Column("assignment", Integer, nullable=False),
    Column("unit_id", String(64), nullable=False),
    Column("tier", String(16), nullable=False),
    Column("category", String(32), nullable=False),
    Column("street", String(64), nullable=False),
    Column("place_id", String(64), nullable=False),
    Column("state", String(16), nullable=False),
    Column("resolution", Text),
    Column("dispatched_at", UTCDateTime, nullable=False),
    Column("claimed_at", UTCDateTime),
    Column("resolved_at", UTCDateTime),
)


def add(conn: Connection, **values) -> None:
    conn.execute(insert(assignments).values(**values))


def get(conn: Connection, issue_id: str, for_update: bool = False) -> dict | None:
    query = select(assignments).where(assignments.c.issue_id == issue_id)
    if for_update:
        query = query.with_for_update()  # two units acting at once are serialized here
    row = conn.execute(query).mappings().first()
    return dict(row) if row else None


def change(conn: Connection, issue_id: str, **values) -> None:
    conn.execute(update(assignments).where(assignments.c.issue_id == issue_id).values(**values))
