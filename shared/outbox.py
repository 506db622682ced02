"""Outbox and inbox: a state change and the events it causes commit in one transaction.

Every service's store has the same six plumbing tables:
- outbox: events waiting for (or, on the embedded bus, serving as) the bus;
- inbox: ids of the events this service has applied, written with the effect;
- bus_cursor: how far the embedded bus has read each other service's outbox;
- dead_letter: messages the embedded bus gave up on (RabbitMQ keeps its own queue);
- retry: events the embedded bus set aside, a failing one and those of its issue held behind
  it (RabbitMQ keeps its own delay queues);
- held_issue: on RabbitMQ, the events of an issue waiting in its delay queues, in order, so
  that a later one is not applied before them (shared.holds).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy import Connection, text

from shared import logs
from shared.db import (
    UTCDateTime,
    autocommit_engine,
    create_engines,
    driver_errors,
    insert_once,
    insert_rows,
    migrate,
)
from shared.envelope import Envelope, utcnow
from shared.payloads import PayloadWriter

plumbing = sa.MetaData()
# SQLite only autoincrements an INTEGER PRIMARY KEY; PostgreSQL wants a BIGINT.
SEQ_TYPE = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

outbox = sa.Table(
    "outbox",
    plumbing,
    sa.Column("seq", SEQ_TYPE, primary_key=True, autoincrement=True),
    sa.Column("event_id", sa.String(36), nullable=False, unique=True),
    sa.Column("type", sa.String(64), nullable=False),
    sa.Column("issue_id", sa.String(64), nullable=False),
    sa.Column("body", sa.Text, nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("published_at", UTCDateTime),
)
inbox = sa.Table(
    "inbox",
    plumbing,
    sa.Column("event_id", sa.String(36), primary_key=True),
    sa.Column("type", sa.String(64), nullable=False),
    sa.Column("applied_at", UTCDateTime, nullable=False),
)
bus_cursor = sa.Table(
    "bus_cursor",
    plumbing,
    sa.Column("source", sa.String(32), primary_key=True),
    sa.Column("position", sa.BigInteger, nullable=False),
)
dead_letter = sa.Table(
    "dead_letter",
    plumbing,
    sa.Column("id", SEQ_TYPE, primary_key=True, autoincrement=True),
    sa.Column("source", sa.String(32), nullable=False),
    sa.Column("event_id", sa.String(64)),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("body", sa.Text, nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
)
retry = sa.Table(
    "retry",
    plumbing,
    sa.Column("id", SEQ_TYPE, primary_key=True, autoincrement=True),  # the order set aside
    sa.Column("source", sa.String(32), nullable=False),
    sa.Column("seq", sa.BigInteger, nullable=False),
    sa.Column("issue_id", sa.String(64), nullable=False),
    sa.Column("body", sa.Text, nullable=False),
    sa.Column("attempt", sa.Integer, nullable=False),  # failed attempts so far; 0: held behind
    sa.Column("next_attempt_at", UTCDateTime, nullable=False),
    sa.Column("last_error", sa.Text),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.UniqueConstraint("source", "seq", name="uq_retry_source_seq"),
)
held_issue = sa.Table(
    "held_issue",
    plumbing,
    sa.Column("id", SEQ_TYPE, primary_key=True, autoincrement=True),  # the issue's order
    sa.Column("issue_id", sa.String(64), nullable=False),
    sa.Column("event_id", sa.String(64), nullable=False),
    sa.Column("attempt", sa.Integer, nullable=False),  # the delay queue it waits in: retry.<n>
    sa.Column("held_until", UTCDateTime, nullable=False),  # past it, the row is ignored
    # also the index of the one lookup every message makes, by issue_id
    sa.UniqueConstraint("issue_id", "event_id", name="uq_held_issue_event"),
)


sa.Index("ix_outbox_unpublished", outbox.c.seq, postgresql_where=outbox.c.published_at.is_(None))
sa.Index("ix_outbox_type_seq", outbox.c.type, outbox.c.seq)
sa.Index("ix_retry_issue", retry.c.issue_id, retry.c.id)

PLUMBING_V1 = (outbox, inbox, bus_cursor, dead_letter)  # retry came with create_plumbing_tables_v2


def create_plumbing_tables_v1(op) -> None:
    """Called by each service's first migration: the first four tables. They are still their
    first version; when one changes, freeze its old shape here and add a migration step."""
    plumbing.create_all(bind=op.get_bind(), tables=list(PLUMBING_V1))


def create_plumbing_tables_v2(op) -> None:
    """Called by each service's `_retries` migration: the embedded bus's retry table."""
    plumbing.create_all(bind=op.get_bind(), tables=[retry])


def create_plumbing_tables_v3(op) -> None:
    """Called by each service's `_held_issues` migration: RabbitMQ's per-issue order."""
    plumbing.create_all(bind=op.get_bind(), tables=[held_issue])


class UnitOfWork:
    """One transaction of a service's store, with the events it causes."""

    def __init__(
        self,
        conn: Connection,
        producer: str,
        write: PayloadWriter,
        cause: Envelope | None,
        correlation_id: str | None,
    ):
        self.conn = conn
        self.cause = cause
        self.emitted: list[Envelope] = []
        self.committed_hooks: list[Callable[[], None]] = []
        self._producer = producer
        self._write = write
        self._correlation_id = correlation_id

    def emit(self, event) -> Envelope:
        """The event validated by the service's writer, in the outbox in this transaction."""
        [envelope] = self.emit_many([event])
        return envelope

    def emit_many(self, events: list) -> list[Envelope]:
        """As emit() for each in turn, their outbox rows in one insert_rows (an executemany
        psycopg pipelines, or a COPY for many), their seqs ascending in this order."""
        envelopes = [self._envelope(event) for event in events]
        insert_rows(
            self.conn,
            outbox,
            [
                {
                    "event_id": e.id,
                    "type": e.type,
                    "issue_id": e.issue_id,
                    "body": e.to_json(),
                    "created_at": e.occurred_at,
                }
                for e in envelopes
            ],
        )
        self.emitted.extend(envelopes)
        return envelopes

    def _envelope(self, event) -> Envelope:
        event_type, issue_id, payload = self._write(event)
        return Envelope.caused_by(
            self.cause,
            type=event_type,
            issue_id=issue_id,
            producer=self._producer,
            payload=payload,
            correlation_id=self._correlation_id,
        )

    def on_commit(self, hook: Callable[[], None]) -> None:
        """Run `hook` only if this transaction commits (metrics must not count a rollback)."""
        self.committed_hooks.append(hook)

    def record_applied(self, envelope: Envelope) -> bool:
        """False if this event was applied before: one statement, which inserts its inbox
        row unless the id is there. Against a second transaction inserting the same id it
        waits for that one's end, then inserts (it rolled back) or does nothing."""
        row = {"event_id": envelope.id, "type": envelope.type, "applied_at": utcnow()}
        return insert_once(self.conn, inbox, row)


