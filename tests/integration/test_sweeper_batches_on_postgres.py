"""Two sweepers racing on PostgreSQL over more clocks than several batches hold (FOR UPDATE
SKIP LOCKED): whichever takes which batch, every clock climbs once and every step is recorded
and told exactly once."""

import threading

import pytest
from sqlalchemy import func, select

from services.escalation import ladder
from services.escalation import store as escalation_store
from services.escalation.loops import BATCH, sweep_once
from services.escalation.model import Clock, Lead
from shared.outbox import outbox
from tests.helpers import FakeClock, build, wait_for

pytestmark = pytest.mark.postgres

CLOCKS = 2 * BATCH + BATCH // 2 + 7  # each sweeper takes a few batches, the last one short
POLICIES = "tiers:\n" + "".join(
    f"  {t}: {{claim_within: PT2H, resolve_within: P3D, time: calendar}}\n"
    for t in ("private", "small", "big", "hard")
)


def _sweeper(tmp_path, name, postgres_urls, clock):
    policies = tmp_path / "policies.yaml"
    policies.write_text(POLICIES)
    return build(
        "escalation",
        tmp_path / name,
        clock,
        LOUDONG_POLICIES=policies,
        LOUDONG_BROKER_URL="amqp://guest:guest@127.0.0.1:5672//",
        LOUDONG_ESCALATION_DATABASE_URL=postgres_urls["escalation"],
    )


def _arm_claim_clocks(service, count):
    with service.store.unit_of_work() as uow:
        for i in range(count):
            lead = Lead(f"i{i}", 1, "baian-xincun-property", "small", "baianba")
            armed = Clock.armed(
                lead, "claim", None, service.context.policies, service.context.clock()
            )
            escalation_store.put_clock(uow.conn, armed, new=True)


def _count(conn, query):
    return conn.execute(query).scalar_one()


def test_two_sweepers_racing_over_many_batches_tell_each_step_once(tmp_path, postgres_urls):
    clock = FakeClock()
    sweepers = [_sweeper(tmp_path, str(i), postgres_urls, clock) for i in range(2)]
    _arm_claim_clocks(sweepers[0], CLOCKS)
    clock.advance(hours=2, seconds=1)
    fired = [0, 0]

    def sweep(i):
        while swept := sweep_once(sweepers[i].store, sweepers[i].context):
            fired[i] += swept

    threads = [threading.Thread(target=sweep, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    _assert_each_step_once(sweepers[0])
    assert sum(fired) == CLOCKS
    for s in sweepers:
        s.store.dispose()


def test_one_replica_runs_two_sweeper_threads_on_postgres_and_each_step_fires_once(
    tmp_path, postgres_urls
):
    """LOUDONG_SWEEPERS (2): the service's own loops, as a replica starts them."""
    clock = FakeClock()
    service = _sweeper(tmp_path, "one", postgres_urls, clock)
    sweepers = [loop for name, loop in service.loops.items() if name.startswith("sweeper")]
    assert len(sweepers) == 2
    _arm_claim_clocks(service, CLOCKS)
    clock.advance(hours=2, seconds=1)
    stop = threading.Event()
    threads = [threading.Thread(target=loop, args=(stop,)) for loop in sweepers]
    for t in threads:
        t.start()

    def all_fired():
        with service.store.read() as conn:
            return _count(conn, select(func.count(escalation_store.escalations.c.id))) >= CLOCKS

    try:
        wait_for(all_fired, timeout=30, interval=0.05, what="every clock escalated")
    finally:
        stop.set()
        for t in threads:
            t.join()
    _assert_each_step_once(service)
    service.store.dispose()


def _assert_each_step_once(service):
    e = escalation_store.escalations.c
    with service.store.read() as conn:
        steps = _count(conn, select(func.count(func.distinct(e.issue_id))).where(e.level == 1))
        rows = _count(conn, select(func.count()).select_from(escalation_store.escalations))
        told = _count(
            conn,
            select(func.count(func.distinct(outbox.c.issue_id))).where(
                outbox.c.type == "issue.escalated"
            ),
        )
        events = _count(conn, select(func.count()).where(outbox.c.type == "issue.escalated"))
        armed_again = _count(conn, select(func.count()).where(outbox.c.type == "issue.clock_armed"))
        moved = _count(
            conn,
            select(func.count())
            .select_from(escalation_store.clocks)
            .where(escalation_store.clocks.c.level == 1),
        )
    assert steps == rows == told == events == armed_again == moved == CLOCKS


WARNED = "tiers:\n" + "".join(
    f"  {t}: {{claim_within: PT2H, resolve_within: P3D, time: calendar,\n"
    f"        warnings: [{{at: 0.5, to: unit}}, {{at: 0.8, to: supervisor}}]}}\n"
    for t in ("private", "small", "big", "hard")
)


def test_warnings_over_many_batches_fire_once_and_climbing_clocks_rearm_theirs(
    tmp_path, postgres_urls
):
    """More warnings than a batch holds, fired and marked in one statement a batch; then the
    clocks climb and their next level's warnings are written in one COPY a batch."""
    clock = FakeClock()
    policies = tmp_path / "warned.yaml"
    policies.write_text(WARNED)
    service = build(
        "escalation",
        tmp_path / "warned",
        clock,
        LOUDONG_POLICIES=policies,
        LOUDONG_BROKER_URL="amqp://guest:guest@127.0.0.1:5672//",
        LOUDONG_ESCALATION_DATABASE_URL=postgres_urls["escalation"],
    )
    with service.store.unit_of_work() as uow:
        for i in range(CLOCKS):
            lead = Lead(f"i{i}", 1, "baian-xincun-property", "small", "baianba")
            armed = Clock.armed(
                lead, "claim", None, service.context.policies, service.context.clock()
            )
            ladder.arm(uow, service.context, armed, new=True)
    w = escalation_store.warnings.c

    def states():
        with service.store.read() as conn:
            rows = conn.execute(
                select(w.level, w.fraction, w.state, func.count()).group_by(
                    w.level, w.fraction, w.state
                )
            )
            return {(level, fraction, state): n for level, fraction, state, n in rows}

    def warned():
        with service.store.read() as conn:
            return _count(conn, select(func.count()).where(outbox.c.type == "issue.warned"))

    clock.advance(minutes=61)
    while sweep_once(service.store, service.context):
        pass
    assert states() == {(0, 0.5, "fired"): CLOCKS, (0, 0.8, "armed"): CLOCKS}
    assert warned() == CLOCKS

    clock.advance(minutes=36)  # past the 0.8 point (96 minutes)
    while sweep_once(service.store, service.context):
        pass
    assert states() == {(0, 0.5, "fired"): CLOCKS, (0, 0.8, "fired"): CLOCKS}
    clock.advance(minutes=24)  # past the deadline
    while sweep_once(service.store, service.context):
        pass
    assert states() == {
        (0, 0.5, "fired"): CLOCKS,
        (0, 0.8, "fired"): CLOCKS,
        (1, 0.5, "armed"): CLOCKS,
        (1, 0.8, "armed"): CLOCKS,
    }
    assert warned() == 2 * CLOCKS
    e = escalation_store.escalations.c
    with service.store.read() as conn:
        steps = _count(conn, select(func.count(func.distinct(e.issue_id))).where(e.level == 1))
        told = _count(conn, select(func.count()).where(outbox.c.type == "issue.escalated"))
    assert steps == told == CLOCKS
    service.store.dispose()
