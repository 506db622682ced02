"""What gateways and the command line ask of intake: submit an issue (by /v1 or Open311, with
its idempotency keys), give the resident's feedback, and manage the gateways' API keys."""

from __future__ import annotations

import hashlib
import json
import uuid
from typing import TYPE_CHECKING

from sqlalchemy.exc import IntegrityError

from services.intake import gateways, metrics, model, store
from services.intake.events import FeedbackGiven, IssueSubmitted, ResidentAcknowledged
from services.intake.model import Issue
from shared.errors import Conflict, NotFound
from shared.outbox import Store, UnitOfWork
from shared.privacy import mask_phones

if TYPE_CHECKING:
    from services.intake.main import Context


class BadIdempotencyKey(ValueError):
    """An Idempotency-Key header that cannot be kept."""


class IdempotencyConflict(Exception):
    """The same idempotency key or external_id came back with a different body."""

    def __init__(self, key: str, issue_id: str):
        super().__init__("this idempotency key or external_id was used with a different body")
        self.key, self.issue_id = key, issue_id  # key as stored: "key:<header>" or "external:<id>"


def submit(
    service_store: Store,
    context: Context,
    gateway: str,
    submission: dict,
    idempotency_key: str | None,
    correlation_id: str | None = None,
) -> tuple[str, bool]:
    """(issue id, created): the issue and its event committed, or the earlier issue its keys name.
    The keys are looked up first, then the issue written in a unit of work that only writes
    (one round trip on PostgreSQL). A concurrent twin committing its keys in between fails
    this one on their unique key; the second look finds the twin's issue."""
    keys = idempotency_keys(idempotency_key, submission.get("external_id"))
    digest = request_hash(submission)
    for attempt in range(2):
        if gateway is not None and keys:
            with service_store.read() as conn:
                seen = store.find_idempotent(conn, gateway, keys)
            if seen is not None:
                if seen["request_hash"] != digest:
                    raise IdempotencyConflict(seen["key"], seen["issue_id"])
                return seen["issue_id"], False
        try:
            with service_store.writes(correlation_id=correlation_id) as uow:
                issue_id = submit_issue(uow, context, gateway, submission, keys, digest)
            break
        except IntegrityError:
            if attempt or not keys:
                raise
    category = submission.get("category") or "unclassified"
    metrics.ISSUES_ACCEPTED.labels(submission["channel"], category).inc()
    return issue_id, True


def idempotency_keys(header: str | None, external_id: str | None) -> list[str]:
    """The keys a repeat of this submission is known by: the client's Idempotency-Key header and
    its own reference for the issue (external_id; FixMyStreet's fixmystreet_id on Open311)."""
    keys = []
    if header is not None:
        if not 1 <= len(header) <= 200:
            raise BadIdempotencyKey("Idempotency-Key must be 1–200 characters")
        keys.append(f"key:{header}")
    if external_id:
        keys.append(f"external:{external_id}")
    return keys


def request_hash(submission: dict) -> str:
    # Without its empty extra_attributes, so that a submission made before they were kept hashes
    # as it did then, and its repeat is still a repeat rather than a conflict.
    kept = {k: v for k, v in submission.items() if k != "extra_attributes" or v}
    return hashlib.sha256(json.dumps(kept, sort_keys=True, default=str).encode()).hexdigest()


def submit_issue(
    uow: UnitOfWork,
    context: Context,
    gateway: str | None,
    submission: dict,
    keys: list[str],
    digest: str,
) -> str:
    """Write the issue, its idempotency keys and its issue.submitted event (only writes: see
    Store.writes); the new issue's id."""
    issue = Issue.received(str(uuid.uuid4()), gateway, submission, context.clock())
    reporter = submission.get("reporter")
    store.add_issue(uow.conn, issue, reporter)
    if gateway is not None:
        store.remember_idempotent(uow.conn, gateway, keys, digest, issue.id, issue.submitted_at)
    uow.emit(_submitted(issue, submission))
    if reporter and reporter.get("consent"):
        uow.emit(
            ResidentAcknowledged(issue_id=issue.id, phone=reporter["phone"], at=issue.submitted_at)
        )
    return issue.id  # the timeline's first entry is the issue row itself: one insert fewer


def _submitted(issue: Issue, submission: dict) -> IssueSubmitted:
    return IssueSubmitted(
        issue_id=issue.id,
        channel=issue.channel,
        title=issue.title,
        # a phone the resident typed into the text stays here: the bus carries it masked
        description=mask_phones(issue.description),
        category=issue.category,
        location=issue.location,
        attributes=issue.attributes,
        media_urls=issue.media_urls,
        meeting_id=submission.get("meeting_id"),
        promised_by=submission.get("promised_by"),
        submitted_at=issue.submitted_at,
    )


def give_feedback(
    uow: UnitOfWork, context: Context, gateway: str, issue_id: str, feedback: dict
) -> None:
    """Record the resident's rating of a resolved issue; the comment stays here, the verdict goes
    to dispatch."""
    issue = store.get_issue(uow.conn, issue_id, for_update=True)
    if issue is None or issue.gateway != gateway:
        raise NotFound(f"no issue {issue_id} for this gateway")
    if issue.status != "resolved":
        raise Conflict(
            f"feedback is asked for once the issue is resolved; it is {issue.status}", issue.status
        )
    now = context.clock()
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
    summary = model.summary(event.type, event.payload)
    store.add_to_timeline(uow.conn, issue_id, event.id, event.type, now, summary)


def create_key(uow: UnitOfWork, context: Context, gateway: str, scopes) -> tuple[str, str]:
    """A new API key for `gateway`: (key id, the key itself, shown this once)."""
    return gateways.create(uow.conn, gateway, scopes, context.clock())


def revoke_key(uow: UnitOfWork, context: Context, key_id: str) -> bool:
    """False when there is no such active key."""
    return gateways.revoke(uow.conn, key_id, context.clock())


def ensure_demo_key(uow: UnitOfWork, context: Context, key: str) -> None:
    """The embedded default's demo gateway, with every scope, using the key it was given."""
    gateways.ensure_demo_key(uow.conn, key, context.clock())
