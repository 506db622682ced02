"""What must hold after a chaos run, read from every service's own store and from what the
SMS provider received: each a count of violations with a few examples, 0 when it holds.

- lost: an issue intake accepted that some service never heard of, or whose unit was never
  told by SMS;
- SMS doubled: one notice in two messages, a message the provider got that notify has no
  record of (sent, then forgotten, then sent again under another key), or a key reused for a
  different message (a strict provider refuses it);
- SMS lost: a message notify recorded as sent that the provider never received;
- escalations doubled: one step of the ladder (issue, clock, assignment, level) recorded or
  announced twice;
- escalations missed: a deadline past by more than the sweep's slack and still armed, or an
  issue left unclaimed that never escalated;
- state: an issue claimed in time that intake does not show claimed, or one left unclaimed
  that did not climb."""

from __future__ import annotations

import contextlib
import json
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from services.notify.model import reference
from shared import rabbit, topology
from shared.config import SERVICES
from shared.topology import MAX_RETRY_LEVELS

SLACK = timedelta(seconds=5)  # a deadline this far past and still armed was missed


@dataclass
class Verdict:
    counts: dict[str, int] = field(default_factory=dict)
    examples: dict[str, list] = field(default_factory=dict)

    def add(self, name: str, found: list) -> None:
        self.counts[name] = len(found)
        if found:
            self.examples[name] = found[:5]

    @property
    def failures(self) -> int:
        return sum(self.counts.values())

    def __str__(self) -> str:
        lines = [f"{name}: {n}" for name, n in self.counts.items()]
        lines += [f"  e.g. {name}: {ex}" for name, ex in self.examples.items()]
        return "\n".join(lines)


def _rows(url: str, query: str) -> list:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return conn.execute(sa.text(query)).all()
    finally:
        engine.dispose()


def _naive_utc(value) -> datetime:
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return (
        value.replace(tzinfo=None)
        if value.tzinfo is None
        else value.astimezone(UTC).replace(tzinfo=None)
    )


def queued(broker_url: str) -> int:
    """Messages waiting in the services' work and retry queues on RabbitMQ."""
    names = [
        name
        for service in SERVICES
        for name in (
            topology.queue_name(service),
            *(topology.retry_queue_name(service, n) for n in range(1, MAX_RETRY_LEVELS + 1)),
        )
    ]
    total = 0
    with rabbit.connect(broker_url) as conn:
        for name in names:
            channel = conn.channel()
            try:
                total += channel.queue_declare(queue=name, passive=True)[1]
            except Exception:  # a queue not declared yet holds nothing
                pass
            finally:
                with contextlib.suppress(Exception):
                    channel.close()
    return total


def pending(stores: dict[str, str], broker_url: str | None) -> dict[str, int]:
    """Work not yet finished anywhere: events not yet published or applied show up as
    deliveries not final, notices held, armed clocks past due, and first claim deadlines
    still running; all 0 once the run has settled."""
    now = datetime.now(UTC).replace(tzinfo=None)
    deliveries = _rows(
        stores["notify"], "SELECT count(*) FROM deliveries WHERE status = 'pending'"
    )[0][0]
    # A dispatch notice held for its claim deadline goes out without it once held_until is
    # past (its delivery is planned for then); only a hold still running is work to wait for.
    held = sum(
        1
        for (until,) in _rows(stores["notify"], "SELECT held_until FROM held_notices")
        if _naive_utc(until) > now
    )
    unpublished = (
        sum(
            _rows(url, "SELECT count(*) FROM outbox WHERE published_at IS NULL")[0][0]
            for url in stores.values()
        )
        if broker_url  # on RabbitMQ a relay publishes each outbox; the embedded bus reads them
        else 0
    )
    armed = _rows(
        stores["escalation"], "SELECT clock, level, due_at FROM clocks WHERE state = 'armed'"
    )
    overdue = sum(1 for _, _, due in armed if _naive_utc(due) < now - SLACK)
    # An event that waited out broker restarts in the delay queues arms its claim clock late,
    # and that deadline may fall after the harm stopped: the run is not over until every
    # first claim deadline has fired (or its claim stopped it), whatever its time.
    first_claims = sum(1 for clock, level, _ in armed if clock == "claim" and level == 0)
    return {
        "events unpublished": unpublished,
        "events queued": queued(broker_url) if broker_url else 0,
        "deliveries pending": deliveries,
        "notices held": held,
        "deadlines past": overdue,
        "first claim deadlines running": first_claims,
    }


def held(stores: dict[str, str]) -> list:
    """The notices notify still holds, with when each is due out."""
    return [
        tuple(r)
        for r in _rows(
            stores["notify"], "SELECT issue_id, assignment, held_until FROM held_notices"
        )
    ]


