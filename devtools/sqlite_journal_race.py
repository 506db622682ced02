"""Does this machine's SQLite lose committed writes in a journal mode? (the WAL-reset bug)

    python -m devtools.sqlite_journal_race wal 600      # 3.40.1 here: corrupt, rows missing
    python -m devtools.sqlite_journal_race delete 180   # what the stores keep on it instead

The access pattern of the embedded default, made denser: writer processes each open a
connection per transaction (as NullPool does), commit one row and note its id only once
COMMIT has returned; reader processes do the same with short reads; two processes checkpoint
in a loop, standing in for the many checkpoints every close and auto-checkpoint runs across
four services. At the end every id noted as committed must be in the table, and the file
must pass integrity_check. Not part of `make test`: on an affected SQLite it takes minutes
to hit the race, and a test cannot wait for luck.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import random
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

WRITERS, READERS, CHECKPOINTERS = 4, 2, 2


def _connect(db: Path, mode: str) -> sqlite3.Connection:
    conn = sqlite3.connect(db, isolation_level=None, timeout=30)
    conn.execute(f"PRAGMA journal_mode={mode}")
    conn.execute("PRAGMA synchronous=FULL")
    return conn


def _writer(db: Path, mode: str, n: int, until: float) -> None:
    with open(f"{db}.committed-{n}", "a") as noted:
        i = 0
        while time.time() < until:
            conn = _connect(db, mode)
            try:
                conn.execute("BEGIN IMMEDIATE")
                body = os.urandom(random.choice((50, 300, 1500))).hex()
                conn.execute("INSERT INTO t(id, body) VALUES (?, ?)", (f"{n}-{i}", body))
                conn.execute("COMMIT")
                noted.write(f"{n}-{i}\n")
                noted.flush()
            except sqlite3.Error:
                pass  # not committed, not noted; a corrupt file shows at the end
            finally:
                conn.close()
            i += 1
            time.sleep(random.random() * 0.004)


def _reader(db: Path, mode: str, until: float) -> None:
    while time.time() < until:
        conn = _connect(db, mode)
        try:
            conn.execute("SELECT max(rowid) FROM t").fetchone()
        except sqlite3.Error:
            pass
        finally:
            conn.close()
        time.sleep(random.random() * 0.004)


def _checkpointer(db: Path, mode: str, until: float) -> None:
    conn = _connect(db, mode)
    while time.time() < until:
        with contextlib.suppress(sqlite3.Error):  # busy now and then; the next one goes on
            conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        time.sleep(random.random() * 0.001)


def run(mode: str, seconds: float, folder: Path) -> tuple[int, int, str]:
    """(ids committed, ids missing, integrity_check's first line)."""
    db = folder / "race.db"
    conn = _connect(db, mode)
    conn.execute("CREATE TABLE IF NOT EXISTS t (id TEXT PRIMARY KEY, body TEXT)")
    conn.close()
    until = time.time() + seconds
    workers = (
        [(_writer, (db, mode, n, until)) for n in range(WRITERS)]
        + [(_reader, (db, mode, until))] * READERS
        + [(_checkpointer, (db, mode, until))] * CHECKPOINTERS
    )
    processes = [multiprocessing.Process(target=f, args=a) for f, a in workers]
    for process in processes:
        process.start()
    for process in processes:
        process.join()
    committed: set[str] = set()
    for n in range(WRITERS):
        committed |= set(Path(f"{db}.committed-{n}").read_text().split())
    conn = _connect(db, mode)
    try:
        integrity = conn.execute("PRAGMA integrity_check").fetchone()[0]
        present = {row[0] for row in conn.execute("SELECT id FROM t")}
    except sqlite3.DatabaseError as exc:
        integrity, present = str(exc), set()
    return len(committed), len(committed - present), integrity


def main() -> int:
    mode = sys.argv[1] if len(sys.argv) > 1 else "wal"
    seconds = float(sys.argv[2]) if len(sys.argv) > 2 else 300
    with tempfile.TemporaryDirectory() as folder:
        committed, missing, integrity = run(mode, seconds, Path(folder))
    print(
        f"SQLite {sqlite3.sqlite_version}, journal_mode={mode}, {seconds:.0f} s: "
        f"{committed} committed, {missing} missing, integrity_check: {integrity}"
    )
    return 1 if missing or integrity != "ok" else 0


if __name__ == "__main__":
    sys.exit(main())
