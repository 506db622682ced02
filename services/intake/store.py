"""Intake's own tables: issues, their reporters (stored once, apart), timelines, feedback and
idempotency keys."""

from __future__ import annotations

import json
from dataclasses import fields
from datetime import datetime

from sqlalchemy import (
    Boolean,
    Column,
    Connection,
    Float,
    ForeignKey,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    insert,
    select,
    update,
)

from services.intake.model import Issue
from shared.db import UTCDateTime
from shared.outbox import SEQ_TYPE

metadata = MetaData()
issues = Table(
    "issues",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("gateway", String(100)),
    Column("external_id", String(100)),
    Column("channel", String(16), nullable=False),
    Column("title", String(200)),
    Column("description", Text, nullable=False),
    Column("category", String(32)),
    Column("street", String(64), nullable=False),
    Column("community", String(100)),
    Column("compound", String(100)),
    Column("building", String(100)),
    Column("address", String(500)),
    Column("lat", Float),
    Column("lon", Float),
    Column("media_urls", Text),
    Column("attributes", Text),
    Column("extra_attributes", Text),  # the gateway's own: unpublished
    Column("status", String(16), nullable=False),
    Column("tier", String(16)),
    Column("assigned_unit_id", String(64)),
    Column("assigned_unit_name", String(200)),
    Column("escalation_level", Integer, nullable=False, default=0),
    Column("claim_deadline", UTCDateTime),
    Column("resolve_deadline", UTCDateTime),
    Column("status_note", Text),
    Column("reopened_at", UTCDateTime),
    Column("submitted_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
)
reporters = Table(
    "reporters",
    metadata,
    Column("issue_id", String(36), ForeignKey("issues.id"), primary_key=True),
    Column("name", String(100), nullable=False),
    Column("phone", String(20), nullable=False),
    Column("email", String(254)),
    Column("consent", Boolean, nullable=False, default=False),
)
timeline = Table(
    "timeline",
    metadata,
    Column("seq", SEQ_TYPE, primary_key=True, autoincrement=True),
    Column("issue_id", String(36), ForeignKey("issues.id"), nullable=False, index=True),
    Column("event_id", String(36), nullable=False, unique=True),
    Column("type", String(64), nullable=False),
    Column("occurred_at", UTCDateTime, nullable=False),
    Column("summary", Text, nullable=False),
)
feedback = Table(
    "feedback",
    metadata,
    Column("id", SEQ_TYPE, primary_key=True, autoincrement=True),
    Column("issue_id", String(36), ForeignKey("issues.id"), nullable=False),
    Column("satisfied", Boolean, nullable=False),
    Column("rating", Integer, nullable=False),
    Column("comment", Text),
    Column("created_at", UTCDateTime, nullable=False),
)
idempotency_keys = Table(
    "idempotency_keys",
    metadata,
    Column("gateway", String(100), primary_key=True),
    Column("key", String(200), primary_key=True),
    Column("request_hash", String(64), nullable=False),
    Column("issue_id", String(36), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
)

# Kept as JSON text, each with ensure_ascii as it was first written; read back as Python values.
JSON_COLUMNS = {
    "media_urls": ("[]", True),
    "attributes": ("{}", False),
    "extra_attributes": ("{}", False),
}
# What the other services' events move; the rest is as the gateway submitted it.
PUBLIC_VIEW = (
    "status",
    "tier",
    "category",
    "assigned_unit_id",
    "assigned_unit_name",
    "escalation_level",
    "claim_deadline",
    "resolve_deadline",
    "status_note",
    "reopened_at",
    "updated_at",
)


def add_issue(conn: Connection, issue: Issue, reporter: dict | None) -> None:
    values = {field.name: getattr(issue, field.name) for field in fields(Issue)}
    for name, (_empty, ascii_only) in JSON_COLUMNS.items():
        values[name] = json.dumps(values[name], ensure_ascii=ascii_only)
    conn.execute(insert(issues).values(**values))
    if reporter:
        conn.execute(insert(reporters).values(issue_id=issue.id, **reporter))


def get_issue(conn: Connection, issue_id: str, for_update: bool = False) -> Issue | None:
    query = select(issues).where(issues.c.id == issue_id)
    if for_update:
        query = query.with_for_update()  # replicas applying two events of one issue take turns
    row = conn.execute(query).mappings().first()
    return as_issue(row) if row else None


def save_issue(conn: Connection, issue: Issue) -> None:
    """Write the issue's public view, as an event left it."""
    values = {name: getattr(issue, name) for name in PUBLIC_VIEW}
    conn.execute(update(issues).where(issues.c.id == issue.id).values(**values))


def as_issue(row) -> Issue:
    """An issue from a row of `issues` (or of a query that selects all its columns)."""
    values = {column.name: row[column.name] for column in issues.columns}
    for name, (empty, _ascii_only) in JSON_COLUMNS.items():
        values[name] = json.loads(values[name] or empty)
    return Issue(**values)


def get_reporter(conn: Connection, issue_id: str) -> dict | None:
    row = conn.execute(select(reporters).where(reporters.c.issue_id == issue_id)).mappings().first()
    return dict(row) if row else None


def get_timeline(conn: Connection, issue_id: str) -> list[dict]:
    rows = conn.execute(
        select(timeline.c.type, timeline.c.occurred_at, timeline.c.summary)
        .where(timeline.c.issue_id == issue_id)
        .order_by(timeline.c.occurred_at, timeline.c.seq)
    ).mappings()
    return [dict(r) for r in rows]


def add_to_timeline(
    conn: Connection,
    issue_id: str,
    event_id: str,
    event_type: str,
    occurred_at: datetime,
    summary: str,
) -> None:
    conn.execute(
        insert(timeline).values(
            issue_id=issue_id,
            event_id=event_id,
            type=event_type,
            occurred_at=occurred_at,
            summary=summary,
        )
    )


def add_feedback(conn: Connection, **values) -> None:
    conn.execute(insert(feedback).values(**values))


def find_idempotent(conn: Connection, gateway: str, keys: list[str]) -> dict | None:
    if not keys:
        return None
    row = (
        conn.execute(
            select(idempotency_keys).where(
                idempotency_keys.c.gateway == gateway, idempotency_keys.c.key.in_(keys)
            )
        )
        .mappings()
        .first()
    )
    return dict(row) if row else None


def remember_idempotent(
    conn: Connection, gateway: str, keys: list[str], request_hash: str, issue_id: str, now: datetime
) -> None:
    for key in keys:
        conn.execute(
            insert(idempotency_keys).values(
                gateway=gateway,
                key=key,
                request_hash=request_hash,
                issue_id=issue_id,
                created_at=now,
            )
        )
