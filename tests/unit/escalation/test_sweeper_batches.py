"""The sweeper fires its due clocks a batch at a time, each clock as if alone: every step once,
each clock's events together and in order, batch after batch until none is due."""

from services.escalation import store as escalation_store
from services.escalation.loops import fire_due
from services.escalation.model import Escalation
from tests.helpers import count_rows, emitted, event

DISPATCHED = {
    "assignment": 1,
    "unit_id": "baian-xincun-property",
    "tier": "small",
    "street": "baianba",
}


def _dispatch(escalation, *issue_ids):
    for issue_id in issue_ids:
        escalation.subscriber.apply(event("issue.dispatched", issue_id, DISPATCHED).to_json())


def _fire(escalation, limit):
    with escalation.store.unit_of_work() as uow:
        return fire_due(uow, escalation.context, escalation.context.clock(), limit)


def test_a_step_recorded_before_is_not_told_again_while_the_rest_of_its_batch_is(
    escalation, clock, sweep
):
    _dispatch(escalation, "i1", "i2", "i3")
    level_one = Escalation(
        issue_id="i2",
        clock="claim",
        assignment=1,
        level=1,
        reason="manual",
        from_unit_id="baian-xincun-property",
        to_unit_id="baian-committee",
        missed_deadline=clock(),
        fired_at=clock(),
    )
    with escalation.store.unit_of_work() as uow:
        escalation_store.add_escalation(uow.conn, level_one)  # taken, its clock not moved
    clock.advance(hours=2, seconds=1)

    fired = sweep()

    assert fired == 3
    told = [e.issue_id for e in emitted(escalation.store, "issue.escalated")]
    assert told == ["i1", "i3"]
    assert count_rows(escalation.store, escalation_store.escalations) == 3
    with escalation.store.read() as conn:
        levels = [c.level for c in escalation_store.clocks_of(conn, ["i1", "i2", "i3"])]
    assert levels == [1, 1, 1]


def test_each_clock_of_a_batch_has_its_escalation_then_its_new_deadline_in_the_outbox(
    escalation, clock, sweep
):
    _dispatch(escalation, "i1", "i2")
    armed_before = len(emitted(escalation.store))
    clock.advance(hours=2, seconds=1)

    sweep()

    swept = emitted(escalation.store)[armed_before:]
    assert [(e.type, e.issue_id) for e in swept] == [
        ("issue.escalated", "i1"),
        ("issue.clock_armed", "i1"),
        ("issue.escalated", "i2"),
        ("issue.clock_armed", "i2"),
    ]
    assert all(e.payload["level"] == 1 for e in swept)


def test_more_clocks_due_than_a_batch_climb_batch_after_batch_each_once(escalation, clock):
    _dispatch(escalation, "i1", "i2", "i3", "i4", "i5")
    clock.advance(hours=2, seconds=1)

    batches = [_fire(escalation, limit=2) for _ in range(4)]

    assert batches == [2, 2, 1, 0]
    told = sorted(e.issue_id for e in emitted(escalation.store, "issue.escalated"))
    assert told == ["i1", "i2", "i3", "i4", "i5"]


def test_on_sqlite_one_sweeper_thread_runs_though_loudong_sweepers_is_two(escalation):
    """SQLite writes one transaction at a time: a second sweeper would only wait on the first."""
    assert escalation.store.url.startswith("sqlite")
    assert [name for name in escalation.loops if name.startswith("sweeper")] == ["sweeper"]
