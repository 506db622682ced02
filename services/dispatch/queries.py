"""What units and street offices read: their inbox, an issue as dispatch sees it, the
street's triage queue. Answers are JSON-ready dicts."""

from __future__ import annotations

from dataclasses import asdict
from typing import TYPE_CHECKING

from sqlalchemy import Connection

from district.directory import Unit
from services.dispatch import store
from services.dispatch.model import office_street
from shared.errors import NotFound
from shared.http import plain

if TYPE_CHECKING:
    from services.dispatch.main import Context


def inbox(conn: Connection, unit: Unit) -> dict:
    """The unit's open assignments, oldest first."""
    return {"unit": unit.id, "assignments": [plain(r) for r in store.inbox(conn, unit.id)]}


def issue(conn: Connection, context: Context, unit: Unit, issue_id: str) -> dict:
    """The case and its assignments, to a unit that was sent it or supervises it."""
    case = store.get_case(conn, issue_id)
    if case is None:
        raise NotFound(f"no issue {issue_id}")
    sent = store.assignments_of(conn, issue_id)
    if unit.id not in {a.unit_id for a in sent} and not case.supervised_by(unit, context.directory):
        raise NotFound(f"no issue {issue_id} for {unit.id}")
    return {**plain(asdict(case)), "assignments": [plain(asdict(a)) for a in sent]}


def triage_queue(conn: Connection, context: Context, unit: Unit) -> dict:
    """The street office's queue: issues without a category, and returned ones to arbitrate."""
    street = office_street(unit, context.directory)
    queue = store.street_queue(conn, street, ("triage", "arbitration"))
    return {"street": street, "issues": [plain(asdict(c)) for c in queue]}
