"""Store.writes on the real PostgreSQL: a unit of work that only writes goes out in one
pipeline on an autocommit connection, which the server runs as one implicit transaction. All
of it is committed, or on any failure none of it, the failure raised as SQLAlchemy's error;
and intake's submissions, which use it, stay exactly-once under twins racing on one key."""

from __future__ import annotations

import threading
import uuid

import pytest
from sqlalchemy import func, insert, select
from sqlalchemy.exc import IntegrityError

from services.intake import store as intake_store
from services.intake.events import FeedbackGiven
from shared.db import COPY_FROM_ROWS
from shared.envelope import Envelope
from shared.outbox import outbox
from tests.helpers import AUTH, SUBMISSION, count_rows
from tests.integration.test_postgres_stores import _on_postgres

pytestmark = pytest.mark.postgres


def _key_row(key: str) -> dict:
    return {
        "gateway": "g",
        "key": key,
        "request_hash": "h",
        "issue_id": str(uuid.uuid4()),
        "created_at": Envelope("t.t", "i", "p", {}).occurred_at,
    }


@pytest.fixture
def intake(tmp_path, postgres_urls):
    service = _on_postgres("intake", tmp_path, postgres_urls)
    yield service
    service.store.dispose()


def test_every_write_of_the_unit_is_committed_and_its_hooks_run(intake):
    ran = []
    with intake.store.writes() as uow:
        uow.conn.execute(insert(intake_store.idempotency_keys), _key_row("a"))
        uow.conn.execute(insert(intake_store.idempotency_keys), _key_row("b"))
        uow.on_commit(lambda: ran.append("committed"))
    assert count_rows(intake.store, intake_store.idempotency_keys) == 2
    assert ran == ["committed"]


def test_a_failing_write_leaves_none_of_the_unit_and_is_sqlalchemys_integrity_error(intake):
    outbox_before = count_rows(intake.store, outbox)
    ran = []
    with pytest.raises(IntegrityError):
        with intake.store.writes() as uow:
            uow.conn.execute(insert(intake_store.idempotency_keys), _key_row("a"))
            uow.conn.execute(insert(intake_store.idempotency_keys), _key_row("b"))
            uow.conn.execute(insert(intake_store.idempotency_keys), _key_row("a"))  # twice
            uow.on_commit(lambda: ran.append("committed"))
    assert count_rows(intake.store, intake_store.idempotency_keys) == 0
    assert count_rows(intake.store, outbox) == outbox_before
    assert ran == []
    with intake.store.writes() as uow:  # the pooled connection is fit for the next one
        uow.conn.execute(insert(intake_store.idempotency_keys), _key_row("a"))
    assert count_rows(intake.store, intake_store.idempotency_keys) == 1


def test_a_submission_is_one_issue_its_reporter_and_its_event(intake):
    client = intake.app.test_client()
    answer = client.post("/v1/issues", json=SUBMISSION, headers=AUTH)
    assert answer.status_code == 201, answer.get_json()
    issue_id = answer.get_json()["id"]
    with intake.store.read() as conn:
        issues = conn.execute(select(intake_store.issues.c.id)).scalars().all()
        reporters = conn.execute(select(intake_store.reporters.c.issue_id)).scalars().all()
        events = conn.execute(select(outbox.c.type, outbox.c.issue_id)).all()
    assert issues == reporters == [issue_id]
    assert ("issue.submitted", issue_id) in events


def test_twins_racing_on_one_idempotency_key_make_one_issue(intake):
    """Each looks the key up, finds nothing and writes; all but one fail on the key's unique
    index and look again, finding the winner's issue."""
    twins, answers = 8, []
    barrier = threading.Barrier(twins)
    headers = {**AUTH, "Idempotency-Key": f"race-{uuid.uuid4()}"}

    def submit():
        client = intake.app.test_client()
        barrier.wait()
        answer = client.post("/v1/issues", json=SUBMISSION, headers=headers)
        answers.append((answer.status_code, answer.get_json()["id"]))

    threads = [threading.Thread(target=submit) for _ in range(twins)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(status for status, _ in answers) == [200] * (twins - 1) + [201]
    assert len({issue_id for _, issue_id in answers}) == 1
    with intake.store.read() as conn:
        submitted = conn.execute(
            select(func.count()).where(outbox.c.type == "issue.submitted")
        ).scalar_one()
    assert count_rows(intake.store, intake_store.issues) == submitted == 1


def test_many_events_of_one_unit_go_out_in_its_pipeline_too(intake):
    """From COPY_FROM_ROWS rows up insert_rows would COPY, which a pipeline does not take."""
    issue_ids = [str(uuid.uuid4()) for _ in range(3 * COPY_FROM_ROWS)]
    at = Envelope("t.t", "i", "p", {}).occurred_at
    with intake.store.writes() as uow:
        uow.emit_many(
            [FeedbackGiven(issue_id=i, satisfied=True, rating=5, given_at=at) for i in issue_ids]
        )
    with intake.store.read() as conn:
        stored = conn.execute(select(outbox.c.issue_id).order_by(outbox.c.seq)).scalars().all()
    assert stored[-len(issue_ids) :] == issue_ids
