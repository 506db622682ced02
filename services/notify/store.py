"""Notify's own table: exactly one delivery per (event, recipient, channel)."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import (
    Column,
    Connection,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    func,
    insert,
    select,
    update,
)

from shared.db import UTCDateTime

metadata = MetaData()
deliveries = Table(
    "deliveries",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("event_id", String(36), nullable=False),
    Column("cause_type", String(64), nullable=False),
    Column("issue_id", String(36), nullable=False, index=True),
    Column("recipient_key", String(100), nullable=False),
    Column("recipient_unit_id", String(64), nullable=False),
    Column("channel", String(16), nullable=False),
    Column("address", String(320), nullable=False),
    Column("text", Text, nullable=False),
    Column("status", String(16), nullable=False),  # pending, sent, failed
    Column("attempts", Integer, nullable=False),
    Column("next_attempt_at", UTCDateTime, nullable=False),
    Column("provider", String(32)),
    Column("provider_message_id", String(128)),
    Column("last_error", String(200)),
    Column("created_at", UTCDateTime, nullable=False),
    Column("finished_at", UTCDateTime),
    Column("receipt_status", String(16)),
    Column("fallback_address", String(320)),
    Column("event_at", UTCDateTime),  # when the event behind it happened: latency starts there
    Column("receipt_at", UTCDateTime),
    UniqueConstraint("event_id", "recipient_key", "channel", name="uq_delivery"),
)
Index(
    "ix_deliveries_pending",
    deliveries.c.next_attempt_at,
    postgresql_where=deliveries.c.status == "pending",
    sqlite_where=deliveries.c.status == "pending",
)


def exists(conn: Connection, delivery_id: str) -> bool:
    return (
        conn.execute(select(deliveries.c.id).where(deliveries.c.id == delivery_id)).first()
        is not None
    )


def add(conn: Connection, **values) -> None:
    conn.execute(insert(deliveries).values(**values))


def lease_due(conn: Connection, now: datetime, lease: timedelta, limit: int) -> list[dict]:
    """Pending deliveries whose time has come, pushed `lease` into the future so that no other
    sender takes them while this one is talking to the provider."""
    rows = [
        dict(r)
        for r in conn.execute(
            select(deliveries)
            .where(deliveries.c.status == "pending", deliveries.c.next_attempt_at <= now)
            .order_by(deliveries.c.next_attempt_at)
            .limit(limit)
            .with_for_update(skip_locked=True)
        ).mappings()
    ]
    if rows:
        conn.execute(
            update(deliveries)
            .where(deliveries.c.id.in_([r["id"] for r in rows]))
            .values(next_attempt_at=now + lease)
        )
    return rows


def get_pending(conn: Connection, delivery_id: str) -> dict | None:
    row = (
        conn.execute(
            select(deliveries)
            .where(deliveries.c.id == delivery_id, deliveries.c.status == "pending")
            .with_for_update()
        )
        .mappings()
        .first()
    )
    return dict(row) if row else None


def change(conn: Connection, delivery_id: str, **values) -> None:
    conn.execute(update(deliveries).where(deliveries.c.id == delivery_id).values(**values))


def for_issue(conn: Connection, issue_id: str) -> list[dict]:
    return [
        dict(r)
        for r in conn.execute(
            select(deliveries)
            .where(deliveries.c.issue_id == issue_id)
            .order_by(deliveries.c.created_at)
        ).mappings()
    ]


def by_provider_message(conn: Connection, provider: str, message_id: str) -> dict | None:
    row = (
        conn.execute(
            select(deliveries)
            .where(
                deliveries.c.provider == provider, deliveries.c.provider_message_id == message_id
            )
            .with_for_update()
        )
        .mappings()
        .first()
    )
    return dict(row) if row else None


def recent_to(conn: Connection, address: str, since: datetime, limit: int) -> list[datetime]:
    """When the latest `limit` deliveries to one address were planned, newest first, within the window."""
    return list(
        conn.execute(
            select(deliveries.c.created_at)
            .where(deliveries.c.address == address, deliveries.c.created_at > since)
            .order_by(deliveries.c.created_at.desc())
            .limit(limit)
        ).scalars()
    )


def get(conn: Connection, delivery_id: str) -> dict | None:
    row = conn.execute(select(deliveries).where(deliveries.c.id == delivery_id)).mappings().first()
    return dict(row) if row else None


def resends_of(conn: Connection, recipient_key: str, event_id: str) -> int:
    return conn.execute(
        select(func.count())
        .select_from(deliveries)
        .where(
            deliveries.c.event_id == event_id,
            deliveries.c.recipient_key.like(f"{recipient_key}#resend%"),
        )
    ).scalar_one()
