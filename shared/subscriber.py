"""Applying one event from the bus: validate at the edge, then the handler, the inbox
record and (on the embedded bus) the read cursor commit in one transaction."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import NamedTuple

from marshmallow import Schema, ValidationError
from sqlalchemy import Connection

from shared import logs, metrics
from shared.envelope import Envelope, MalformedMessage, parse
from shared.outbox import Batch, Handler, Store, UnitOfWork

log = logging.getLogger(__name__)

# Run first in the handler's transaction; False: "already done" (the embedded bus's cursor).
Within = Callable[[Connection], bool]
APPLIED, DUPLICATE, IGNORED, UNKNOWN_ISSUE = "applied", "duplicate", "ignored", "unknown_issue"
BATCH_LOCK_WAIT_MS = 100  # longer than most batches take, far shorter than a deadlock's wait


class Together(NamedTuple):
    """What apply_together() did: how many messages it committed, from the first; and why
    the one after them was not applied, if it stopped early."""

    applied: int
    failure: Exception | None


class UnknownIssue(Exception):
    """A handler met an event about an issue its service never heard of: nothing changes,
    the event is counted (outcome unknown_issue) and acknowledged, not retried."""


class Subscriber:
    """What a service does with the events it is subscribed to, whichever bus brings them."""

    def __init__(
        self, store: Store, handlers: dict[str, Handler], readers: dict[str, Schema], context
    ):
        missing = set(handlers) - set(readers)
        if missing:
            raise ValueError(f"no payload reader for {sorted(missing)}")
        self.store = store
        self.service = store.service
        self._handlers = dict(handlers)  # its own copy: a test or a replica may swap one
        self._readers = readers
        self._context = context

    @property
    def event_types(self) -> tuple[str, ...]:
        return tuple(self._handlers)

    def read(self, body: bytes | str) -> Envelope:
        """The envelope, its payload loaded by this service's reader; MalformedMessage if not."""
        envelope = parse(body)
        reader = self._readers.get(envelope.type)
        if reader is None:
            return envelope
        try:
            payload = reader.load(envelope.payload)
        except ValidationError as exc:
            raise MalformedMessage(f"invalid {envelope.type} payload: {exc.messages}") from None
        return Envelope(**{**envelope.__dict__, "payload": payload})

    def apply(self, body: bytes | str, within: Within | None = None) -> str:
        """Apply one message. `within` runs first in the same transaction; returning False
        means "already done" (the embedded bus's cursor check). Raises MalformedMessage, or
        whatever the handler raised, with nothing committed."""
        envelope = self.read(body)
        with logs.about_event(envelope):
            return self._apply(envelope, within)

    def _apply(self, envelope: Envelope, within) -> str:
        started = time.perf_counter()
        try:
            with self.store.unit_of_work(cause=envelope) as uow:
                outcome = self._apply_in(uow, envelope, within)
        except UnknownIssue:
            outcome = UNKNOWN_ISSUE
            if within is not None:  # the embedded bus still moves past it
                with self.store.unit_of_work() as uow:
                    within(uow.conn)
        self._count(envelope.type, outcome, time.perf_counter() - started)
        return outcome

    def apply_together(self, messages: list[tuple[bytes | str, Within | None]]) -> Together:
        """Apply messages in order in one transaction, each in its own savepoint, until one
        cannot be: those before it commit together (one commit, not one each), and the
        caller handles that one's failure as if it had been applied alone, then goes on with
        the rest. An unknown issue does not stop the batch, as it does not fail alone."""
        if len(messages) == 1:  # nothing to keep apart: no savepoint (two round trips fewer)
            try:
                self.apply(*messages[0])
            except Exception as exc:  # nothing of it is applied
                return Together(0, exc)
            return Together(1, None)
        counts, failure = [], None
        try:
            # Two replicas' batches lock rows in no common order. Rather than wait a deadlock
            # out (PostgreSQL looks for one after a second), a batch's event gives up on a
            # lock soon; the events before it commit and it is tried again alone (rabbit.py).
            with self.store.batch(BATCH_LOCK_WAIT_MS) as batch:
                for body, within in messages:
                    try:
                        counts.append(self._apply_in_savepoint(batch, body, within))
                    except Exception as exc:  # the caller's to handle, after the commit
                        failure = exc
                        break
        except Exception as exc:  # the commit itself: nothing of them is applied
            return Together(0, exc)
        for count in counts:
            self._count(*count)
        if len(counts) > 1:
            metrics.CONSUMED_BATCH.labels(self.service).observe(len(counts))
        return Together(len(counts), failure)

    def _apply_in_savepoint(self, batch: Batch, body: bytes | str, within: Within | None):
        envelope = self.read(body)
        with logs.about_event(envelope):
            started = time.perf_counter()
            uow = batch.unit_of_work(envelope)
            try:
                outcome = self._apply_in(uow, envelope, within)
            except UnknownIssue:
                batch.undo(uow)
                outcome = UNKNOWN_ISSUE
                if within is not None:  # the embedded bus still moves past it
                    within(batch.conn)
            except BaseException:
                batch.undo(uow)
                raise
            return envelope.type, outcome, time.perf_counter() - started

    def _apply_in(self, uow: UnitOfWork, envelope: Envelope, within: Within | None) -> str:
        handler = self._handlers.get(envelope.type)
        if within is not None and not within(uow.conn):
            return DUPLICATE
        if handler is None:
            return IGNORED
        if not uow.record_applied(envelope):
            return DUPLICATE
        handler(uow, envelope, self._context)
        return APPLIED

    def _count(self, event_type: str, outcome: str, seconds: float) -> None:
        label = self._label(event_type)
        metrics.HANDLER_SECONDS.labels(self.service, label).observe(seconds)
        metrics.EVENTS_CONSUMED.labels(self.service, label, outcome).inc()

    def count_failure(self, body: bytes | str, outcome: str) -> None:
        try:
            label = self._label(parse(body).type)
        except MalformedMessage:
            label = "malformed"
        metrics.EVENTS_CONSUMED.labels(self.service, label, outcome).inc()

    def _label(self, event_type: str) -> str:
        """Only known types become label values, so a stray producer cannot grow the series."""
        return event_type if event_type in self._handlers else "other"
