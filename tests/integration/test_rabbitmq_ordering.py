"""Per-issue order on RabbitMQ while an event waits in a delay queue, for real: RabbitMQ and
PostgreSQL stores. A later event of the same issue is parked behind the waiting one and
applied after it — after its retry succeeds (a transient failure: the server terminates the
backend its transaction runs on) or after it is dead-lettered (a permanent one: a category
dispatch's directory does not know), across two replicas sharing the store; events of other
issues go on at once; a hold past its held_until is ignored."""

import threading
from contextlib import contextmanager
from datetime import timedelta

import psycopg
import pytest
import sqlalchemy
from kombu import Connection, Exchange, Producer
from prometheus_client import REGISTRY
from sqlalchemy import insert, select

from shared import dlq, rabbit, runtime, topology
from shared.envelope import utcnow
from shared.outbox import held_issue, inbox
from tests.helpers import build, count_rows, event, wait_for

pytestmark = [pytest.mark.rabbitmq, pytest.mark.postgres]
LEAD = {
    "assignment": 1,
    "unit_id": "baian-xincun-property",
    "tier": "small",
    "street": "baianba",
    "category": "property_management",
    "role": "lead",
}
ORDINARY = {"category": "other", "location": {"street": "taibai"}}
UNKNOWN = {"category": "lift_repair", "location": {"street": "taibai"}}  # not in the directory


@pytest.fixture
def env(tmp_path, monkeypatch, rabbitmq_url, postgres_urls):
    settings = {
        "LOUDONG_BROKER_URL": rabbitmq_url,
        "LOUDONG_DATA_DIR": str(tmp_path / "data"),
        "LOUDONG_RETRY_DELAYS": "0.3,0.3",
        "LOUDONG_POLL_INTERVAL": "0.05",
        **{f"LOUDONG_{s.upper()}_DATABASE_URL": url for s, url in postgres_urls.items()},
    }
    for name, value in settings.items():
        monkeypatch.setenv(name, value)
    return settings


@pytest.fixture
def started(tmp_path, env):
    running = []

    def start(name, **extra):
        service = build(name, tmp_path, **{**env, **extra})
        runtime.start(service)
        wait_for(service.bus.is_ready, what=f"{name} consuming")
        running.append(service)
        return service

    yield start
    for service in running:
        runtime.stop(service)


def publish(url, *events):
    with Connection(url, transport_options={"confirm_publish": True}) as conn:
        producer = Producer(
            conn.default_channel,
            exchange=Exchange(topology.EXCHANGE_NAME, type="topic"),
            auto_declare=False,
        )
        for e in events:
            producer.publish(e.to_json(), routing_key=e.type, delivery_mode=2)


def applied(store) -> list[str]:
    """The event ids the consumer applied, in the order it applied them."""
    with store.read() as conn:
        return list(conn.execute(select(inbox.c.event_id).order_by(inbox.c.applied_at)).scalars())


def applied_at(store, event_id):
    with store.read() as conn:
        return conn.execute(
            select(inbox.c.applied_at).where(inbox.c.event_id == event_id)
        ).scalar_one()


def waiting(store, issue_id) -> list[str]:
    with store.read() as conn:
        query = select(held_issue.c.event_id).where(held_issue.c.issue_id == issue_id)
        return list(conn.execute(query.order_by(held_issue.c.id)).scalars())


def retried(service: str, type_: str) -> float:
    labels = {"service": service, "type": type_, "outcome": "retried"}
    return REGISTRY.get_sample_value("loudong_events_consumed_total", labels) or 0


@contextmanager
def locked(database_url: str, table: str):
    """A transaction holding `table` locked: whoever needs it waits, until it ends."""
    with psycopg.connect(database_url) as conn:
        conn.execute(f"LOCK TABLE {table} IN ACCESS EXCLUSIVE MODE")
        try:
            yield conn
        finally:
            conn.rollback()


def waiting_for_lock(conn, table: str) -> list[int]:
    rows = conn.execute(
        "SELECT pid FROM pg_locks WHERE NOT granted AND relation = %s::regclass", (table,)
    ).fetchall()
    return [pid for (pid,) in rows]


def test_a_claim_is_applied_after_its_dispatch_retried_from_a_cut_connection(
    started, env, postgres_urls
):
    escalation = started("escalation")
    dispatched = event("issue.dispatched", "i-cut", LEAD)
    claimed = event("issue.claimed", "i-cut", LEAD)
    other = event("issue.dispatched", "i-other", LEAD)
    before = retried("escalation", "issue.dispatched")

    # Only issue.dispatched's handler touches issue_summaries: its transaction waits on the
    # lock, and the server ends that backend, as a failover would.
    with locked(postgres_urls["escalation"], "issue_summaries") as lock:
        publish(env["LOUDONG_BROKER_URL"], dispatched)
        [backend] = wait_for(lambda: waiting_for_lock(lock, "issue_summaries"), what="a wait")
        publish(env["LOUDONG_BROKER_URL"], claimed, other)
        lock.execute("SELECT pg_terminate_backend(%s)", (backend,))
        wait_for(lambda: retried("escalation", "issue.dispatched") > before, what="a retry")

    wait_for(lambda: claimed.id in applied(escalation.store), what="the claim applied")
    assert applied(escalation.store) == [other.id, dispatched.id, claimed.id]
    assert retried("escalation", "issue.dispatched") == before + 1
    assert waiting(escalation.store, "i-cut") == []
    clocks = escalation.app.test_client().get("/v1/issues/i-cut/clocks").json["clocks"]
    assert {c["clock"]: c["state"] for c in clocks} == {"claim": "stopped", "resolve": "armed"}


