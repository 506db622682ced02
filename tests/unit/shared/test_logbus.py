"""The embedded bus: reads other services' outboxes in order, dead-letters what it cannot apply,
and never applies an event twice; a failing event is set aside without stalling the others,
and its issue's later events wait behind it."""

import time
from datetime import timedelta

import pytest
import sqlalchemy
from prometheus_client import REGISTRY
from sqlalchemy import insert, select

from shared.envelope import utcnow
from shared.outbox import dead_letter, inbox, outbox, retry
from shared.subscriber import UnknownIssue
from tests.helpers import AUTH, SUBMISSION, FakeClock, build, count_rows, emitted, event


@pytest.fixture
def pair(tmp_path):
    intake, dispatch = build("intake", tmp_path), build("dispatch", tmp_path)
    yield intake, dispatch
    intake.store.dispose()
    dispatch.store.dispose()


def _raw_into_outbox(store, body: str, type_: str = "issue.submitted") -> None:
    with store.writer.begin() as conn:
        conn.execute(
            insert(outbox).values(
                event_id=body[:36], type=type_, issue_id="x", body=body, created_at=utcnow()
            )
        )


def test_dispatch_reads_intakes_outbox_and_dispatches(pair):
    intake, dispatch = pair
    intake.app.test_client().post("/v1/issues", headers=AUTH, json=SUBMISSION)

    seen = dispatch.bus.poll_once()

    assert seen == 1
    assert len(emitted(dispatch.store, "issue.dispatched")) == 1
    assert dispatch.bus.poll_once() == 0  # the cursor moved with the effect


def test_a_malformed_message_is_dead_lettered_and_the_next_one_still_applies(pair):
    intake, dispatch = pair
    _raw_into_outbox(intake.store, "{this is not an envelope")
    intake.app.test_client().post("/v1/issues", headers=AUTH, json=SUBMISSION)

    dispatch.bus.poll_once()

    assert count_rows(dispatch.store, dead_letter) == 1
    assert len(emitted(dispatch.store, "issue.dispatched")) == 1
    with dispatch.store.read() as conn:
        [reason] = conn.execute(select(dead_letter.c.reason)).scalars()
    assert reason.startswith("malformed")


def test_a_handler_that_keeps_failing_is_retried_then_dead_lettered(pair):
    intake, dispatch = pair
    intake.app.test_client().post("/v1/issues", headers=AUTH, json=SUBMISSION)
    attempts = []

    def broken(uow, event, context):
        attempts.append(event.id)
        raise RuntimeError("unit directory unreachable")

    dispatch.subscriber._handlers["issue.submitted"] = broken
    dispatch.bus.poll_once()

    assert len(attempts) == 3  # LOUDONG_RETRY_DELAYS=0,0: two retries after the first try
    assert count_rows(dispatch.store, dead_letter) == 1
    assert emitted(dispatch.store) == []


def test_a_source_whose_store_is_not_migrated_yet_is_waited_for_quietly(tmp_path, caplog):
    dispatch = build("dispatch", tmp_path)
    (
        tmp_path / "data" / "intake.db"
    ).touch()  # intake's file exists, its migrations have not run yet

    with caplog.at_level("WARNING"):
        seen = dispatch.bus.poll_once()

    assert seen == 0
    assert dispatch.bus.is_ready()
    assert [r.getMessage() for r in caplog.records if r.levelname == "WARNING"] == []
    dispatch.store.dispose()


def test_a_source_read_after_its_migrations_ran_delivers_what_it_waited_for(tmp_path):
    dispatch = build("dispatch", tmp_path)
    (tmp_path / "data" / "intake.db").touch()
    dispatch.bus.poll_once()
    intake = build("intake", tmp_path)
    intake.app.test_client().post("/v1/issues", headers=AUTH, json=SUBMISSION)

    seen = dispatch.bus.poll_once()

    assert seen == 1
    intake.store.dispose()
    dispatch.store.dispose()


SUBMITTED = {"category": "other", "location": {"street": "taibai"}}


def _into_outbox(store, envelope) -> None:
    with store.writer.begin() as conn:
        conn.execute(
            insert(outbox).values(
                event_id=envelope.id,
                type=envelope.type,
                issue_id=envelope.issue_id,
                body=envelope.to_json(),
                created_at=utcnow(),
            )
        )


class Poisoned:
    """A handler that fails on the events it is told to, until it recovers."""

    def __init__(self, *poison):
        self.poison = {e.id for e in poison}
        self.applied: list[str] = []
        self.attempts: list[str] = []

    def __call__(self, uow, envelope, context):
        self.attempts.append(envelope.id)
        if envelope.id in self.poison:
            raise RuntimeError("unit directory unreachable")
        self.applied.append(envelope.id)

    def recover(self):
        self.poison.clear()


