"""Reading issues back: one issue as its gateway follows it, filtered lists newest first with
opaque keyset cursors, and the ranges Open311 asks for."""

from __future__ import annotations

import base64
import json
from datetime import datetime

from sqlalchemy import Connection, and_, or_, select

from services.intake import store
from services.intake.auth import Principal
from services.intake.model import Issue
from services.intake.store import as_issue, issues, reporters, timeline
from services.intake.views import issue_view
from shared.errors import NotFound
from shared.inputs import sane_moment


class BadCursor(ValueError):
    """A cursor this API did not give out."""


def issue_status(conn: Connection, principal: Principal, issue_id: str) -> dict:
    """An issue's status, deadlines and timeline; the reporter whole only to its own gateway."""
    issue = store.get_issue(conn, issue_id)
    if issue is None or not principal.may_read(issue):
        raise NotFound(f"no issue {issue_id} for this gateway")
    entries, reporter = store.get_timeline(conn, issue_id), store.get_reporter(conn, issue_id)
    return issue_view(issue, entries, reporter, masked=issue.gateway != principal.gateway)


def issue_list(conn: Connection, principal: Principal, filters: dict) -> dict:
    """A page of issues with their reporters masked, and the cursor of the next page or None."""
    gateway = None if principal.reads_all else principal.gateway
    page, next_cursor = list_issues(conn, filters, gateway, filters["limit"], filters.get("cursor"))
    items = [issue_view(issue, reporter=reporter) for issue, reporter in page]
    return {"issues": items, "next_cursor": next_cursor}


def encode_cursor(issue: Issue) -> str:
    raw = json.dumps([issue.submitted_at.isoformat(), issue.id]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, str]:
    """[submitted_at, issue id] as encode_cursor wrote them; BadCursor for anything else."""
    try:
        decoded = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        if not (
            isinstance(decoded, list)
            and len(decoded) == 2
            and all(isinstance(x, str) for x in decoded)
        ):
            raise ValueError("not [submitted_at, id]")
        submitted_at = sane_moment(datetime.fromisoformat(decoded[0]))
        if submitted_at.tzinfo is None:
            raise ValueError("naive submitted_at")
        return submitted_at, decoded[1]
    except (ValueError, TypeError, RecursionError):
        raise BadCursor("cursor is not one this API gave out") from None


def list_issues(
    conn: Connection, filters: dict, gateway: str | None, limit: int, cursor: str | None = None
) -> tuple[list[tuple[Issue, dict | None]], str | None]:
    """(a page of (issue, its reporter or None), the cursor of the next page or None)."""
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
    rows = conn.execute(
        query.order_by(issues.c.submitted_at.desc(), issues.c.id.desc()).limit(limit + 1)
    ).mappings()
    found = [(as_issue(row), _reporter_of(row)) for row in rows]
    page, more = found[:limit], len(found) > limit
    return page, encode_cursor(page[-1][0]) if more else None


def _reporter_of(row) -> dict | None:
    if not row["reporter_phone"]:
        return None
    return {
        "name": row["reporter_name"],
        "phone": row["reporter_phone"],
        "consent": row["reporter_consent"],
    }


def issues_by_ids(conn: Connection, ids: list[str]) -> list[Issue]:
    rows = conn.execute(
        select(issues).where(issues.c.id.in_(ids)).order_by(issues.c.submitted_at.desc())
    )
    return [as_issue(row) for row in rows.mappings()]


def issues_between(
    conn: Connection,
    start: datetime,
    end: datetime,
    categories: list[str] | None,
    statuses: set[str] | None,
    limit: int,
) -> list[Issue]:
    query = select(issues).where(issues.c.submitted_at >= start, issues.c.submitted_at <= end)
    if categories:
        query = query.where(issues.c.category.in_(categories))
    if statuses:
        query = query.where(issues.c.status.in_(statuses))
    rows = conn.execute(query.order_by(issues.c.submitted_at.desc()).limit(limit))
    return [as_issue(row) for row in rows.mappings()]


def updates_between(conn: Connection, start: datetime, end: datetime, limit: int) -> list[dict]:
    rows = conn.execute(
        select(timeline)
        .where(timeline.c.occurred_at >= start, timeline.c.occurred_at <= end)
        .order_by(timeline.c.occurred_at)
        .limit(limit)
    )
    return [dict(r) for r in rows.mappings()]
