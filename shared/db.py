"""Engines and migrations for a service's own store (SQLite by default, PostgreSQL in
production)."""

from __future__ import annotations

import fcntl
import functools
import json
import logging
import sqlite3
from contextlib import contextmanager
from datetime import UTC
from pathlib import Path

from sqlalchemy import (
    Connection,
    DateTime,
    Engine,
    Table,
    TypeDecorator,
    bindparam,
    create_engine,
    event,
    insert,
    text,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import DBAPIError, DisconnectionError
from sqlalchemy.pool import NullPool

MIGRATIONS_ENV = Path(__file__).resolve().parent / "migrations"
log = logging.getLogger(__name__)


def journal_mode(version: tuple[int, int, int]) -> str:
    """The journal the stores keep on the SQLite this process links.

    SQLite 3.7.0 to 3.51.2 has the WAL-reset bug (https://sqlite.org/wal.html#walresetbug,
    fixed in 3.51.3 and backported to 3.44.6 and 3.50.7): when a checkpoint races with a
    writer restarting the log, a later checkpoint can skip frames and a committed
    transaction is gone. The embedded default is the worst case for it: four services,
    their workers and every bus reading the others' outboxes, each opening a connection per
    transaction, so checkpoints run all the time from many processes. A full-size chaos run
    on 3.40.1 (Debian 12's) lost one acknowledged issue, rows and all. On such a SQLite the
    stores keep the rollback journal instead: a writer's commit waits for readers to finish,
    which costs the embedded default speed, never data."""
    fixed = (
        version >= (3, 51, 3)
        or (3, 50, 7) <= version < (3, 51, 0)
        or (3, 44, 6) <= version < (3, 45, 0)
    )
    return "wal" if fixed else "delete"


JOURNAL_MODE = journal_mode(sqlite3.sqlite_version_info)


def normalize_url(url: str) -> str:
    """Accept the usual postgresql:// form and use the psycopg 3 driver for it."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def is_sqlite(url: str) -> bool:
    return url.startswith("sqlite")


def create_engines(url: str) -> tuple[Engine, Engine]:
    """(writer, reader). On SQLite the writer begins IMMEDIATE so a transaction that
    reads then writes never fails half-way on a lock upgrade; the reader stays deferred."""
    url = normalize_url(url)
    if not is_sqlite(url):
        engine = _postgres_engine(url)
        return engine, engine
    Path(url.split("///", 1)[1]).parent.mkdir(parents=True, exist_ok=True)
    return _sqlite_engine(url, immediate=True), _sqlite_engine(url, immediate=False)


def autocommit_engine(url: str) -> Engine:
    """PostgreSQL connections that stay in autocommit, in a pool of their own (for
    Store.writes' pipelines): switching a pooled connection to autocommit and back on every
    checkout cost a twentieth of a submission's Python. It connects on first use."""
    return _postgres_engine(normalize_url(url), isolation_level="AUTOCOMMIT")


def _postgres_engine(url: str, **options) -> Engine:
    # No pre-ping: it costs a round trip per transaction; a connection found dead fails
    # that one transaction (nothing half-written) and the pool replaces it.
    return create_engine(url, pool_size=5, max_overflow=10, pool_recycle=3600, **options)


def _sqlite_engine(url: str, immediate: bool) -> Engine:
    engine = create_engine(
        url,
        connect_args={"isolation_level": None, "timeout": 30, "check_same_thread": False},
        poolclass=NullPool,
    )

    @event.listens_for(engine, "connect")
    def _pragmas(dbapi_conn, _record):
        cur = dbapi_conn.cursor()
        _set_journal_mode(cur, url)
        # FULL: an accepted issue survives a power cut, not only kill -9.
        cur.execute("PRAGMA synchronous=FULL")
        cur.execute("PRAGMA busy_timeout=30000")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.close()

    @event.listens_for(engine, "begin")
    def _begin(conn):
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    return engine


def _set_journal_mode(cur: sqlite3.Cursor, url: str) -> None:
    """The mode is the file's, not the connection's. A store an earlier release left in WAL
    leaves it only when no other connection has it open; until one gets that moment, the
    connection works in WAL as before."""
    if cur.execute("PRAGMA journal_mode").fetchone()[0] == JOURNAL_MODE:
        return
    try:
        cur.execute(f"PRAGMA journal_mode={JOURNAL_MODE}")
    except sqlite3.OperationalError as exc:  # "database is locked": others have it open
        log.debug("%s stays in its journal mode for now: %s", url, exc)


@contextmanager
def _migration_lock(engine: Engine, service: str):
    """Replicas starting together must not migrate at the same time."""
    if engine.dialect.name == "postgresql":
        with engine.connect() as conn:
            conn.execute(
                text("SELECT pg_advisory_lock(hashtext(:k))"), {"k": f"loudong-migrate-{service}"}
            )
            try:
                yield
            finally:
                conn.execute(
                    text("SELECT pg_advisory_unlock(hashtext(:k))"),
                    {"k": f"loudong-migrate-{service}"},
                )
                conn.commit()
        return
    lock_path = Path(engine.url.database).with_suffix(".migrate.lock")
    with open(lock_path, "w") as lock_file:
        fcntl.flock(lock_file, fcntl.LOCK_EX)
        yield


def migrate(engine: Engine, service: str, versions_dir: Path) -> None:
    """Bring the service's schema to the newest revision (Alembic), at start."""
    # Imported here: Alembic costs each service ~11 MB resident, and only migrating needs it.
    from alembic import command
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("path_separator", "os")  # paths with spaces stay whole
    cfg.set_main_option("script_location", str(MIGRATIONS_ENV))
    cfg.set_main_option("version_locations", str(versions_dir))
    with _migration_lock(engine, service):
        with engine.begin() as conn:
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "head")


# Rows from which insert_rows COPYs on PostgreSQL. Below it psycopg's pipelined executemany
# is as quick (COPY costs a round trip more); above it, COPY spends ~2 us of Python a row
# where the executemany spends ~15 (a Bind, an Execute and their results each).
COPY_FROM_ROWS = 16


@functools.cache
def _insert(table: Table):
    """Built once a table, values at execute time. Inline: nobody reads back a generated key
    (no RETURNING), so the statement may go out in a pipeline (shared.outbox Store.writes)."""
    return insert(table).inline()


def insert_once(conn: Connection, table: Table, row: dict) -> bool:
    """Insert `row` unless a row with the same key is there already; whether it inserted. One
    statement (ON CONFLICT DO NOTHING), not a SELECT before the INSERT. Against a second
    transaction inserting the same key it waits for that one's end, then inserts (it rolled
    back) or does nothing."""
    return conn.execute(_insert_once(table, conn.dialect.name), row).first() is not None


@functools.cache
def _insert_once(table: Table, dialect: str):
    """Built once a table and dialect. RETURNING says whether it inserted: rowcount is -1 on
    psycopg for it."""
    insert_for = postgresql.insert if dialect == "postgresql" else sqlite.insert
    return insert_for(table).on_conflict_do_nothing().returning(*table.primary_key.columns)


def insert_rows(conn: Connection, table: Table, rows: list[dict]) -> None:
    """Insert `rows` (dicts with the same keys) into `table` in the caller's transaction: one
    executemany, or on PostgreSQL from COPY_FROM_ROWS rows up one COPY (unless in a pipeline,
    which takes no COPY). A failure is the SQLAlchemy error an executemany would raise (an
    IntegrityError for a duplicate key)."""
    if not rows:
        return
    names = list(rows[0])
    # COPY knows the server's defaults only: the columns' Python ones are filled in by hand,
    # which a constant allows; a callable one leaves the rows to SQLAlchemy's executemany.
    missing = (
        [c for c in table.columns if c.name not in names and c.default is not None]
        if len(rows) >= COPY_FROM_ROWS and _may_copy(conn)
        else None
    )
    if missing is None or not all(c.default.is_scalar for c in missing):
        conn.execute(_insert(table), rows)
        return
    defaults = {c.name: c.default.arg for c in missing}
    names += defaults
    processors = [table.c[name].type.bind_processor(conn.dialect) for name in names]
    sql = f"COPY {table.name} ({', '.join(names)}) FROM STDIN"
    with driver_errors(conn, sql), conn.connection.driver_connection.cursor() as cur:
        with cur.copy(sql) as copy:
            for row in rows:
                values = [row.get(name, defaults.get(name)) for name in names]
                copy.write_row(
                    [v if p is None else p(v) for v, p in zip(values, processors, strict=True)]
                )


@contextmanager
def driver_errors(conn: Connection, what: str):
    """psycopg used below SQLAlchemy (a COPY, a pipeline): its errors raised as the SQLAlchemy
    error the same statement would have raised through SQLAlchemy (IntegrityError for a
    duplicate key…), and a connection found dropped invalidated, so that the pool replaces it
    and shared.db.connection_dropped recognises the error."""
    import psycopg  # here: the embedded default never loads the PostgreSQL driver

    try:
        yield
    except psycopg.Error as exc:
        driver = conn.connection.driver_connection
        dropped = conn.dialect.is_disconnect(exc, driver, None)
        if dropped:
            conn.invalidate(exc)
        raise DBAPIError.instance(
            what, None, exc, psycopg.Error, connection_invalidated=dropped
        ) from exc


def _may_copy(conn: Connection) -> bool:
    if conn.dialect.name != "postgresql":
        return False
    from psycopg import pq

    return conn.connection.driver_connection.pgconn.pipeline_status == pq.PipelineStatus.OFF


def update_rows(conn: Connection, table: Table, keys: tuple[str, ...], rows: list[dict]) -> None:
    """Update each row of `table` that `rows` name by their `keys` columns to the rest of their
    values (every dict with the same keys), in the caller's transaction: on PostgreSQL from
    COPY_FROM_ROWS rows up one UPDATE joined to the rows sent as one JSON parameter
    (json_to_recordset), else one executemany. The statement's plan and round trip are paid
    once, not once a row; JSON because psycopg adapts a list parameter element by element in
    Python, as slowly as the executemany's rows."""
    if not rows:
        return
    names = list(rows[0])
    changed = [name for name in names if name not in keys]
    if conn.dialect.name != "postgresql" or len(rows) < COPY_FROM_ROWS:
        conn.execute(
            _update(table, keys, tuple(changed)),
            [{(f"k_{n}" if n in keys else f"v_{n}"): row[n] for n in names} for row in rows],
        )
        return
    processors = {name: table.c[name].type.bind_processor(conn.dialect) for name in names}
    records = [
        {n: v if (p := processors[n]) is None else p(v) for n, v in row.items()} for row in rows
    ]
    columns = ", ".join(f"{name} {table.c[name].type.compile(conn.dialect)}" for name in names)
    sql = (
        f"UPDATE {table.name} SET {', '.join(f'{n} = v.{n}' for n in changed)} "
        f"FROM json_to_recordset(%(rows)s::json) AS v ({columns}) "
        f"WHERE {' AND '.join(f'{table.name}.{k} = v.{k}' for k in keys)}"
    )
    conn.exec_driver_sql(sql, {"rows": json.dumps(records, default=_json_value)})


@functools.cache
def _update(table: Table, keys: tuple[str, ...], changed: tuple[str, ...]):
    """Built once a shape, values at execute time: the sweeper writes a few clocks a sweep."""
    return (
        table.update()
        .where(*(table.c[k] == bindparam(f"k_{k}") for k in keys))
        .values({name: bindparam(f"v_{name}") for name in changed})
    )


def _json_value(value):
    """What json_to_recordset reads back as the column's type: datetimes as ISO 8601."""
    if hasattr(value, "isoformat"):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not a column value update_rows can send")


class UTCDateTime(TypeDecorator):
    """Stores UTC, hands back aware UTC datetimes on every backend (SQLite keeps no zone)."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is UTC:  # nearly every one: utcnow() and what the columns hand back
            return value.replace(tzinfo=None)
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value, dialect):
        return None if value is None else value.replace(tzinfo=UTC)


# SQLSTATEs of a connection the server ended: connection exceptions (08…), and the server
# shutting a backend down (57P01 admin shutdown — pg_terminate_backend, a failover —, 57P02
# crash shutdown, 57P03 cannot connect now).
_DROPPED_STATES = ("57P01", "57P02", "57P03")


def connection_dropped(exc: BaseException) -> bool:
    """Whether `exc` says the database connection went away under us (the work may be done
    again on a fresh one), rather than that the statement itself failed."""
    if isinstance(exc, DisconnectionError):
        return True
    if not isinstance(exc, DBAPIError):
        return False
    state = getattr(exc.orig, "sqlstate", None) or ""
    return exc.connection_invalidated or state.startswith("08") or state in _DROPPED_STATES


# deadlock_detected, serialization_failure, lock_not_available: the statement lost a race
# with another transaction, not a fault of the work itself.
_CONFLICT_STATES = ("40P01", "40001", "55P03")


def lost_a_race(exc: BaseException) -> bool:
    """Whether `exc` says another transaction got in the way (PostgreSQL chose this one as a
    deadlock's victim, say): done again at once, the same work will most likely succeed."""
    if not isinstance(exc, DBAPIError):
        return False
    return (getattr(exc.orig, "sqlstate", None) or "") in _CONFLICT_STATES
