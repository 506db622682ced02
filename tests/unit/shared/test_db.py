"""The embedded stores' journal: the rollback journal on a SQLite with the WAL-reset bug, WAL
on one without it, and a store an earlier release left in WAL brought over when it can be."""

import sqlite3
from contextlib import closing

import pytest
from sqlalchemy import text

from shared.db import JOURNAL_MODE, create_engines, journal_mode


@pytest.mark.parametrize(
    "version, mode",
    [
        ((3, 40, 1), "delete"),  # Debian 12
        ((3, 46, 1), "delete"),  # Debian 13, python:3.11-slim
        ((3, 44, 5), "delete"),
        ((3, 44, 6), "wal"),  # the backports
        ((3, 45, 0), "delete"),
        ((3, 50, 6), "delete"),
        ((3, 50, 7), "wal"),
        ((3, 51, 2), "delete"),
        ((3, 51, 3), "wal"),  # the fix
        ((3, 54, 1), "wal"),
        ((4, 0, 0), "wal"),
    ],
)
def test_wal_only_where_the_wal_reset_bug_is_fixed(version, mode):
    assert journal_mode(version) == mode


def _mode_on_disk(path) -> str:
    with closing(sqlite3.connect(path)) as conn:
        return conn.execute("PRAGMA journal_mode").fetchone()[0]


def test_a_new_store_keeps_the_journal_chosen_for_this_sqlite(tmp_path):
    writer, reader = create_engines(f"sqlite:///{tmp_path}/s.db")
    with writer.begin() as conn:
        conn.execute(text("CREATE TABLE t (n INTEGER)"))
        conn.execute(text("INSERT INTO t VALUES (1)"))
    with reader.connect() as conn:
        assert conn.execute(text("SELECT n FROM t")).scalar() == 1
    assert _mode_on_disk(tmp_path / "s.db") == JOURNAL_MODE


def test_a_store_left_in_wal_moves_once_nobody_else_has_it_open(tmp_path):
    path = tmp_path / "old.db"
    with closing(sqlite3.connect(path, isolation_level=None)) as conn:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("CREATE TABLE t (n INTEGER)")
        conn.execute("INSERT INTO t VALUES (1)")
    holder = sqlite3.connect(path)  # another process's reader, say
    holder.execute("SELECT n FROM t").fetchall()
    writer, _ = create_engines(f"sqlite:///{path}")
    with writer.begin() as conn:  # works in WAL meanwhile
        conn.execute(text("INSERT INTO t VALUES (2)"))
    assert _mode_on_disk(path) == "wal"
    holder.close()
    with writer.begin() as conn:
        conn.execute(text("INSERT INTO t VALUES (3)"))
    assert _mode_on_disk(path) == JOURNAL_MODE
    with writer.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM t")).scalar() == 3