def _dispatch(tmp_path, handler, delays="1,5,30", **extra):
    dispatch = build("dispatch", tmp_path, LOUDONG_RETRY_DELAYS=delays, **extra)
    dispatch.subscriber._handlers["issue.submitted"] = handler
    clock = FakeClock()
    dispatch.bus._clock = clock
    return dispatch, clock


def _retries(store):
    with store.read() as conn:
        return [
            (row.issue_id, row.attempt, row.next_attempt_at)
            for row in conn.execute(select(retry).order_by(retry.c.id))
        ]


def _sample(name, **labels):
    return REGISTRY.get_sample_value(name, labels) or 0


@pytest.fixture
def intake(tmp_path):
    intake = build("intake", tmp_path)
    yield intake
    intake.store.dispose()


def test_a_poison_event_does_not_delay_another_issues_event(tmp_path, intake):
    poison, ordinary = (
        event("issue.submitted", "A", SUBMITTED),
        event("issue.submitted", "B", SUBMITTED),
    )
    handler = Poisoned(poison)
    dispatch, clock = _dispatch(tmp_path, handler)
    _into_outbox(intake.store, poison)
    _into_outbox(intake.store, ordinary)

    started = time.monotonic()
    dispatch.bus.poll_once()

    assert time.monotonic() - started < 1  # no retry delay slept inline
    assert handler.applied == [ordinary.id]  # in the same poll
    assert _retries(dispatch.store) == [("A", 1, clock.now + timedelta(seconds=1))]
    assert dispatch.bus.poll_once() == 0  # the cursor moved past both; A is not due yet
    dispatch.store.dispose()


def test_a_later_event_of_the_same_issue_waits_behind_its_poison_one(tmp_path, intake):
    first, second = (
        event("issue.submitted", "A", SUBMITTED),
        event("issue.submitted", "A", SUBMITTED),
    )
    other = event("issue.submitted", "B", SUBMITTED)
    handler = Poisoned(first)
    dispatch, clock = _dispatch(tmp_path, handler)
    for envelope in (first, second, other):
        _into_outbox(intake.store, envelope)

    dispatch.bus.poll_once()
    assert handler.applied == [other.id]
    assert [(i, a) for i, a, _ in _retries(dispatch.store)] == [("A", 1), ("A", 0)]

    handler.recover()
    dispatch.bus.poll_once()  # the first is not due yet, so the second still waits
    assert handler.applied == [other.id]

    clock.advance(seconds=1)
    dispatch.bus.poll_once()
    assert handler.applied == [other.id, first.id, second.id]
    assert _retries(dispatch.store) == []
    assert count_rows(dispatch.store, inbox) == 3
    dispatch.store.dispose()


def test_after_the_last_attempt_it_is_dead_lettered_counted_and_its_issue_goes_on(tmp_path, intake):
    poison, behind = (
        event("issue.submitted", "A", SUBMITTED),
        event("issue.submitted", "A", SUBMITTED),
    )
    handler = Poisoned(poison)
    dispatch, clock = _dispatch(tmp_path, handler, delays="1,5")
    _into_outbox(intake.store, poison)
    _into_outbox(intake.store, behind)
    dead_before = _sample(
        "loudong_dead_lettered_total", service="dispatch", reason="handler_failed"
    )
    retried_before = _sample(
        "loudong_events_consumed_total",
        service="dispatch",
        type="issue.submitted",
        outcome="retried",
    )

    dispatch.bus.poll_once()
    clock.advance(seconds=1)
    dispatch.bus.poll_once()
    assert [a for _, a, _ in _retries(dispatch.store)] == [2, 0]
    clock.advance(seconds=4)
    dispatch.bus.poll_once()  # not due before 5 s
    assert handler.attempts == [poison.id, poison.id]
    clock.advance(seconds=1)
    dispatch.bus.poll_once()

    assert handler.attempts == [poison.id] * 3 + [behind.id]
    assert handler.applied == [behind.id]
    assert _retries(dispatch.store) == []
    assert count_rows(dispatch.store, dead_letter) == 1
    with dispatch.store.read() as conn:
        [(reason, body)] = conn.execute(select(dead_letter.c.reason, dead_letter.c.body)).all()
    assert reason.startswith("handler_failed") and poison.id in body
    assert (
        _sample("loudong_dead_lettered_total", service="dispatch", reason="handler_failed")
        == dead_before + 1
    )
    assert (
        _sample(
            "loudong_events_consumed_total",
            service="dispatch",
            type="issue.submitted",
            outcome="retried",
        )
        == retried_before + 2
    )
    dispatch.store.dispose()


