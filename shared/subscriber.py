"""Applying one event from the bus: validate at the edge, then the handler, the inbox
record and (on the embedded bus) the read cursor commit in one transaction."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from marshmallow import Schema, ValidationError
from sqlalchemy import Connection

from shared import logs, metrics
from shared.envelope import Envelope, MalformedMessage, parse
from shared.outbox import Handler, Store

log = logging.getLogger(__name__)

APPLIED, DUPLICATE, IGNORED, UNKNOWN_ISSUE = "applied", "duplicate", "ignored", "unknown_issue"


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

    def apply(self, body: bytes | str, within: Callable[[Connection], bool] | None = None) -> str:
        """Apply one message. `within` runs first in the same transaction; returning False
        means "already done" (the embedded bus's cursor check). Raises MalformedMessage, or
        whatever the handler raised, with nothing committed."""
        envelope = self.read(body)
        with logs.about_event(envelope):
            return self._apply(envelope, within)

    def _apply(self, envelope: Envelope, within) -> str:
        handler = self._handlers.get(envelope.type)
        started = time.perf_counter()
        try:
            with self.store.unit_of_work(cause=envelope) as uow:
                if within is not None and not within(uow.conn):
                    outcome = DUPLICATE
                elif handler is None:
                    outcome = IGNORED
                elif not uow.record_applied(envelope):
                    outcome = DUPLICATE
                else:
                    handler(uow, envelope, self._context)
                    outcome = APPLIED
        except UnknownIssue:
            outcome = UNKNOWN_ISSUE
            if within is not None:  # the embedded bus still moves past it
                with self.store.unit_of_work() as uow:
                    within(uow.conn)
        label = self._label(envelope.type)
        metrics.HANDLER_SECONDS.labels(self.service, label).observe(time.perf_counter() - started)
        metrics.EVENTS_CONSUMED.labels(self.service, label, outcome).inc()
        return outcome

    def count_failure(self, body: bytes | str, outcome: str) -> None:
        try:
            label = self._label(parse(body).type)
        except MalformedMessage:
            label = "malformed"
        metrics.EVENTS_CONSUMED.labels(self.service, label, outcome).inc()

    def _label(self, event_type: str) -> str:
        """Only known types become label values, so a stray producer cannot grow the series."""
        return event_type if event_type in self._handlers else "other"
