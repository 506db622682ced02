"""Intake's own tables: issues, their reporters (stored once, apart) and timelines."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import (Column, Connection, ForeignKey, Integer, MetaData, String, Table, Text, insert,
                        select, update)

from shared.db import UTCDateTime
from shared.outbox import SEQ_TYPE

metadata = MetaData()
issues = Table(
    "issues", metadata,
    Column("id", String(36), primary_key=True),
    Column("channel", String(16), nullable=False),
    Column("description", Text, nullable=False),
    Column("category", String(32)),
    Column("street", String(64), nullable=False),
    Column("community", String(100)),
    Column("compound", String(100)),
    Column("building", String(100)),
    Column("address", String(500)),
    Column("status", String(16), nullable=False),
    Column("tier", String(16)),
    Column("assigned_unit_id", String(64)),
    Column("assigned_unit_name", String(200)),
    Column("escalation_level", Integer, nullable=False, default=0),
    Column("submitted_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
)
reporters = Table(
    "reporters", metadata,
    Column("issue_id", String(36), ForeignKey("issues.id"), primary_key=True),
    Column("name", String(100), nullable=False),
    Column("phone", String(20), nullable=False),
)
timeline = Table(
    "timeline", metadata,
    Column("seq", SEQ_TYPE, primary_key=True, autoincrement=True),
    Column("issue_id", String(36), ForeignKey("issues.id"), nullable=False, index=True),
    Column("event_id", String(36), nullable=False, unique=True),
    Column("type", String(64), nullable=False),
    Column("occurred_at", UTCDateTime, nullable=False),
    Column("summary", Text, nullable=False),
)

LOCATION_KEYS = ("street", "community", "compound", "building", "address")


def add_issue(conn: Connection, issue_id: str, submission: dict, submitted_at: datetime) -> None:
    location = submission["location"]
    conn.execute(insert(issues).values(
        id=issue_id, channel=submission["channel"], description=submission["description"],
        category=submission.get("category"), status="received", escalation_level=0,
        submitted_at=submitted_at, updated_at=submitted_at,
        **{key: location.get(key) for key in LOCATION_KEYS}))
    if submission.get("reporter"):
        conn.execute(insert(reporters).values(issue_id=issue_id, **submission["reporter"]))


def get_issue(conn: Connection, issue_id: str) -> dict | None:
    row = conn.execute(select(issues).where(issues.c.id == issue_id)).mappings().first()
    return dict(row) if row else None


def get_timeline(conn: Connection, issue_id: str) -> list[dict]:
    rows = conn.execute(select(timeline.c.type, timeline.c.occurred_at, timeline.c.summary)
                        .where(timeline.c.issue_id == issue_id)
                        .order_by(timeline.c.occurred_at, timeline.c.seq)).mappings()
    return [dict(r) for r in rows]


def update_issue(conn: Connection, issue_id: str, **values) -> None:
    conn.execute(update(issues).where(issues.c.id == issue_id).values(**values))


def add_to_timeline(conn: Connection, issue_id: str, event_id: str, event_type: str,
                    occurred_at: datetime, summary: str) -> None:
    conn.execute(insert(timeline).values(issue_id=issue_id, event_id=event_id, type=event_type,
                                         occurred_at=occurred_at, summary=summary))
