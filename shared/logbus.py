"""The embedded bus: no broker, durable across kill -9.

kombu's broker-less transports lose a message held unacked by a killed process, so
this bus keeps no messages of its own. The producers' committed outboxes are the log;
each consumer reads them in order and stores how far it got in the same transaction
as the effect of each event. A crash before that commit re-reads the event; after it,
the event is never seen again. Once a poll has taken everything this consumer reads, its
cursor also moves past the rows of types it does not read, so the cursor says how far it has
read the whole outbox: the producer removes rows every consumer has read (shared.retention).

A handler that fails does not stall the others: the event is set aside in the store's
`retry` table in the same transaction as the cursor moving past it, then tried again from
there when due (`LOUDONG_RETRY_DELAYS` after each failure; each attempt commits its effect
with the row's removal, or else its next attempt), and dead-lettered after the last one.
Meanwhile the bus goes on with the next events.

The events waiting when a poll reads them are applied up to `batch` in one transaction, the
cursor moving with each: one commit for them all. The first that cannot be applied stops the
batch: the ones before it commit, it is set aside or dead-lettered as above, and the rest go
on as the next batch.

The ordering guarantee is per issue: an event is never applied before an earlier event
(in the order this bus read them) of the same issue that is still set aside. Such later
events are set aside too, held in order behind the first, and tried one after the other
once it is applied or dead-lettered. Events of other issues may overtake a set-aside one;
nothing is promised about order across issues. A crash between attempts loses nothing (the
table is on disk); at worst one attempt whose failure was not recorded is made again.
"""

from __future__ import annotations

import fcntl
import logging
import threading
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import Connection, Engine, delete, func, insert, inspect, select, update
from sqlalchemy.exc import OperationalError

from shared import metrics
from shared.db import create_engines
from shared.envelope import MalformedMessage, utcnow
from shared.outbox import bus_cursor, dead_letter, outbox, retry
from shared.subscriber import Subscriber

log = logging.getLogger(__name__)
BATCH = 200


def advance_cursor(conn: Connection, source: str, seq: int) -> bool:
    """Move the cursor to `seq`; False if it is already there (another worker got it)."""
    position = conn.execute(
        select(bus_cursor.c.position).where(bus_cursor.c.source == source)
    ).scalar()
    if position is None:
        conn.execute(insert(bus_cursor).values(source=source, position=seq))
    elif position >= seq:
        return False
    else:
        conn.execute(update(bus_cursor).where(bus_cursor.c.source == source).values(position=seq))
    return True


