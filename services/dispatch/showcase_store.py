"""The showcase's own tables (雙亮): the resolved issues a street office approved for the public
page, each with the words shown and the photos it chose. Withdrawing keeps the row (who, when)
but takes the entry and its photos off the public pages at once."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy import Connection, delete, insert, select, update

from services.dispatch.store import cases, metadata, photos
from shared.db import UTCDateTime

SHOWN_STATES = ("resolved", "closed")
showcase_entries = sa.Table(
    "showcase_entries",
    metadata,
    sa.Column("issue_id", sa.String(36), primary_key=True),
    sa.Column("street", sa.String(64), nullable=False, index=True),
    sa.Column("summary", sa.Text, nullable=False),  # what was done, as the office publishes it
    sa.Column("approved_by", sa.String(64), nullable=False),
    sa.Column("approved_at", UTCDateTime, nullable=False),
    sa.Column("withdrawn_at", UTCDateTime),
)
showcase_photos = sa.Table(
    "showcase_photos",
    metadata,
    sa.Column("issue_id", sa.String(36), primary_key=True),
    sa.Column("photo_id", sa.String(32), primary_key=True),
)


def approve(
    conn: Connection, issue_id: str, street: str, summary: str, photo_ids: list[str], **by
) -> None:
    """Approve (or approve again, with new words and photos): `by` is approved_by, approved_at."""
    conn.execute(delete(showcase_photos).where(showcase_photos.c.issue_id == issue_id))
    values = {"street": street, "summary": summary, "withdrawn_at": None, **by}
    changed = conn.execute(
        update(showcase_entries).where(showcase_entries.c.issue_id == issue_id).values(**values)
    )
    if changed.rowcount == 0:
        conn.execute(insert(showcase_entries).values(issue_id=issue_id, **values))
    for photo_id in photo_ids:
        conn.execute(insert(showcase_photos).values(issue_id=issue_id, photo_id=photo_id))


def withdraw(conn: Connection, issue_id: str, now: datetime) -> bool:
    """Off the public pages; False when there was no approved entry."""
    changed = conn.execute(
        update(showcase_entries)
        .where(showcase_entries.c.issue_id == issue_id, showcase_entries.c.withdrawn_at.is_(None))
        .values(withdrawn_at=now)
    )
    return changed.rowcount > 0


def entries_of(conn: Connection, streets: tuple[str, ...]) -> dict[str, dict]:
    """Every entry (approved or withdrawn) of the streets, by issue id."""
    query = select(showcase_entries).where(showcase_entries.c.street.in_(streets))
    return {r["issue_id"]: dict(r) for r in conn.execute(query).mappings()}


def approved(conn: Connection, streets: tuple[str, ...]) -> list[dict]:
    """The approved entries with what the public page shows of their cases, newest first."""
    query = (
        select(
            showcase_entries.c.issue_id,
            showcase_entries.c.street,
            showcase_entries.c.summary,
            showcase_entries.c.approved_at,
            cases.c.category,
            cases.c.place_id,
            cases.c.submitted_at,
            cases.c.resolved_at,
        )
        .join(cases, cases.c.issue_id == showcase_entries.c.issue_id)
        .where(
            showcase_entries.c.street.in_(streets),
            showcase_entries.c.withdrawn_at.is_(None),
            cases.c.state.in_(SHOWN_STATES),  # a reopened issue leaves the page until solved
        )
        .order_by(cases.c.resolved_at.desc())
    )
    return [dict(r) for r in conn.execute(query).mappings()]


def chosen_photos(conn: Connection, issue_ids: list[str]) -> dict[str, list[str]]:
    """The photo ids chosen for each entry, oldest photo first."""
    query = (
        select(showcase_photos.c.issue_id, showcase_photos.c.photo_id)
        .join(photos, photos.c.id == showcase_photos.c.photo_id)
        .where(showcase_photos.c.issue_id.in_(issue_ids))
        .order_by(photos.c.created_at, photos.c.id)
    )
    chosen: dict[str, list[str]] = {}
    for issue_id, photo_id in conn.execute(query):
        chosen.setdefault(issue_id, []).append(photo_id)
    return chosen


def public_photo(conn: Connection, photo_id: str) -> dict | None:
    """The photo, only while an approved entry shows it."""
    query = (
        select(photos.c.content_type, photos.c.data)
        .join(showcase_photos, showcase_photos.c.photo_id == photos.c.id)
        .join(showcase_entries, showcase_entries.c.issue_id == showcase_photos.c.issue_id)
        .where(
            photos.c.id == photo_id,
            photos.c.issue_id == showcase_photos.c.issue_id,
            showcase_entries.c.withdrawn_at.is_(None),
            cases.c.state.in_(SHOWN_STATES),
        )
        .join(cases, cases.c.issue_id == showcase_entries.c.issue_id)
    )
    row = conn.execute(query).mappings().first()
    return dict(row) if row else None