_EVENT_SAVEPOINT = "loudong_event"


class Batch:
    """The transaction Store.batch() opened, handing out one unit of work per event."""

    def __init__(self, conn: Connection, producer: str, write: PayloadWriter):
        self.conn = conn
        self.units: list[UnitOfWork] = []
        self._producer = producer
        self._write = write

    def unit_of_work(self, cause: Envelope) -> UnitOfWork:
        """The next event's unit of work, from a savepoint undo() goes back to. One name for
        them all, never released: a savepoint of that name hides the one before, ROLLBACK TO
        goes back to the latest, COMMIT ends them all. One statement per event instead of
        the two (SAVEPOINT, RELEASE) of a nested transaction, each a round trip."""
        self.conn.exec_driver_sql(f"SAVEPOINT {_EVENT_SAVEPOINT}")
        uow = UnitOfWork(self.conn, self._producer, self._write, cause, None)
        self.units.append(uow)
        return uow

    def undo(self, uow: UnitOfWork) -> None:
        """Back to before the latest unit_of_work(), which is `uow`: what it wrote, its events
        and its hooks are not to be. The transaction goes on (also after a database error)."""
        self.conn.exec_driver_sql(f"ROLLBACK TO SAVEPOINT {_EVENT_SAVEPOINT}")
        self.units.remove(uow)