def check(
    stores: dict[str, str],
    provider_messages: list[dict],
    conflicts: int,
    outcomes,
    dead: dict,
    stopped_at: datetime,
):
    """The verdict over everything the run accepted (`outcomes`: tests.chaos.workload);
    `dead`: each service's dead letters (shared.dlq), of which an ordinary run has none;
    `stopped_at`: when the services were stopped (what fell due after is nobody's miss)."""
    verdict = Verdict()
    verdict.add(
        "dead_lettered",
        [(s, d.type, d.issue_id, d.reason) for s, letters in dead.items() for d in letters],
    )
    accepted = set(outcomes.accepted)
    issues = {
        r.id: r for r in _rows(stores["intake"], "SELECT id, status, escalation_level FROM issues")
    }
    cases = {r.issue_id for r in _rows(stores["dispatch"], "SELECT issue_id FROM cases")}
    clocks = _rows(stores["escalation"], "SELECT issue_id, clock, state, due_at FROM clocks")
    clocked = {r.issue_id for r in clocks}
    deliveries = _rows(
        stores["notify"],
        "SELECT id, event_id, cause_type, issue_id, recipient_key, status, message_key, "
        "provider_message_id, provider, attempts, last_error "
        "FROM deliveries WHERE channel = 'sms'",
    )
    messages = {
        r.key: r for r in _rows(stores["notify"], "SELECT key, address, text FROM messages")
    }

    told = defaultdict(int)  # issue -> SMS naming it that reached the provider
    for m in provider_messages:
        for issue_id in accepted:
            if reference(issue_id) in m["text"]:
                told[issue_id] += 1
    verdict.add(
        "lost",
        sorted(
            (i, where)
            for i in accepted
            for where, known in (
                ("intake", issues),
                ("dispatch", cases),
                ("escalation", clocked),
                ("sms", told),
            )
            if i not in known
        ),
    )

    never_dispatched = sorted(i for i in accepted if i not in cases)
    if never_dispatched:  # where it stopped: was its issue.submitted ever published?
        outbox = _rows(
            stores["intake"],
            "SELECT issue_id, type, published_at FROM outbox WHERE type = 'issue.submitted'",
        )
        published = {r.issue_id: r.published_at for r in outbox}
        verdict.examples["lost: issue.submitted published at"] = [
            (i, published.get(i, "not in the outbox")) for i in never_dispatched[:5]
        ]

    untold = {i for i in accepted if i not in told}
    if untold:  # what notify made of them
        kinds = Counter(
            (d.cause_type, d.status, d.last_error) for d in deliveries if d.issue_id in untold
        )
        planned = {d.issue_id for d in deliveries}
        verdict.examples["lost: sms, their deliveries"] = [
            *kinds.most_common(5),
            ("issues with no SMS delivery at all", len(untold - planned)),
        ]

    # SMS: notify's messages against the provider's, by idempotency key.
    at_provider = Counter(m["idempotency_key"] for m in provider_messages)
    same_text = Counter((m["to"], m["text"]) for m in provider_messages)
    notice_keys = Counter((d.event_id, d.recipient_key) for d in deliveries)
    # A delivery going alone is its own message, under its id; a bundle is in `messages`.
    pinned = set(messages) | {d.message_key for d in deliveries if d.message_key}
    verdict.add(
        "sms_doubled",
        [("unknown key", k) for k in at_provider if k not in pinned]
        + [("same message twice", to[-4:]) for (to, _), n in same_text.items() if n > 1]
        + [("notice twice", k) for k, n in notice_keys.items() if n > 1]
        + [("key reused for another message", conflicts)] * bool(conflicts),
    )
    sent_keys = {d.message_key for d in deliveries if d.status == "sent" and d.message_key}
    verdict.add("sms_lost", sorted(k for k in sent_keys if k not in at_provider))
    if verdict.counts["sms_lost"]:  # what notify recorded of them, and what the provider has
        by_id = {m["message_id"]: m for m in provider_messages}
        lost = set(verdict.examples["sms_lost"])
        verdict.examples["sms_lost: recorded"] = [
            (
                d.id,
                d.cause_type,
                d.message_key,
                d.provider_message_id,
                (by_id.get(d.provider_message_id) or {}).get("idempotency_key"),
                d.message_key in messages,
                d.provider,
                d.attempts,
                d.last_error,
            )
            for d in deliveries
            if d.message_key in lost
        ]

    # Escalations: each step once, in escalation's records and in what it announced.
    steps = Counter(
        tuple(r)
        for r in _rows(
            stores["escalation"], "SELECT issue_id, clock, assignment, level FROM escalations"
        )
    )
    announced = Counter()
    for (body,) in _rows(
        stores["escalation"], "SELECT body FROM outbox WHERE type = 'issue.escalated'"
    ):
        event = json.loads(body)
        p = event["payload"]
        announced[(event["issue_id"], p["clock"], p["assignment"], p["level"])] += 1
    told_escalated = Counter(
        (d.event_id, d.recipient_key) for d in deliveries if d.cause_type == "issue.escalated"
    )
    verdict.add(
        "escalations_doubled",
        [k for k, n in steps.items() if n > 1]
        + [k for k, n in announced.items() if n > 1]
        + [k for k, n in told_escalated.items() if n > 1],
    )
    now = stopped_at.astimezone(UTC).replace(tzinfo=None)
    escalated = {issue_id for issue_id, clock, _, _ in steps if clock == "claim"}
    unclaimed = accepted - outcomes.claimed
    verdict.add(
        "escalations_missed",
        sorted(
            (r.issue_id, r.clock)
            for r in clocks
            if r.state == "armed" and _naive_utc(r.due_at) < now - SLACK
        )
        + sorted((i, "never escalated") for i in unclaimed if i not in escalated),
    )
    verdict.add(
        "state",
        sorted(
            (i, issues[i].status, issues[i].escalation_level)
            for i in accepted
            if i in issues
            and (
                (i in outcomes.claimed and issues[i].status != "claimed")
                or (i in unclaimed and issues[i].escalation_level < 1)
            )
        ),
    )
    return verdict
