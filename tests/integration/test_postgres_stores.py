"""The stores on the real PostgreSQL: migrations, and replicas that never do the same work twice."""

import threading

import pytest
from sqlalchemy import func, insert, inspect, select

from services.escalation import store as escalation_store
from services.escalation.loops import sweep_once
from services.notify import store as notify_store
from shared.envelope import utcnow
from shared.outbox import outbox
from shared.relay import relay_once
from tests.helpers import SERVICES, FakeClock, build, event

pytestmark = pytest.mark.postgres


def _on_postgres(name, tmp_path, postgres_urls, clock=None, **extra):
    """Bootstrapped, never started: the broker URL is there only as PostgreSQL stores need one."""
    return build(
        name,
        tmp_path,
        clock,
        LOUDONG_BROKER_URL="amqp://guest:guest@127.0.0.1:5672//",
        **{f"LOUDONG_{name.upper()}_DATABASE_URL": postgres_urls[name]},
        **extra,
    )


def test_every_service_migrates_its_own_database_and_a_second_start_changes_nothing(
    tmp_path, postgres_urls
):
    for name in SERVICES:
        service = _on_postgres(name, tmp_path, postgres_urls)  # migrates once
        service.store.migrate()

        tables = set(inspect(service.store.writer).get_table_names())

        assert {"outbox", "inbox", "bus_cursor", "dead_letter", "alembic_version"} <= tables
        service.store.dispose()


def test_two_relays_publish_each_event_exactly_once(tmp_path, postgres_urls):
    intake = _on_postgres("intake", tmp_path, postgres_urls)
    with intake.store.writer.begin() as conn:
        conn.execute(
            insert(outbox),
            [
                {
                    "event_id": f"e{i:04d}",
                    "type": "issue.submitted",
                    "issue_id": "x",
                    "body": "{}",
                    "created_at": utcnow(),
                }
                for i in range(2000)
            ],
        )
    published: list[str] = []
    lock = threading.Lock()

    def publish(batch):
        with lock:
            published.extend(message_id for _key, _body, message_id in batch)

    def relay():
        while relay_once(intake.store, publish, batch_size=100):
            pass

    relays = [threading.Thread(target=relay) for _ in range(2)]
    for t in relays:
        t.start()
    for t in relays:
        t.join()

    assert sorted(published) == [f"e{i:04d}" for i in range(2000)]
    with intake.store.read() as conn:
        assert (
            conn.execute(select(func.count()).where(outbox.c.published_at.is_(None))).scalar() == 0
        )
    intake.store.dispose()


def test_two_sweepers_fire_every_escalation_exactly_once(tmp_path, postgres_urls):
    clock = FakeClock()
    policies = tmp_path / "policies.yaml"
    policies.write_text(
        "tiers:\n"
        + "".join(
            f"  {t}: {{claim_within: PT2H, resolve_within: P3D, time: calendar}}\n"
            for t in ("private", "small", "big", "hard")
        )
    )
    sweepers = [
        _on_postgres(
            "escalation", tmp_path / str(i), postgres_urls, clock, LOUDONG_POLICIES=policies
        )
        for i in range(2)
    ]
    first = sweepers[0]
    for i in range(300):
        first.subscriber.apply(
            event(
                "issue.dispatched",
                f"i{i}",
                {
                    "assignment": 1,
                    "unit_id": "baian-xincun-property",
                    "tier": "small",
                    "street": "baianba",
                },
            ).to_json()
        )
    clock.advance(hours=2, seconds=1)

    def sweep(service):
        while sweep_once(service.store, service.context):
            pass

    threads = [threading.Thread(target=sweep, args=(s,)) for s in sweepers]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    with first.store.read() as conn:
        fired = conn.execute(select(escalation_store.escalations.c.issue_id)).scalars().all()
        events = conn.execute(
            select(func.count()).where(outbox.c.type == "issue.escalated")
        ).scalar()
    assert sorted(fired) == sorted(f"i{i}" for i in range(300))
    assert events == 300
    for s in sweepers:
        s.store.dispose()


@pytest.mark.parametrize("batch", [1, 25], ids=["one event", "a batch of 25"])
def test_two_replicas_numbering_one_units_reply_codes_at_once_take_different_numbers(
    tmp_path, postgres_urls, batch
):
    """The first replica numbers `batch` notices in one transaction (as a consumer batch
    does) and has not committed it; the second takes the next free number meanwhile,
    without waiting for that transaction: each number is taken in one of its own."""
    from services.notify.replies import MAX_CODE_ATTEMPTS, code_for

    assert batch <= 1 or batch > MAX_CODE_ATTEMPTS  # one try per number would not be enough
    notify = _on_postgres("notify", tmp_path, postgres_urls)
    unit, now, second = "baian-xincun-property", utcnow(), {}
    first_tx = notify.store.writer.connect()
    first_tx.begin()
    firsts = [code_for(first_tx, unit, f"issue-a{i}", 1, now) for i in range(batch)]

    def other_replica():
        with notify.store.unit_of_work() as uow:
            second["code"] = code_for(uow.conn, unit, "issue-b", 1, now)

    racer = threading.Thread(target=other_replica)
    racer.start()
    racer.join(timeout=10)
    numbered_meanwhile = not racer.is_alive()
    first_tx.commit()
    first_tx.close()
    racer.join(timeout=10)

    assert numbered_meanwhile
    assert (firsts, second.get("code")) == (list(range(1, batch + 1)), batch + 1)
    notify.store.dispose()


def test_a_reply_code_taken_by_an_event_rolled_back_is_the_one_it_gets_applied_again(
    tmp_path, postgres_urls
):
    from services.notify.replies import code_for

    notify = _on_postgres("notify", tmp_path, postgres_urls)
    unit, now = "baian-xincun-property", utcnow()
    with notify.store.unit_of_work() as uow:
        code_for(uow.conn, unit, "issue-a", 1, now)
    undone = notify.store.writer.connect()
    undone.begin()
    first = code_for(undone, unit, "issue-b", 1, now)
    undone.rollback()
    undone.close()
    with notify.store.unit_of_work() as uow:
        again = code_for(uow.conn, unit, "issue-b", 1, now)
        other = code_for(uow.conn, unit, "issue-c", 1, now)

    assert (first, again, other) == (2, 2, 3)
    notify.store.dispose()


def test_the_lowest_free_code_on_postgres_is_the_first_gap_among_hundreds(tmp_path, postgres_urls):
    """The database finds the gap (notify no longer reads every open code to number one)."""
    from tests.unit.notify.test_replies import UNIT, _add_codes

    notify = _on_postgres("notify", tmp_path, postgres_urls)
    _add_codes(notify, [c for c in range(1, 501) if c != 250], closed=[250])
    with notify.store.read() as conn:
        assert notify_store.lowest_free_code(conn, UNIT) == 250
    notify.store.dispose()


def test_an_event_applied_twice_on_postgres_takes_effect_once(tmp_path, postgres_urls):
    """The inbox's one-statement insert tells a first application from a second."""
    dispatch = _on_postgres("dispatch", tmp_path, postgres_urls)
    submitted = event(
        "issue.submitted", "i-twice", {"category": "other", "location": {"street": "taibai"}}
    )
    outcomes = [dispatch.subscriber.apply(submitted.to_json()) for _ in range(2)]
    assert outcomes == ["applied", "duplicate"]
    with dispatch.store.read() as conn:
        assert conn.execute(select(func.count()).select_from(outbox)).scalar() == 1
    dispatch.store.dispose()
