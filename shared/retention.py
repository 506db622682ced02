"""Retention of an outbox on the embedded bus, where the outbox is the log itself.

On RabbitMQ the relay marks a row published once the broker confirmed it and prunes it a day
later. On the embedded bus the consumers read the row where it is, so it is done with once
every consumer has read past it: each other service keeps a cursor on this outbox in its own
store (shared.logbus), and the lowest of those cursors is the floor. Rows at or below the
floor are marked published (the outbox owes them to nobody any more) and removed `keep`
after that, so `loudong trace` still finds a day of them. A consumer that has no cursor on
this outbox yet, or no store at all (it never ran, or it is starting), holds everything; one
that is down holds everything past its cursor. The newest row is never removed: SQLite gives
a new row the highest seq plus one, and a seq handed out again would sit below the cursors.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import delete, func, inspect, select, update

from shared.db import create_engines, is_sqlite
from shared.envelope import utcnow
from shared.outbox import Store, bus_cursor, outbox

log = logging.getLogger(__name__)
KEEP = timedelta(days=1)  # as the relay keeps published rows
EVERY = 30.0  # seconds between passes
CHUNK = 2000  # rows per transaction: the service's own writes wait for no long one


def consumers_floor(source: str, consumer_urls: dict[str, str]) -> int:
    """The lowest cursor the consumers hold on `source`'s outbox; 0 while one has none."""
    positions = [_cursor(url, source) for url in consumer_urls.values()]
    return min(positions, default=0)


def _cursor(url: str, source: str) -> int:
    if is_sqlite(url) and not Path(url.split("///", 1)[1]).exists():
        return 0  # that consumer has never run here: it will read from the first row
    engine = create_engines(url)[1]
    try:
        if not inspect(engine).has_table(bus_cursor.name):
            return 0
        with engine.connect() as conn:
            position = conn.execute(
                select(bus_cursor.c.position).where(bus_cursor.c.source == source)
            ).scalar()
        return position or 0
    finally:
        engine.dispose()


class OutboxRetention:
    """Marks and removes the rows of one store's outbox that every consumer has read."""

    def __init__(
        self,
        store: Store,
        consumer_urls: dict[str, str],
        keep: timedelta = KEEP,
        clock: Callable[[], datetime] = utcnow,
    ):
        self._store = store
        self._consumer_urls = consumer_urls
        self._keep = keep
        self._clock = clock
        self._marked: int | None = None  # rows up to here are marked; first: from the oldest

    def run(self, stop: threading.Event) -> None:
        while not stop.wait(EVERY):  # not at once: the first seconds belong to the start
            try:
                self.run_once()
            except Exception as exc:  # a store busy or out of reach: next pass
                log.warning("%s: outbox retention skipped a pass: %r", self._store.service, exc)

    def run_once(self) -> int:
        """One pass: mark what every consumer has read, remove what was marked `keep` ago;
        the number of rows removed."""
        self.mark_read(consumers_floor(self._store.service, self._consumer_urls))
        return self.prune()

    def mark_read(self, floor: int) -> None:
        """Every row up to `floor` (the consumers' lowest cursor) is read: marked published."""
        now = self._clock()
        if self._marked is None:
            with self._store.read() as conn:
                oldest = conn.execute(select(func.min(outbox.c.seq))).scalar()
            if oldest is None:
                return  # nothing written yet
            self._marked = oldest - 1
        while self._marked < floor:
            upto = min(self._marked + CHUNK, floor)
            with self._store.writer.begin() as conn:
                conn.execute(
                    update(outbox)
                    .where(outbox.c.seq > self._marked, outbox.c.seq <= upto)
                    .where(outbox.c.published_at.is_(None))
                    .values(published_at=now)
                )
            self._marked = upto

    def prune(self) -> int:
        """Rows leave oldest first, as they were marked, a chunk per transaction."""
        cutoff, removed = self._clock() - self._keep, 0
        while True:
            with self._store.writer.begin() as conn:
                newest = conn.execute(select(func.max(outbox.c.seq))).scalar() or 0
                oldest = (
                    select(outbox.c.seq)
                    .where(outbox.c.seq < newest)
                    .order_by(outbox.c.seq)
                    .limit(CHUNK)
                )
                gone = conn.execute(
                    delete(outbox).where(outbox.c.seq.in_(oldest), outbox.c.published_at < cutoff)
                ).rowcount
            removed += gone
            if gone < CHUNK:
                return removed
