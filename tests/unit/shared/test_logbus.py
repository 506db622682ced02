"""The embedded bus: reads other services' outboxes in order, dead-letters what it cannot apply,
and never applies an event twice."""

import pytest
from sqlalchemy import insert, select

from shared.envelope import utcnow
from shared.outbox import dead_letter, outbox
from tests.helpers import AUTH, SUBMISSION, build, count_rows, emitted


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