def test_events_parked_behind_a_dead_lettered_one_apply_after_it_in_order_on_two_replicas(
    started, env
):
    first, second = started("dispatch"), started("dispatch")  # replicas sharing one store
    url, store = env["LOUDONG_BROKER_URL"], first.store
    poison = event("issue.submitted", "i-held", UNKNOWN)
    submitted = event("issue.submitted", "i-held", ORDINARY)
    armed = event("issue.clock_armed", "i-held", {"clock": "claim", "due_at": utcnow().isoformat()})
    other = event("issue.submitted", "i-other", ORDINARY)

    publish(url, poison)
    wait_for(lambda: waiting(store, "i-held") == [poison.id], what="the poison waiting")
    publish(url, submitted)  # parked: whichever replica takes it reads the shared table
    wait_for(lambda: len(waiting(store, "i-held")) == 2, what="the submission parked")
    publish(url, armed, other)  # without the case, the clock would be an unknown issue
    wait_for(lambda: armed.id in applied(store), what="the held events applied")

    [letter] = dlq.dead_letters("dispatch", env).list()
    assert letter.id == poison.id and letter.attempts == 3
    assert applied_at(store, other.id) < letter.at < applied_at(store, submitted.id)
    assert applied(store).index(submitted.id) < applied(store).index(armed.id)
    assert waiting(store, "i-held") == [] and count_rows(second.store, held_issue) == 0


def lost_event(store, issue_id: str, attempt: int, lapses) -> None:
    """An event that failed, went to delay queue `attempt`, and was lost there."""
    with store.writer.begin() as conn:
        conn.execute(
            insert(held_issue).values(
                issue_id=issue_id, event_id="lost", attempt=attempt, held_until=lapses
            )
        )


def test_a_hold_past_its_time_is_ignored(started, env):
    dispatch = started("dispatch")
    lapses = utcnow() + timedelta(seconds=1)
    lost_event(dispatch.store, "i-lost", 1, lapses)
    submitted = event("issue.submitted", "i-lost", ORDINARY)

    publish(env["LOUDONG_BROKER_URL"], submitted)

    wait_for(lambda: submitted.id in applied(dispatch.store), what="the submission applied")
    assert applied_at(dispatch.store, submitted.id) >= lapses
    assert waiting(dispatch.store, "i-lost") == []


def test_an_event_after_the_first_one_went_still_waits_for_those_parked_behind_it(started, env):
    dispatch = started("dispatch", LOUDONG_RETRY_DELAYS="0.3,3")
    lapses = utcnow() + timedelta(seconds=1)
    lost_event(dispatch.store, "i-line", 2, lapses)
    submitted = event("issue.submitted", "i-line", ORDINARY)
    armed = event("issue.clock_armed", "i-line", {"clock": "claim", "due_at": lapses.isoformat()})

    publish(env["LOUDONG_BROKER_URL"], submitted)  # parked for 3 s, behind the lost one
    wait_for(lambda: waiting(dispatch.store, "i-line") == ["lost", submitted.id], what="parked")
    wait_for(lambda: utcnow() > lapses, what="the lost one's hold lapsed")
    publish(env["LOUDONG_BROKER_URL"], armed)  # without the case, an unknown issue

    wait_for(lambda: armed.id in applied(dispatch.store), what="the clock applied")
    assert applied(dispatch.store) == [submitted.id, armed.id]
    assert waiting(dispatch.store, "i-line") == []


def test_a_batch_looks_up_the_lines_once_and_parks_only_the_event_of_a_held_issue(tmp_path, env):
    rabbit.declare_topology(env["LOUDONG_BROKER_URL"])
    held = event("issue.submitted", "i-lined", ORDINARY)
    others = [event("issue.submitted", f"i-free-{n}", ORDINARY) for n in range(6)]
    publish(env["LOUDONG_BROKER_URL"], others[0], held, *others[1:])  # waiting: one batch
    dispatch = build("dispatch", tmp_path, **{**env, "LOUDONG_RETRY_DELAYS": "30"})
    dispatch.store.migrate()
    lost_event(dispatch.store, "i-lined", 1, utcnow() + timedelta(minutes=5))
    lookups = []  # the consumer's, not this test's own reads

    def looked_up(_conn, _cursor, sql, *_):
        if "FROM held_issue" in sql and threading.current_thread().name == "dispatch-bus":
            lookups.append(sql)

    sqlalchemy.event.listen(dispatch.store.writer, "before_cursor_execute", looked_up)
    runtime.start(dispatch)
    try:
        wait_for(lambda: len(waiting(dispatch.store, "i-lined")) == 2, what="the event parked")
        wait_for(lambda: len(applied(dispatch.store)) == 6, what="the others applied")
    finally:
        runtime.stop(dispatch)

    assert applied(dispatch.store) == [e.id for e in others]
    assert waiting(dispatch.store, "i-lined") == ["lost", held.id]
    # The batch's issues once, the held issue's line, then the five after it (the next batch)
    # once: three lookups, not one for each of the seven events.
    assert len(lookups) == 3
