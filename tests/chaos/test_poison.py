"""No poison stalls a queue, on either bus. A flood of messages dispatch can never apply —
bodies that are no envelope, payloads its reader refuses, and well-formed submissions whose
handler fails every time (a category dispatch's directory does not know, as when intake got a
newer directory first), which go through the whole retry schedule — is all dead-lettered,
counted by reason and listed by shared.dlq, and the consumer lives on. Ordinary issues
interleaved with the flood are all dispatched; their latency (published → issue.dispatched
committed) is measured without and with the flood and recorded, never asserted. What is
asserted is structural: no ordinary issue waited for a poison message's retries to end."""

from __future__ import annotations

import math
import time
from collections import Counter
from datetime import datetime

import pytest
from kombu import Connection, Exchange, Producer
from prometheus_client import REGISTRY
from sqlalchemy import func, insert, select

from shared import dlq, runtime, topology
from shared.envelope import utcnow
from shared.outbox import outbox, retry
from tests.chaos.conftest import size
from tests.helpers import build, count_rows, event, wait_for

POISON = size("poison", 300)
ORDINARY = max(10, POISON // 10)  # per run: one after every tenth poison message
DELAYS = (0.5, 1.0)  # an unappliable message is dead-lettered 1.5 s after it first failed
GAP = 0.05  # seconds between rounds: issues and poison arrive as a stream, not one batch
SETTINGS = {"LOUDONG_RETRY_DELAYS": ",".join(map(str, DELAYS)), "LOUDONG_POLL_INTERVAL": 0.02}
KINDS = ("no_envelope", "refused_payload", "unappliable")
UNKNOWN_CATEGORY = "lift_repair"  # in a newer directory (tests/unit/shared/test_dlq.py)
EXPECTED = Counter(KINDS[n % 3] for n in range(POISON))  # each run's poison, by kind
REASONS = {  # loudong_dead_lettered_total's reason: the poison counted under it
    "malformed": EXPECTED["no_envelope"] + EXPECTED["refused_payload"],
    "handler_failed": EXPECTED["unappliable"],
}


class EmbeddedBus:
    """Publishes as intake does: rows committed to intake's outbox, which is the log."""

    def __init__(self, tmp_path):
        self.intake = build("intake", tmp_path)
        self.dispatch = build("dispatch", tmp_path, **SETTINGS)

    def publish(self, messages: list[tuple[str, bytes]]) -> None:
        rows = [
            {
                "event_id": f"x{time.monotonic_ns()}-{n}",
                "type": "issue.submitted",
                "issue_id": issue_id,
                "body": body.decode("utf-8"),
                "created_at": utcnow(),
            }
            for n, (issue_id, body) in enumerate(messages)
        ]
        with self.intake.store.writer.begin() as conn:
            conn.execute(insert(outbox), rows)

    def waiting(self) -> int:
        return count_rows(self.dispatch.store, retry)

    def close(self) -> None:
        self.intake.store.dispose()


class RabbitBus:
    """Publishes to the exchange as intake's relay does, each message confirmed."""

    def __init__(self, tmp_path, url: str):
        self.dispatch = build("dispatch", tmp_path, LOUDONG_BROKER_URL=url, **SETTINGS)
        self._conn = Connection(url, transport_options={"confirm_publish": True})
        exchange = Exchange(topology.EXCHANGE_NAME, type="topic")
        self._producer = Producer(self._conn.default_channel, exchange, auto_declare=False)

    def publish(self, messages: list[tuple[str, bytes]]) -> None:
        for _, body in messages:
            self._producer.publish(body, routing_key="issue.submitted", delivery_mode=2)

    def waiting(self) -> int:
        channel = self._conn.default_channel
        queues = [topology.retry_queue_name("dispatch", n) for n in range(1, len(DELAYS) + 1)]
        return sum(channel.queue_declare(q, passive=True).message_count for q in queues)

    def close(self) -> None:
        self._conn.release()


@pytest.fixture(params=["embedded", pytest.param("rabbitmq", marks=pytest.mark.rabbitmq)])
def bus(request, tmp_path):
    """Dispatch consuming on one bus, with a way to publish issue.submitted to it."""
    if request.param == "rabbitmq":
        chosen = RabbitBus(tmp_path, request.getfixturevalue("rabbitmq_url"))
    else:
        chosen = EmbeddedBus(tmp_path)
    runtime.start(chosen.dispatch)
    wait_for(chosen.dispatch.bus.is_ready, what="dispatch consuming")
    yield chosen
    runtime.stop(chosen.dispatch)
    chosen.close()


def ordinary(issue_id: str) -> tuple[str, bytes]:
    payload = {"category": "other", "location": {"street": "taibai"}}
    return issue_id, event("issue.submitted", issue_id, payload).to_json().encode()


def poison(kind: str, issue_id: str) -> tuple[str, bytes]:
    if kind == "no_envelope":
        return issue_id, b"\x00 not an envelope: %s" % issue_id.encode()
    if kind == "refused_payload":  # dispatch's reader wants a location
        return issue_id, event("issue.submitted", issue_id, {"x": 1}).to_json().encode()
    payload = {"category": UNKNOWN_CATEGORY, "location": {"street": "taibai"}}
    return issue_id, event("issue.submitted", issue_id, payload).to_json().encode()


def rounds(tag: str, flood: bool) -> list[tuple[list[tuple[str, bytes]], tuple[str, bytes]]]:
    """(the poison of a round, then one ordinary issue): POISON spread over ORDINARY rounds,
    the three kinds in turn."""
    bad = (
        [poison(KINDS[n % 3], f"{tag}-{KINDS[n % 3]}-{n}") for n in range(POISON)] if flood else []
    )
    return [
        (bad[r * len(bad) // ORDINARY : (r + 1) * len(bad) // ORDINARY], ordinary(f"{tag}-ok{r}"))
        for r in range(ORDINARY)
    ]


def stream(bus, plan) -> dict[str, datetime]:
    """Publish the rounds GAP apart; when each ordinary issue was published."""
    published = {}
    for bad, issue in plan:
        if bad:
            bus.publish(bad)
        published[issue[0]] = utcnow()
        bus.publish([issue])
        time.sleep(GAP)
    return published


def dispatched_at(bus) -> dict[str, datetime]:
    """Each issue's first issue.dispatched, as committed to dispatch's outbox."""
    with bus.dispatch.store.read() as conn:
        rows = conn.execute(
            select(outbox.c.issue_id, func.min(outbox.c.created_at))
            .where(outbox.c.type == "issue.dispatched")
            .group_by(outbox.c.issue_id)
        ).all()
    return dict(rows)


def latencies_ms(published: dict, dispatched: dict) -> list[float]:
    return sorted((dispatched[i] - at).total_seconds() * 1000 for i, at in published.items())


def percentile(values: list[float], share: float) -> float:
    return values[max(0, math.ceil(share * len(values)) - 1)]  # nearest rank


def dead_lettered(since: dict[str, float] | None = None) -> dict[str, float]:
    """loudong_dead_lettered_total of dispatch by reason (gained since `since`)."""
    counts = {}
    for reason in REASONS:
        labels = {"service": "dispatch", "reason": reason}
        total = REGISTRY.get_sample_value("loudong_dead_lettered_total", labels) or 0
        counts[reason] = total - (since or {}).get(reason, 0)
    return counts


def waited_for_poison(plan, letters: list[dlq.DeadLetter], dispatched: dict) -> list[str]:
    """The ordinary issues dispatched only after an unappliable message published before
    them in their round had used up its retries: what a stalled queue would show."""
    ends = {d.issue_id: d.at for d in letters if kind_of(d) == "unappliable"}
    return [
        issue_id
        for bad, (issue_id, _) in plan
        if any(dispatched[issue_id] >= ends[i] for i, _ in bad if i in ends)
    ]


def kind_of(letter: dlq.DeadLetter) -> str:
    if letter.id.startswith("m-"):
        return "no_envelope"
    return "refused_payload" if letter.malformed else "unappliable"


def test_a_poison_flood_is_dead_lettered_while_ordinary_issues_flow(bus, figures, caplog):
    before = dead_lettered()
    stream(bus, [([], ordinary(f"warm{n}")) for n in range(3)])  # first-use costs, not measured

    baseline = stream(bus, rounds("base", flood=False))
    plan = rounds("flood", flood=True)
    flooded = stream(bus, plan)
    issues = {**baseline, **flooded}
    wait_for(lambda: issues.keys() <= dispatched_at(bus).keys(), 60, what="issues dispatched")
    wait_for(
        lambda: dead_lettered(before) == REASONS, 60, what="every poison message dead-lettered"
    )

    letters = dlq.dead_letters("dispatch", bus.dispatch.settings.env).list()
    assert Counter(kind_of(d) for d in letters) == EXPECTED
    assert {d.attempts for d in letters if kind_of(d) == "unappliable"} == {len(DELAYS) + 1}
    dispatched = dispatched_at(bus)
    assert waited_for_poison(plan, letters, dispatched) == []
    assert bus.waiting() == 0  # nothing left in a retry queue or table
    stream(bus, [([], ordinary("after"))])
    wait_for(lambda: "after" in dispatched_at(bus), what="an issue after the flood dispatched")
    assert bus.dispatch.bus.is_ready()
    assert not [r for r in caplog.records if "loop crashed" in r.getMessage()]
    flood_took = (max(flooded.values()) - min(flooded.values())).total_seconds()
    drained = (max(dispatched[i] for i in flooded) - max(flooded.values())).total_seconds()
    figures("poison injected", ", ".join(f"{EXPECTED[k]} {k}" for k in KINDS))
    figures("flood", f"{POISON / flood_took:.0f} poison/s for {flood_took:.1f} s")
    figures("backlog", f"every issue dispatched {drained * 1000:.0f} ms after the last publish")
    figures("dead-lettered", ", ".join(f"{n:.0f} {r}" for r, n in dead_lettered(before).items()))
    for name, published in (("without poison", baseline), ("in the flood", flooded)):
        values = latencies_ms(published, dispatched)
        p50, p99 = percentile(values, 0.5), percentile(values, 0.99)
        figures(f"{ORDINARY} ordinary issues {name}", f"p50 {p50:.1f} ms, p99 {p99:.1f} ms")


def test_a_later_event_of_a_retrying_issue_waits_for_it_on_the_embedded_bus(tmp_path):
    bus = EmbeddedBus(tmp_path)
    runtime.start(bus.dispatch)
    try:
        # the later event of "held" is a second submission, so that its effect shows
        bus.publish([poison("unappliable", "held"), ordinary("held"), ordinary("other")])

        wait_for(lambda: "other" in dispatched_at(bus), what="another issue dispatched")
        with bus.dispatch.store.read() as conn:
            held = conn.execute(
                select(retry.c.attempt).where(retry.c.issue_id == "held").order_by(retry.c.id)
            ).all()
        assert "held" not in dispatched_at(bus)
        assert len(held) == 2 and held[-1].attempt == 0  # the later one behind the first
        wait_for(lambda: "held" in dispatched_at(bus), what="the held event applied at last")
        [letter] = dlq.dead_letters("dispatch", bus.dispatch.settings.env).list()
        assert letter.issue_id == "held" and kind_of(letter) == "unappliable"
        assert dispatched_at(bus)["held"] > letter.at > dispatched_at(bus)["other"]
    finally:
        runtime.stop(bus.dispatch)
        bus.close()
