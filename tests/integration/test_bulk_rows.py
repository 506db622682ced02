"""shared.db's insert_rows and update_rows, on SQLite and on the real PostgreSQL, below and
above the row count from which PostgreSQL gets one COPY or one UPDATE for them all: the same
rows land, with the columns' types and Python defaults applied, text that COPY must escape
intact, and a duplicate key fails the transaction as an executemany would, leaving nothing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from shared.db import COPY_FROM_ROWS, UTCDateTime, create_engines, insert_rows, update_rows

metadata = sa.MetaData()
things = sa.Table(
    "things",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("part", sa.Integer, primary_key=True),
    sa.Column("body", sa.Text),
    sa.Column("done", sa.Boolean, nullable=False),
    sa.Column("share", sa.Float),
    sa.Column("level", sa.Integer, nullable=False, default=7),  # a Python default
    sa.Column("at", UTCDateTime, nullable=False),
)
AWKWARD = "楼道\t堆放\n杂物 \\ back\\slash \\N \"quoted\" 'single' ,comma \r end"
T0 = datetime(2026, 12, 7, 3, 4, 5, 678901, tzinfo=UTC)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def engine(request, tmp_path):
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path}/bulk.db"
    else:
        url = request.getfixturevalue("postgres_urls")["dispatch"]
    writer, _reader = create_engines(url)
    metadata.create_all(writer)
    yield writer
    writer.dispose()


def _rows(count: int, first: int = 0) -> list[dict]:
    return [
        {
            "id": f"issue-{n}",
            "part": n % 3,
            "body": None if n % 5 == 0 else f"{AWKWARD} {n}",
            "done": n % 2 == 0,
            "share": n / 7,
            "at": T0 + timedelta(minutes=n),
        }
        for n in range(first, first + count)
    ]


def _stored(engine) -> list[dict]:
    with engine.connect() as conn:
        return [dict(r) for r in conn.execute(sa.select(things).order_by(things.c.id)).mappings()]


def _expected(rows: list[dict]) -> list[dict]:
    return sorted(({**row, "level": row.get("level", 7)} for row in rows), key=lambda r: r["id"])


@pytest.mark.parametrize("count", [1, COPY_FROM_ROWS - 1, COPY_FROM_ROWS, 3 * COPY_FROM_ROWS])
def test_inserted_rows_are_the_rows_given(engine, count):
    rows = _rows(count)
    with engine.begin() as conn:
        insert_rows(conn, things, rows)
    stored = _stored(engine)
    assert stored == _expected(rows)
    assert all(row["at"].tzinfo is UTC for row in stored)


def test_a_row_giving_a_defaulted_column_keeps_its_own_value(engine):
    rows = [{**row, "level": 2} for row in _rows(COPY_FROM_ROWS)]
    with engine.begin() as conn:
        insert_rows(conn, things, rows)
    assert {row["level"] for row in _stored(engine)} == {2}


@pytest.mark.parametrize("count", [2, 2 * COPY_FROM_ROWS])
def test_a_duplicate_key_fails_the_transaction_and_leaves_nothing(engine, count):
    rows = _rows(count)
    with pytest.raises(IntegrityError), engine.begin() as conn:
        insert_rows(conn, things, [*rows, rows[0]])
    assert _stored(engine) == []


def test_no_rows_is_nothing_to_do(engine):
    with engine.begin() as conn:
        insert_rows(conn, things, [])
        update_rows(conn, things, ("id", "part"), [])
    assert _stored(engine) == []


@pytest.mark.parametrize("count", [1, COPY_FROM_ROWS - 1, COPY_FROM_ROWS, 3 * COPY_FROM_ROWS])
def test_updated_rows_take_their_new_values_and_the_others_keep_theirs(engine, count):
    rows = _rows(count + 5)
    with engine.begin() as conn:
        insert_rows(conn, things, rows)
    changed = [
        {
            "id": row["id"],
            "part": row["part"],
            "body": None if n % 4 == 0 else f"{AWKWARD} changed {n}",
            "done": not row["done"],
            "share": None,
            "level": n,
            "at": row["at"] + timedelta(days=365, microseconds=1),
        }
        for n, row in enumerate(rows[:count])
    ]
    untouched = rows[count:]
    with engine.begin() as conn:
        update_rows(conn, things, ("id", "part"), changed)
    assert _stored(engine) == _expected(changed + untouched)


def test_an_update_matches_on_every_key_column(engine):
    rows = _rows(COPY_FROM_ROWS)
    with engine.begin() as conn:
        insert_rows(conn, things, rows)
    wrong_part = [{"id": row["id"], "part": row["part"] + 10, "body": "never"} for row in rows]
    with engine.begin() as conn:
        update_rows(conn, things, ("id", "part"), wrong_part)
    assert "never" not in {row["body"] for row in _stored(engine)}


stamped = sa.Table(
    "stamped",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("tag", sa.String(16), nullable=False, default=lambda: "made-by-python"),
)


def test_a_column_whose_python_default_is_a_function_still_gets_it(engine):
    """COPY could not call it: these rows go by SQLAlchemy's executemany."""
    with engine.begin() as conn:
        insert_rows(conn, stamped, [{"id": f"s{n}"} for n in range(2 * COPY_FROM_ROWS)])
    with engine.connect() as conn:
        tags = conn.execute(sa.select(stamped.c.tag)).scalars().all()
    assert tags == ["made-by-python"] * (2 * COPY_FROM_ROWS)
