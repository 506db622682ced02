"""Notify's own table: exactly one delivery per (event, recipient, channel)."""

from __future__ import annotations

from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy import Connection, func, insert, select, update

from services.notify.model import Delivery
from shared.db import UTCDateTime

metadata = sa.MetaData()
deliveries = sa.Table(
    "deliveries",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("event_id", sa.String(36), nullable=False),
    sa.Column("cause_type", sa.String(64), nullable=False),
    sa.Column("issue_id", sa.String(36), nullable=False, index=True),
    sa.Column("recipient_key", sa.String(100), nullable=False),
    sa.Column("recipient_unit_id", sa.String(64), nullable=False),
    sa.Column("channel", sa.String(16), nullable=False),
    sa.Column("address", sa.String(320), nullable=False),
    sa.Column("text", sa.Text, nullable=False),
    sa.Column("status", sa.String(16), nullable=False),  # pending, sent, failed
    sa.Column("attempts", sa.Integer, nullable=False),
    sa.Column("next_attempt_at", UTCDateTime, nullable=False),
    sa.Column("provider", sa.String(32)),
    sa.Column("provider_message_id", sa.String(128)),
    sa.Column("last_error", sa.String(200)),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("finished_at", UTCDateTime),
    sa.Column("receipt_status", sa.String(16)),
    sa.Column("fallback_address", sa.String(320)),
    sa.Column("event_at", UTCDateTime),  # when the event behind it happened: latency starts there
    sa.Column("receipt_at", UTCDateTime),
    sa.UniqueConstraint("event_id", "recipient_key", "channel", name="uq_delivery"),
)
sa.Index(
    "ix_deliveries_pending",
    deliveries.c.next_attempt_at,
    postgresql_where=deliveries.c.status == "pending",
    sqlite_where=deliveries.c.status == "pending",
)


def exists(conn: Connection, delivery_id: str) -> bool:
    found = conn.execute(select(deliveries.c.id).where(deliveries.c.id == delivery_id)).first()
    return found is not None


def add(conn: Connection, delivery: Delivery) -> None:
    conn.execute(insert(deliveries).values(**delivery.as_row()))


def save(conn: Connection, delivery: Delivery) -> None:
    """What an attempt or a receipt changed; a delivery's identity and text never change."""
    changed = {name: getattr(delivery, name) for name in _CHANGING}
    conn.execute(update(deliveries).where(deliveries.c.id == delivery.id).values(**changed))


_CHANGING = (
    "status",
    "attempts",
    "next_attempt_at",
    "provider",
    "provider_message_id",
    "last_error",
    "finished_at",
    "receipt_status",
    "receipt_at",
)


def lease_due(conn: Connection, now: datetime, lease: timedelta, limit: int) -> list[Delivery]:
    """Pending deliveries whose time has come, pushed `lease` into the future so that no other
    sender takes them while this one is talking to the provider. Ties go in the order they were
    planned: deliveries leased together and taken again after a crash are bundled as before, so
    each message keeps its idempotency key."""
    due = _deliveries(
        conn,
        select(deliveries)
        .where(deliveries.c.status == "pending", deliveries.c.next_attempt_at <= now)
        .order_by(deliveries.c.next_attempt_at, deliveries.c.created_at)
        .limit(limit)
        .with_for_update(skip_locked=True),
    )
    if due:
        conn.execute(
            update(deliveries)
            .where(deliveries.c.id.in_([d.id for d in due]))
            .values(next_attempt_at=now + lease)
        )
    return [d.leased(now, lease) for d in due]


def get(conn: Connection, delivery_id: str) -> Delivery | None:
    return _delivery(conn, select(deliveries).where(deliveries.c.id == delivery_id))


def get_pending(conn: Connection, delivery_id: str) -> Delivery | None:
    """The delivery, locked, if no sender has finished it yet."""
    return _delivery(
        conn,
        select(deliveries)
        .where(deliveries.c.id == delivery_id, deliveries.c.status == "pending")
        .with_for_update(),
    )


def by_provider_message(conn: Connection, provider: str, message_id: str) -> Delivery | None:
    return _delivery(
        conn,
        select(deliveries)
        .where(deliveries.c.provider == provider, deliveries.c.provider_message_id == message_id)
        .with_for_update(),
    )


def for_issue(conn: Connection, issue_id: str) -> list[Delivery]:
    return _deliveries(
        conn,
        select(deliveries)
        .where(deliveries.c.issue_id == issue_id)
        .order_by(deliveries.c.created_at),
    )


def recent_to(conn: Connection, address: str, since: datetime, limit: int) -> list[datetime]:
    """When the latest `limit` deliveries to one address within the window were planned, newest
    first."""
    return list(
        conn.execute(
            select(deliveries.c.created_at)
            .where(deliveries.c.address == address, deliveries.c.created_at > since)
            .order_by(deliveries.c.created_at.desc())
            .limit(limit)
        ).scalars()
    )


def resends_of(conn: Connection, recipient_key: str, event_id: str) -> int:
    return conn.execute(
        select(func.count())
        .select_from(deliveries)
        .where(
            deliveries.c.event_id == event_id,
            deliveries.c.recipient_key.like(f"{recipient_key}#resend%"),
        )
    ).scalar_one()


def _delivery(conn: Connection, query) -> Delivery | None:
    row = conn.execute(query).mappings().first()
    return Delivery(**row) if row else None


def _deliveries(conn: Connection, query) -> list[Delivery]:
    return [Delivery(**row) for row in conn.execute(query).mappings()]
