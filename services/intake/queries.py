"""Reading issues back: filtered lists, newest first, with opaque keyset cursors."""

from __future__ import annotations

import base64
import json
from datetime import datetime

from sqlalchemy import Connection, and_, or_, select

from services.intake.store import issues, reporters, timeline


class BadCursor(ValueError):
    pass


def encode_cursor(issue: dict) -> str:
    raw = json.dumps([issue["submitted_at"].isoformat(), issue["id"]]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, str]:
    try:
        submitted_at, issue_id = json.loads(
            base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        )
        return datetime.fromisoformat(submitted_at), str(issue_id)
    except (ValueError, TypeError):
        raise BadCursor("cursor is not one this API gave out") from None


def list_issues(
    conn: Connection, filters: dict, gateway: str | None, limit: int, cursor: str | None = None
) -> tuple[list[dict], str | None]:
    """(a page of issues with their reporters, the cursor of the next page or None)."""
    query = select(
        issues,
        reporters.c.name.label("reporter_name"),
        reporters.c.phone.label("reporter_phone"),
        reporters.c.consent.label("reporter_consent"),
    ).outerjoin(reporters, reporters.c.issue_id == issues.c.id)
    for column in ("status", "street", "category", "tier"):
        if filters.get(column):
            query = query.where(issues.c[column] == filters[column])
    if filters.get("since"):
        query = query.where(issues.c.submitted_at >= filters["since"])
    if filters.get("until"):
        query = query.where(issues.c.submitted_at < filters["until"])
    if gateway is not None:
        query = query.where(issues.c.gateway == gateway)
    if cursor:
        at, issue_id = decode_cursor(cursor)
        query = query.where(
            or_(
                issues.c.submitted_at < at,
                and_(issues.c.submitted_at == at, issues.c.id < issue_id),
            )
        )
    rows = [
        dict(r)
        for r in conn.execute(
            query.order_by(issues.c.submitted_at.desc(), issues.c.id.desc()).limit(limit + 1)
        ).mappings()
    ]
    page, more = rows[:limit], len(rows) > limit
    return page, encode_cursor(page[-1]) if more else None


def issues_by_ids(conn: Connection, ids: list[str]) -> list[dict]:
    rows = conn.execute(
        select(issues).where(issues.c.id.in_(ids)).order_by(issues.c.submitted_at.desc())
    )
    return [dict(r) for r in rows.mappings()]


def issues_between(
    conn: Connection,
    start: datetime,
    end: datetime,
    categories: list[str] | None,
    statuses: set[str] | None,
    limit: int,
) -> list[dict]:
    query = select(issues).where(issues.c.submitted_at >= start, issues.c.submitted_at <= end)
    if categories:
        query = query.where(issues.c.category.in_(categories))
    if statuses:
        query = query.where(issues.c.status.in_(statuses))
    rows = conn.execute(query.order_by(issues.c.submitted_at.desc()).limit(limit))
    return [dict(r) for r in rows.mappings()]


def updates_between(conn: Connection, start: datetime, end: datetime, limit: int) -> list[dict]:
    rows = conn.execute(
        select(timeline)
        .where(timeline.c.occurred_at >= start, timeline.c.occurred_at <= end)
        .order_by(timeline.c.occurred_at)
        .limit(limit)
    )
    return [dict(r) for r in rows.mappings()]
