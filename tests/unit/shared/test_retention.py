"""Retention on the embedded bus: a producer removes the outbox rows every consumer has read,
a day after they all have; a consumer that lags, is down or has never run holds what it has
not read, and comes back to find every event it was owed."""

import pytest
from sqlalchemy import func, select

from shared.outbox import bus_cursor, inbox, outbox
from shared.retention import OutboxRetention
from shared.runtime import consumers_of
from shared.trace import trace
from tests.helpers import AUTH, SUBMISSION, FakeClock, build, count_rows, emitted

CONSUMERS = ("dispatch", "escalation", "notify")


@pytest.fixture
def intake(tmp_path):
    intake = build("intake", tmp_path)
    yield intake
    intake.store.dispose()


@pytest.fixture
def consumers(tmp_path):
    built = {name: build(name, tmp_path) for name in CONSUMERS}
    yield built
    for service in built.values():
        service.store.dispose()


def _submit(intake, count: int) -> list[str]:
    client = intake.app.test_client()
    return [
        client.post("/v1/issues", headers=AUTH, json=SUBMISSION).json["id"] for _ in range(count)
    ]


def _retention(intake, clock) -> OutboxRetention:
    return OutboxRetention(intake.store, consumers_of(intake.settings), clock=clock)


def _read_all(*services) -> None:
    for service in services:
        service.bus.poll_once()


def _cursor(service, source: str) -> int | None:
    with service.store.read() as conn:
        return conn.execute(
            select(bus_cursor.c.position).where(bus_cursor.c.source == source)
        ).scalar()


def _applied(service) -> int:
    """The issues this consumer has applied (its inbox), whatever it made of them."""
    with service.store.read() as conn:
        return conn.execute(
            select(func.count()).where(inbox.c.type == "issue.submitted")
        ).scalar_one()


def _newest_seq(store) -> int:
    with store.read() as conn:
        return conn.execute(select(func.max(outbox.c.seq))).scalar()


def test_a_consumer_moves_its_cursor_past_the_types_it_does_not_read(intake, consumers):
    _submit(intake, 2)  # issue.submitted: dispatch reads it, escalation does not

    _read_all(consumers["escalation"])

    assert _cursor(consumers["escalation"], "intake") == _newest_seq(intake.store)
    assert emitted(consumers["escalation"].store) == []


def test_rows_stay_while_one_consumer_has_not_read_them(intake, consumers):
    _submit(intake, 3)
    _read_all(consumers["dispatch"], consumers["escalation"])  # notify lags behind
    clock = FakeClock()

    removed = _retention(intake, clock).run_once()
    clock.advance(days=2)
    removed += _retention(intake, clock).run_once()

    assert removed == 0
    assert count_rows(intake.store, outbox) == 3


def test_rows_every_consumer_has_read_go_a_day_after_they_all_have(intake, consumers):
    _submit(intake, 3)
    _read_all(*consumers.values())
    clock = FakeClock()
    retention = _retention(intake, clock)

    assert retention.run_once() == 0  # all read: marked now, kept for the grace
    clock.advance(hours=23)
    assert retention.run_once() == 0
    clock.advance(hours=2)
    removed = retention.run_once()

    assert removed == 2
    assert count_rows(intake.store, outbox) == 1  # the newest stays (see the next test)


def test_the_newest_row_stays_so_a_new_event_never_gets_a_seq_below_the_cursors(intake, consumers):
    _submit(intake, 2)
    _read_all(*consumers.values())
    clock = FakeClock()
    retention = _retention(intake, clock)
    retention.run_once()
    clock.advance(days=2)
    retention.run_once()
    read_up_to = _cursor(consumers["dispatch"], "intake")

    _submit(intake, 1)
    _read_all(consumers["dispatch"])

    assert _newest_seq(intake.store) > read_up_to
    assert _applied(consumers["dispatch"]) == 3


def test_a_consumer_that_never_ran_holds_everything_and_gets_it_all(tmp_path, intake):
    escalation, notify = build("escalation", tmp_path), build("notify", tmp_path)
    _submit(intake, 3)
    _read_all(escalation, notify)  # dispatch has no store yet: it has never run here
    clock = FakeClock()
    retention = _retention(intake, clock)
    retention.run_once()
    clock.advance(days=2)

    assert retention.run_once() == 0
    dispatch = build("dispatch", tmp_path)
    _read_all(dispatch)
    assert _applied(dispatch) == 3
    for service in (escalation, notify, dispatch):
        service.store.dispose()


def test_a_consumer_down_for_days_loses_no_event_written_meanwhile(tmp_path, intake, consumers):
    _submit(intake, 2)
    _read_all(*consumers.values())
    consumers["dispatch"].store.dispose()  # dispatch goes down
    _submit(intake, 3)
    _read_all(consumers["escalation"], consumers["notify"])
    clock = FakeClock()
    retention = _retention(intake, clock)
    retention.run_once()
    clock.advance(days=3)

    removed = retention.run_once()
    dispatch = build("dispatch", tmp_path)  # back up
    _read_all(dispatch)

    assert removed == 2  # only what dispatch had read before it went down
    assert _applied(dispatch) == 5
    dispatch.store.dispose()


def test_trace_still_follows_an_issue_during_the_grace(tmp_path, intake, consumers):
    first, _second = _submit(intake, 2)
    _read_all(*consumers.values())
    clock = FakeClock()
    retention = _retention(intake, clock)
    retention.run_once()
    env = {"LOUDONG_DATA_DIR": str(tmp_path / "data")}

    during = [(s.service, s.what, s.subject) for s in trace(first, env)]
    clock.advance(days=1, seconds=1)
    retention.run_once()
    after = [(s.service, s.what, s.subject) for s in trace(first, env)]

    assert ("intake", "committed", "issue.submitted") in during
    assert ("dispatch", "applied", "issue.submitted") in during
    assert ("intake", "committed", "issue.submitted") not in after
