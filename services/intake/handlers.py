"""Intake's handlers: submission from HTTP, and the public view kept from others' events."""
from __future__ import annotations

import uuid

from services.intake import model, store
from services.intake.events import IssueSubmitted
from shared.envelope import Envelope, utcnow
from shared.outbox import UnitOfWork


def submit_issue(uow: UnitOfWork, submission: dict) -> str:
    """Store the issue and its issue.submitted event in one transaction."""
    issue_id = str(uuid.uuid4())
    now = utcnow()
    store.add_issue(uow.conn, issue_id, submission, now)
    location = {k: v for k, v in submission["location"].items() if v is not None}
    uow.emit(IssueSubmitted(issue_id=issue_id, channel=submission["channel"],
                            description=submission["description"], category=submission.get("category"),
                            location=location, submitted_at=now))
    return issue_id  # the timeline's first entry is the issue row itself: one insert fewer


def on_issue_event(uow: UnitOfWork, event: Envelope, _context) -> None:
    """Every event about an issue lands on its timeline and may move its status."""
    issue = store.get_issue(uow.conn, event.issue_id)
    if issue is None:
        raise LookupError(f"{event.type} for unknown issue {event.issue_id}")  # retried, then dead-lettered
    changes = {"status": model.next_status(issue["status"], event.type)}
    payload = event.payload
    if event.type == "issue.dispatched":
        changes.update(assigned_unit_id=payload["unit_id"], assigned_unit_name=payload["unit_name"],
                       tier=payload["tier"], category=issue["category"] or payload["category"])
    elif event.type == "issue.escalated":
        changes["escalation_level"] = max(issue["escalation_level"], payload["level"])
    store.update_issue(uow.conn, event.issue_id, updated_at=utcnow(), **changes)
    store.add_to_timeline(uow.conn, event.issue_id, event.id, event.type, event.occurred_at,
                          model.summary(event.type, payload))


EVENT_HANDLERS = {
    "issue.dispatched": on_issue_event,
    "issue.claimed": on_issue_event,
    "issue.resolved": on_issue_event,
    "issue.escalated": on_issue_event,
    "notification.sent": on_issue_event,
    "notification.failed": on_issue_event,
}
