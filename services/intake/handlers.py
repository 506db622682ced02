"""Intake's handlers: submissions and feedback from gateways, and the public view kept from
the other services' events."""

from __future__ import annotations

import uuid

from services.intake import model, store
from services.intake.events import (
    FeedbackGiven,
    FeedbackRequested,
    IssueSubmitted,
    ResidentAcknowledged,
    ResidentClosed,
)
from shared.envelope import Envelope, utcnow
from shared.outbox import UnitOfWork
from shared.subscriber import UnknownIssue


class IdempotencyConflict(Exception):
    """The same idempotency key or external_id came back with a different body."""

    def __init__(self, key: str, issue_id: str):
        super().__init__("this idempotency key or external_id was used with a different body")
        self.key, self.issue_id = key, issue_id  # key as stored: "key:<header>" or "external:<id>"


def submit_issue(
    uow: UnitOfWork, gateway: str | None, submission: dict, keys: list[str], request_hash: str
) -> tuple[str, bool]:
    """Store the issue and its issue.submitted event in one transaction: (issue id, created).
    A repeated idempotency key or external_id returns the first issue instead."""
    if gateway is not None:
        seen = store.find_idempotent(uow.conn, gateway, keys)
        if seen is not None:
            if seen["request_hash"] != request_hash:
                raise IdempotencyConflict(seen["key"], seen["issue_id"])
            return seen["issue_id"], False
    issue_id, now = str(uuid.uuid4()), utcnow()
    store.add_issue(uow.conn, issue_id, gateway, submission, now)
    if gateway is not None:
        store.remember_idempotent(uow.conn, gateway, keys, request_hash, issue_id, now)
    location = {k: v for k, v in submission["location"].items() if v is not None}
    uow.emit(
        IssueSubmitted(
            issue_id=issue_id,
            channel=submission["channel"],
            title=submission.get("title"),
            description=submission["description"],
            category=submission.get("category"),
            location=location,
            attributes=submission.get("attributes") or {},
            media_urls=submission.get("media_urls") or [],
            meeting_id=submission.get("meeting_id"),
            promised_by=submission.get("promised_by"),
            submitted_at=now,
        )
    )
    reporter = submission.get("reporter")
    if reporter and reporter.get("consent"):
        uow.emit(ResidentAcknowledged(issue_id=issue_id, phone=reporter["phone"], at=now))
    return issue_id, True  # the timeline's first entry is the issue row itself: one insert fewer


def give_feedback(uow: UnitOfWork, issue_id: str, feedback: dict) -> None:
    """Record the resident's rating; the comment stays here, the verdict goes to dispatch."""
    now = utcnow()
    store.add_feedback(
        uow.conn,
        issue_id=issue_id,
        satisfied=feedback["satisfied"],
        rating=feedback["rating"],
        comment=feedback.get("comment"),
        created_at=now,
    )
    event = uow.emit(
        FeedbackGiven(
            issue_id=issue_id,
            satisfied=feedback["satisfied"],
            rating=feedback["rating"],
            given_at=now,
        )
    )
    store.add_to_timeline(
        uow.conn, issue_id, event.id, event.type, now, model.summary(event.type, event.payload)
    )


def on_issue_event(uow: UnitOfWork, event: Envelope, _context) -> None:
    """Every event about an issue lands on its timeline and may move its status."""
    issue = store.get_issue(uow.conn, event.issue_id, for_update=True)
    if issue is None:
        raise UnknownIssue(event.issue_id)
    proposed = model.changes(issue, event.type, event.payload, event.occurred_at)
    changed = {k: v for k, v in proposed.items() if issue[k] != v}
    if event.type not in model.QUIET_EVENTS:
        changed["updated_at"] = utcnow()
        store.add_to_timeline(
            uow.conn,
            event.issue_id,
            event.id,
            event.type,
            event.occurred_at,
            model.summary(event.type, event.payload),
        )
    if changed:
        store.update_issue(uow.conn, event.issue_id, **changed)
    if event.type == "issue.resolved" and changed.get("status") == "resolved":
        _ask_resident(uow, event)
    if event.type == "issue.closed" and changed.get("status") == "closed":
        _tell_resident_closed(uow, event)


def _tell_resident_closed(uow: UnitOfWork, event: Envelope) -> None:
    reporter = store.get_reporter(uow.conn, event.issue_id)
    if reporter is not None and reporter["consent"]:
        uow.emit(
            ResidentClosed(
                issue_id=event.issue_id,
                phone=reporter["phone"],
                reason=event.payload["reason"],
                at=utcnow(),
            )
        )


def _ask_resident(uow: UnitOfWork, event: Envelope) -> None:
    """On resolve the resident is asked to rate it, through notify, if they agreed to be contacted."""
    reporter = store.get_reporter(uow.conn, event.issue_id)
    if reporter is None or not reporter["consent"]:
        return
    uow.emit(
        FeedbackRequested(
            issue_id=event.issue_id,
            phone=reporter["phone"],
            resolution=event.payload["resolution"],
            linked_to=event.payload["linked_to"],
            requested_at=utcnow(),
        )
    )


EVENT_HANDLERS = {
    "issue.dispatched": on_issue_event,
    "issue.claimed": on_issue_event,
    "issue.returned": on_issue_event,
    "issue.progress_noted": on_issue_event,
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
