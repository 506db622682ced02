"""The embedded bus: no broker, durable across kill -9.

kombu's broker-less transports lose a message held unacked by a killed process, so
this bus keeps no messages of its own. The producers' committed outboxes are the log;
each consumer reads them in order and stores how far it got in the same transaction
as the effect of each event. A crash before that commit re-reads the event; after it,
the event is never seen again.
"""

from __future__ import annotations

import fcntl
import logging
import threading
from pathlib import Path

from sqlalchemy import Connection, Engine, insert, inspect, select, update
from sqlalchemy.exc import OperationalError

from shared import metrics
from shared.db import create_engines
from shared.envelope import MalformedMessage, utcnow
from shared.outbox import bus_cursor, dead_letter, outbox
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
    ):
        self._subscriber = subscriber
        self._store = subscriber.store
        self._source_urls = sources
        self._engines: dict[str, Engine] = {}
        self._lock_path = lock_path
        self._poll = poll_interval
        self._delays = retry_delays
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
            rows = conn.execute(
                select(outbox.c.seq, outbox.c.body)
                .where(outbox.c.seq > position, outbox.c.type.in_(self._subscriber.event_types))
                .order_by(outbox.c.seq)
                .limit(BATCH)
            ).all()
        for seq, body in rows:
            if stop is not None and stop.is_set():
                break
            self._deliver(source, seq, body, stop)
        return len(rows)

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

    def _deliver(self, source: str, seq: int, body: str, stop: threading.Event | None) -> None:
        def within(conn):
            return advance_cursor(conn, source, seq)

        for attempt, delay in enumerate((*self._delays, None), start=1):
            try:
                self._subscriber.apply(body, within)
                return
            except MalformedMessage as exc:
                self._dead_letter(source, seq, body, "malformed", str(exc))
                return
            except Exception as exc:  # the handler's own failure: retry, then give up
                log.warning(
                    "%s: handler failed on %s #%s (attempt %s): %r",
                    self._store.service,
                    source,
                    seq,
                    attempt,
                    exc,
                )
                if delay is None:
                    self._dead_letter(source, seq, body, "handler_failed", repr(exc))
                    return
                self._subscriber.count_failure(body, "retried")
                if stop is not None and stop.wait(delay):
                    return

    def _dead_letter(self, source: str, seq: int, body: str, reason: str, detail: str) -> None:
        with self._store.unit_of_work() as uow:
            if not advance_cursor(uow.conn, source, seq):
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
