"""One way in for a submission, whichever API it came by (/v1 or Open311): its idempotency keys,
the hash that tells a repeat from a different body, the retry when a concurrent twin commits
first, and the count of accepted issues."""

from __future__ import annotations

import hashlib
import json

from sqlalchemy.exc import IntegrityError

from services.intake import metrics
from services.intake.handlers import submit_issue


class BadIdempotencyKey(ValueError):
    """An Idempotency-Key header that cannot be kept."""


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


def accept(
    service_store,
    gateway: str,
    submission: dict,
    keys: list[str],
    correlation_id: str | None = None,
) -> tuple[str, bool]:
    """(issue id, created): the issue and its event committed, or the earlier issue these keys name.
    Raises handlers.IdempotencyConflict when a key comes back with a different body."""
    digest = request_hash(submission)
    for attempt in range(2):
        try:
            with service_store.unit_of_work(correlation_id=correlation_id) as uow:
                issue_id, created = submit_issue(uow, gateway, submission, keys, digest)
            break
        except IntegrityError:
            if attempt or not keys:  # a concurrent twin committed first: the retry finds its issue
                raise
    if created:
        category = submission.get("category") or "unclassified"
        metrics.ISSUES_ACCEPTED.labels(submission["channel"], category).inc()
    return issue_id, created