def test_a_crash_between_attempts_loses_nothing(tmp_path, intake):
    poison, behind = (
        event("issue.submitted", "A", SUBMITTED),
        event("issue.submitted", "A", SUBMITTED),
    )
    other = event("issue.submitted", "B", SUBMITTED)
    dispatch, clock = _dispatch(tmp_path, Poisoned(poison))
    for envelope in (poison, behind, other):
        _into_outbox(intake.store, envelope)
    dispatch.bus.poll_once()
    dispatch.store.dispose()  # the process dies between the first attempt and the second

    handler = Poisoned()  # comes back, and the unit directory with it
    rebuilt, clock = _dispatch(tmp_path, handler)
    assert [(i, a) for i, a, _ in _retries(rebuilt.store)] == [("A", 1), ("A", 0)]
    rebuilt.bus.poll_once()
    assert handler.applied == []  # not due yet, and B is not read again

    clock.advance(seconds=1)
    rebuilt.bus.poll_once()
    assert handler.applied == [poison.id, behind.id]
    assert _retries(rebuilt.store) == []
    assert count_rows(rebuilt.store, inbox) == 3
    assert rebuilt.bus.poll_once() == 0
    rebuilt.store.dispose()


def test_events_waiting_together_commit_together_and_a_poison_among_them_is_set_aside(
    tmp_path, intake
):
    before_it = [event("issue.submitted", f"B{n}", SUBMITTED) for n in range(2)]
    poison = event("issue.submitted", "A", SUBMITTED)
    after_it = [event("issue.submitted", f"C{n}", SUBMITTED) for n in range(3)]
    handler = Poisoned(poison)
    dispatch, _clock = _dispatch(tmp_path, handler, LOUDONG_CONSUME_BATCH="50")
    for envelope in (*before_it, poison, *after_it):
        _into_outbox(intake.store, envelope)
    commits = []
    sqlalchemy.event.listen(dispatch.store.writer, "commit", lambda _conn: commits.append(1))
    batched = _sample("loudong_consumed_batch_size_sum", service="dispatch")

    dispatch.bus.poll_once()

    ordinary = [e.id for e in (*before_it, *after_it)]
    assert handler.attempts == [*ordinary[:2], poison.id, *ordinary[2:]]  # each once, in order
    assert handler.applied == ordinary
    with dispatch.store.read() as conn:  # the poison's inbox row went with its savepoint
        assert sorted(conn.execute(select(inbox.c.event_id)).scalars()) == sorted(ordinary)
    assert [i for i, _, _ in _retries(dispatch.store)] == ["A"]
    assert len(commits) == 3  # the two before it, its setting aside, the three after it
    assert _sample("loudong_consumed_batch_size_sum", service="dispatch") - batched == 5
    assert dispatch.bus.poll_once() == 0  # the cursor is past all six
    dispatch.store.dispose()


class Unknowing(Poisoned):
    """A handler that knows no issue `unknown` names, as dispatch knows no case it never saw."""

    def __init__(self, *unknown):
        super().__init__()
        self.unknown = {e.id for e in unknown}

    def __call__(self, uow, envelope, context):
        if envelope.id in self.unknown:
            self.attempts.append(envelope.id)
            raise UnknownIssue(envelope.issue_id)
        super().__call__(uow, envelope, context)


def test_an_event_about_an_unknown_issue_in_a_batch_is_counted_and_the_batch_goes_on(
    tmp_path, intake
):
    before_it = [event("issue.submitted", f"B{n}", SUBMITTED) for n in range(2)]
    stranger = event("issue.submitted", "X", SUBMITTED)
    after_it = [event("issue.submitted", f"C{n}", SUBMITTED) for n in range(2)]
    handler = Unknowing(stranger)
    dispatch, _clock = _dispatch(tmp_path, handler, LOUDONG_CONSUME_BATCH="50")
    for envelope in (*before_it, stranger, *after_it):
        _into_outbox(intake.store, envelope)

    def unknown():
        return _sample(
            "loudong_events_consumed_total",
            service="dispatch",
            type="issue.submitted",
            outcome="unknown_issue",
        )

    counted = unknown()

    dispatch.bus.poll_once()

    ordinary = [e.id for e in (*before_it, *after_it)]
    assert handler.applied == ordinary
    assert handler.attempts.count(stranger.id) == 1  # its savepoint rolled back, no retry
    assert _retries(dispatch.store) == []  # not a failure: nothing to retry
    assert unknown() - counted == 1
    with dispatch.store.read() as conn:  # no inbox row: should it become known, it applies
        assert sorted(conn.execute(select(inbox.c.event_id)).scalars()) == sorted(ordinary)
    assert dispatch.bus.poll_once() == 0  # the cursor is past all five
    dispatch.store.dispose()
