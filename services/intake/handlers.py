"""What the other services' events cause in intake: the issue's public view and timeline, and
the resident told (through notify) when it is resolved or closed."""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from services.intake import model, store
from services.intake.events import FeedbackRequested, ResidentClosed
from shared.envelope import Envelope
from shared.outbox import UnitOfWork
from shared.subscriber import UnknownIssue

if TYPE_CHECKING:
    from services.intake.main import Context


def on_issue_event(uow: UnitOfWork, event: Envelope, context: Context) -> None:
    """Every event about an issue lands on its timeline and may move its status."""
    issue = store.get_issue(uow.conn, event.issue_id, for_update=True)
    if issue is None:
        raise UnknownIssue(event.issue_id)
    updated = issue.after(event.type, event.payload, event.occurred_at)
    if event.type not in model.QUIET_EVENTS:
        updated = replace(updated, updated_at=context.clock())
        summary = model.summary(event.type, event.payload)
        store.add_to_timeline(
            uow.conn, event.issue_id, event.id, event.type, event.occurred_at, summary
        )
    if updated != issue:
        store.save_issue(uow.conn, updated)
    if updated.status != issue.status and updated.status == "resolved":
        _ask_resident(uow, event, context)
    if updated.status != issue.status and updated.status == "closed":
        _tell_resident_closed(uow, event, context)


def _tell_resident_closed(uow: UnitOfWork, event: Envelope, context: Context) -> None:
    reporter = store.get_reporter(uow.conn, event.issue_id)
    if reporter is not None and reporter["consent"]:
        uow.emit(
            ResidentClosed(
                issue_id=event.issue_id,
                phone=reporter["phone"],
                reason=event.payload["reason"],
                at=context.clock(),
            )
        )


def _ask_resident(uow: UnitOfWork, event: Envelope, context: Context) -> None:
    """On resolve the resident is asked to rate it, through notify, if they agreed to be asked."""
    reporter = store.get_reporter(uow.conn, event.issue_id)
    if reporter is None or not reporter["consent"]:
        return
    uow.emit(
        FeedbackRequested(
            issue_id=event.issue_id,
            phone=reporter["phone"],
            resolution=event.payload["resolution"],
            linked_to=event.payload["linked_to"],
            requested_at=context.clock(),
        )
    )


EVENT_HANDLERS = {
    "issue.dispatched": on_issue_event,
    "issue.claimed": on_issue_event,
    "issue.returned": on_issue_event,
    "issue.progress_noted": on_issue_event,
    "issue.urged": on_issue_event,
    "issue.resolved": on_issue_event,
    "issue.closed": on_issue_event,
    "issue.reopened": on_issue_event,
    "issue.retiered": on_issue_event,
    "issue.linked": on_issue_event,
    "issue.escalated": on_issue_event,
    "issue.clock_armed": on_issue_event,
    "issue.supervision_opened": on_issue_event,
    "issue.supervision_closed": on_issue_event,
    "issue.deadline_extended": on_issue_event,
    "issue.awaiting_resident": on_issue_event,
    "issue.resident_replied": on_issue_event,
    "notification.sent": on_issue_event,
    "notification.failed": on_issue_event,
}