class Store:
    """A service's own database: its tables plus the plumbing tables above."""

    def __init__(self, service: str, url: str, versions_dir: Path, write: PayloadWriter):
        self.service = service
        self.url = url
        self.writer, self.reader = create_engines(url)
        # writes()' autocommit connections (the pool connects on first use: intake's only)
        self._pipelined = autocommit_engine(url) if self.dialect == "postgresql" else None
        self.outbox_written = threading.Event()
        self._versions_dir = versions_dir
        self._write = write

    @property
    def dialect(self) -> str:
        return self.writer.dialect.name

    def migrate(self) -> None:
        migrate(self.writer, self.service, self._versions_dir)

    @contextmanager
    def unit_of_work(
        self, cause: Envelope | None = None, correlation_id: str | None = None
    ) -> Iterator[UnitOfWork]:
        # a request's own correlation id (a gateway's X-Request-Id) starts the conversation
        correlation_id = correlation_id or (None if cause else logs.correlation_id())
        with self.writer.begin() as conn:
            uow = UnitOfWork(conn, self.service, self._write, cause, correlation_id)
            yield uow
        self._committed([uow])

    @contextmanager
    def writes(self, correlation_id: str | None = None) -> Iterator[UnitOfWork]:
        """A unit of work that only writes (no query, no RETURNING: whatever it must read,
        read before). On PostgreSQL its statements go out in psycopg's pipeline mode on an
        autocommit connection, and the server runs them up to the pipeline's sync as one
        implicit transaction (the extended query protocol's rule): all committed, or on any
        failure none, in one round trip instead of BEGIN, one per statement and COMMIT.
        A failure is raised as the SQLAlchemy error the statement would have raised. On
        SQLite, a unit_of_work()."""
        if self.dialect != "postgresql":
            with self.unit_of_work(correlation_id=correlation_id) as uow:
                yield uow
            return
        correlation_id = correlation_id or logs.correlation_id()
        with self._pipelined.connect() as conn:
            uow = UnitOfWork(conn, self.service, self._write, None, correlation_id)
            with driver_errors(conn, "(pipelined unit of work)"):
                with conn.connection.driver_connection.pipeline():
                    yield uow
        self._committed([uow])

    @contextmanager
    def batch(self, lock_wait_ms: int | None = None) -> Iterator[Batch]:
        """One transaction for the units of work of several consumed events, each with its
        own cause and events: one commit instead of one each, then every unit's hooks.
        `lock_wait_ms`: on PostgreSQL, a statement waiting longer on a lock fails (55P03)."""
        with self.writer.begin() as conn:
            if lock_wait_ms and self.dialect == "postgresql":
                conn.execute(text(f"SET LOCAL lock_timeout = {int(lock_wait_ms)}"))
            batch = Batch(conn, self.service, self._write)
            yield batch
        self._committed(batch.units)

    def _committed(self, units: list[UnitOfWork]) -> None:
        if any(uow.emitted for uow in units):
            self.outbox_written.set()  # wakes the relay at once instead of at its next poll
        for uow in units:
            for hook in uow.committed_hooks:
                hook()

    @contextmanager
    def read(self) -> Iterator[Connection]:
        with self.reader.connect() as conn:
            yield conn

    def ping(self) -> None:
        with self.reader.connect() as conn:
            conn.execute(text("SELECT 1"))

    def dispose(self) -> None:
        self.writer.dispose()
        self.reader.dispose()
        if self._pipelined is not None:
            self._pipelined.dispose()


Handler = Callable[[UnitOfWork, Envelope, object], None]