class LogBus:
    """Feeds a Subscriber from the other services' outboxes (SQLite files)."""

    def __init__(
        self,
        subscriber: Subscriber,
        sources: dict[str, str],
        lock_path: Path,
        poll_interval: float,
        retry_delays: tuple[float, ...],
        clock: Callable[[], datetime] = utcnow,
        batch: int = 1,
    ):
        self._subscriber = subscriber
        self._store = subscriber.store
        self._source_urls = sources
        self._engines: dict[str, Engine] = {}
        self._lock_path = lock_path
        self._poll = poll_interval
        self._delays = retry_delays
        self._clock = clock
        self._batch = max(1, batch)
        self._ready = False

    def is_ready(self) -> bool:
        return self._ready

    def run(self, stop: threading.Event) -> None:
        # One reader per store: a second worker process waits here as a hot standby.
        with open(self._lock_path, "w") as lock_file:
            while not stop.is_set():
                try:
                    fcntl.flock(lock_file, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    self._ready = True
                    stop.wait(self._poll)
            while not stop.is_set():
                if not self.poll_once(stop):
                    stop.wait(self._poll)

    def poll_once(self, stop: threading.Event | None = None) -> int:
        """Deliver what is waiting in every source; the number of events seen."""
        seen = 0
        try:
            for source in self._source_urls:
                seen += self._drain(source, stop)
            seen += self._retry_due(stop)
            self._ready = True
        except OperationalError as exc:
            self._ready = False
            log.warning("embedded bus cannot read a source: %s", exc.orig)
        return seen

    def _drain(self, source: str, stop: threading.Event | None) -> int:
        engine = self._engine(source)
        if engine is None:
            return 0
        with self._store.read() as conn:
            position = (
                conn.execute(
                    select(bus_cursor.c.position).where(bus_cursor.c.source == source)
                ).scalar()
                or 0
            )
        with engine.connect() as conn:
            # the end first: SQLite commits seqs in order, so nothing can appear below it later
            end = conn.execute(select(func.max(outbox.c.seq))).scalar() or 0
            rows = conn.execute(
                select(outbox.c.seq, outbox.c.issue_id, outbox.c.body)
                .where(outbox.c.seq > position, outbox.c.seq <= end)
                .where(outbox.c.type.in_(self._subscriber.event_types))
                .order_by(outbox.c.seq)
                .limit(BATCH)
            ).all()
        for start in range(0, len(rows), self._batch):
            if stop is not None and stop.is_set():
                return len(rows)
            self._deliver_together(source, rows[start : start + self._batch], stop)
        if len(rows) < BATCH and end > max(position, rows[-1].seq if rows else 0):
            self._read_past(source, end)
        return len(rows)

    def _read_past(self, source: str, end: int) -> None:
        """Everything up to `end` this consumer takes is applied: the cursor goes past the
        rest too (types it does not read), so that the source can prune its outbox up to
        the lowest cursor (shared.retention)."""
        with self._store.unit_of_work() as uow:
            advance_cursor(uow.conn, source, end)

    def _engine(self, source: str) -> Engine | None:
        if source not in self._engines:
            path = Path(self._source_urls[source].split("///", 1)[1])
            if not path.exists():
                return None  # that service has not started yet; its events will wait
            engine = create_engines(self._source_urls[source])[1]
            if not inspect(engine).has_table(outbox.name):
                engine.dispose()  # its file exists, its migrations have not run yet: no error
                return None
            self._engines[source] = engine
        return self._engines[source]

    def _deliver_together(self, source: str, rows: list, stop: threading.Event | None) -> None:
        """In one transaction, the cursor moving with each, up to the first that cannot be
        applied; that one is set aside or dead-lettered as if delivered alone, and the rest
        go on together."""
        while rows and not (stop is not None and stop.is_set()):
            together = [(row.body, self._in_order(source, row.seq, row.issue_id)) for row in rows]
            applied, failure = self._subscriber.apply_together(together)
            if failure is None:
                return
            self._failed(source, rows[applied], failure)
            rows = rows[applied + 1 :]

    def _in_order(self, source: str, seq: int, issue_id: str) -> Callable[[Connection], bool]:
        def within(conn: Connection) -> bool:
            if _is_held(conn, issue_id):
                raise _HeldBehind  # rolls back: this event goes behind its issue's first
            return advance_cursor(conn, source, seq)

        return within

    def _failed(self, source: str, row, failure: Exception) -> None:
        seq, issue_id, body = row.seq, row.issue_id, row.body
        if isinstance(failure, _HeldBehind):
            self._set_aside(source, seq, issue_id, body, attempt=0, due=self._clock())
        elif isinstance(failure, MalformedMessage):
            self._dead_letter(
                source, body, "malformed", str(failure), lambda c: advance_cursor(c, source, seq)
            )
        elif not self._delays:  # the handler's own failure, and no retries: dead-lettered
            self._log_failure(source, seq, 1, failure)
            self._dead_letter(
                source,
                body,
                "handler_failed",
                repr(failure),
                lambda c: advance_cursor(c, source, seq),
            )
        else:  # set aside for a retry
            self._log_failure(source, seq, 1, failure)
            due = self._clock() + timedelta(seconds=self._delays[0])
            error = repr(failure)
            if self._set_aside(source, seq, issue_id, body, attempt=1, due=due, error=error):
                self._subscriber.count_failure(body, "retried")

    def _set_aside(
        self,
        source: str,
        seq: int,
        issue_id: str,
        body: str,
        attempt: int,
        due: datetime,
        error: str | None = None,
    ) -> bool:
        """Into the retry table, with the cursor moved past it: one transaction."""
        with self._store.unit_of_work() as uow:
            if not advance_cursor(uow.conn, source, seq):
                return False
            uow.conn.execute(
                insert(retry).values(
                    source=source,
                    seq=seq,
                    issue_id=issue_id,
                    body=body,
                    attempt=attempt,
                    next_attempt_at=due,
                    last_error=None if error is None else error[:2000],
                    created_at=self._clock(),
                )
            )
        return True

    def _retry_due(self, stop: threading.Event | None) -> int:
        """Try each issue's first set-aside event once it is due; the number tried. Whatever
        an attempt settles (applied, dead-lettered) lets the next of its issue go at once.
        Only what was due when the pass began: under a flood of failing events, a pass that
        re-read the clock could take one through its whole schedule while new events of
        other issues wait unread in the log (tests/chaos/test_poison.py)."""
        tried, started = 0, self._clock()
        while stop is None or not stop.is_set():
            first = (
                select(func.min(retry.c.id)).group_by(retry.c.issue_id).scalar_subquery()
            )  # each issue's head
            with self._store.read() as conn:
                due = conn.execute(
                    select(retry)
                    .where(retry.c.id.in_(first), retry.c.next_attempt_at <= started)
                    .order_by(retry.c.id)
                    .limit(BATCH)
                ).all()
            if not due:
                break
            for row in due:
                if stop is not None and stop.is_set():
                    break
                self._retry(row)
                tried += 1
        return tried

    def _retry(self, row) -> None:
        """One attempt: its effect and the row's removal commit together; or, if it fails,
        its next attempt (or its dead letter) commits on its own."""

        def take(conn: Connection) -> bool:
            return conn.execute(delete(retry).where(retry.c.id == row.id)).rowcount == 1

        try:
            self._subscriber.apply(row.body, take)
            return
        except MalformedMessage as exc:
            self._dead_letter(row.source, row.body, "malformed", str(exc), take)
            return
        except Exception as exc:
            error = repr(exc)
            attempt = row.attempt + 1
            self._log_failure(row.source, row.seq, attempt, exc)
        if attempt > len(self._delays):
            self._dead_letter(row.source, row.body, "handler_failed", error, take)
            return
        delay = self._delays[attempt - 1]
        # no delay: due as it was, so that this very pass tries it again (see _retry_due)
        due = self._clock() + timedelta(seconds=delay) if delay else row.next_attempt_at
        with self._store.unit_of_work() as uow:
            moved = uow.conn.execute(
                update(retry)
                .where(retry.c.id == row.id, retry.c.attempt == row.attempt)
                .values(attempt=attempt, next_attempt_at=due, last_error=error[:2000])
            ).rowcount
        if moved:
            self._subscriber.count_failure(row.body, "retried")

    def _log_failure(self, source: str, seq: int, attempt: int, exc: Exception) -> None:
        # SQLite's extended code (SQLITE_IOERR_SHORT_READ, not "disk I/O error") says which
        # file operation failed: the message alone does not.
        code = getattr(getattr(exc, "orig", exc), "sqlite_errorname", None)
        log.warning(
            "%s: handler failed on %s #%s (attempt %s): %r%s",
            self._store.service,
            source,
            seq,
            attempt,
            exc,
            f" [{code}]" if code else "",
        )

    def _dead_letter(
        self, source: str, body: str, reason: str, detail: str, claim: Callable[[Connection], bool]
    ) -> None:
        """Into dead_letter, with `claim` (the cursor moved, or the retry row removed) in the
        same transaction; nothing if `claim` finds it done already."""
        with self._store.unit_of_work() as uow:
            if not claim(uow.conn):
                return
            uow.conn.execute(
                insert(dead_letter).values(
                    source=source,
                    event_id=None,
                    reason=f"{reason}: {detail}"[:2000],
                    body=body,
                    created_at=utcnow(),
                )
            )
        metrics.DEAD_LETTERED.labels(self._store.service, reason).inc()
        self._subscriber.count_failure(body, "dead_lettered")


class _HeldBehind(Exception):
    """An event whose issue has an earlier one set aside: it must not overtake it."""


def _is_held(conn: Connection, issue_id: str) -> bool:
    return (
        conn.execute(select(retry.c.id).where(retry.c.issue_id == issue_id).limit(1)).first()
        is not None
    )
