"""The dead-letter path, listed and replayable: what `loudong dlq` reads, puts back and drops.

Each bus keeps its consumer's dead letters in its own place: the embedded bus in the store's
`dead_letter` table, RabbitMQ in the queue `loudong.<service>.dead`. Both are seen here the
same way, as `DeadLetter`s keyed by the event's id (a body that is no envelope at all gets
`m-` and a hash of its bytes), so an operator can take an id from one bus's listing to the
other's habits.

Replay puts a message back to its consumer, not into the exchange: on the embedded bus into
the store's `retry` table, due now, behind any event of its issue still set aside (per-issue
order kept); on RabbitMQ into the service's work queue, confirmed by the broker before the
dead copy is acked. Either way it gets the whole retry schedule again, and the consumer's
inbox makes it apply at most once: a message replayed twice, or both copies of an event the
relay published twice, changes the store once.

Nothing shown here carries a resident's phone or name: every text goes through
shared.privacy (the `resident.*` events hold a phone; errors may quote a payload).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path

from sqlalchemy import delete, insert, inspect, select

from shared import config, rabbit, topology
from shared.db import create_engines
from shared.envelope import MalformedMessage, parse, utcnow
from shared.outbox import dead_letter, retry
from shared.privacy import mask_address, mask_name, mask_phones

DEAD_AT_HEADER = rabbit.DEAD_AT_HEADER
REPLAYED_HEADER = "x-loudong-replays"
MOST = 100_000  # dead letters read at once from a RabbitMQ queue (each held unacked meanwhile)


class NoSuchDeadLetter(Exception):
    """No dead letter has that id (or id prefix)."""


class AmbiguousId(Exception):
    """An id prefix that more than one dead letter's id starts with."""


@dataclass(frozen=True)
class DeadLetter:
    id: str  # the event's id; "m-<hash>" for a body that is no envelope
    type: str  # "?" for a body that is no envelope
    issue_id: str
    at: datetime | None  # when it was dead-lettered (None: an old RabbitMQ copy without it)
    reason: str  # "malformed: …" or "handler_failed: …", the consumer's own words
    attempts: int | None
    body: str
    row: int | None = None  # the embedded bus's dead_letter.id

    @property
    def malformed(self) -> bool:
        return self.reason.startswith("malformed")


def letter(body: bytes | str, reason: str, at, attempts, row=None) -> DeadLetter:
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
    try:
        envelope = parse(body)
        key, type_, issue_id = envelope.id, envelope.type, envelope.issue_id
    except MalformedMessage:
        raw = body if isinstance(body, bytes) else body.encode("utf-8", "surrogatepass")
        key, type_, issue_id = "m-" + hashlib.sha256(raw).hexdigest()[:12], "?", "?"
    return DeadLetter(key, type_, issue_id, at, reason, attempts, text, row)


def chosen(letters: list[DeadLetter], wanted: str) -> list[DeadLetter]:
    """The dead letters whose id is `wanted` or starts with it (several copies of one event
    are all chosen); NoSuchDeadLetter, or AmbiguousId when the prefix fits different ids."""
    wanted = wanted.strip().lower()
    exact = [d for d in letters if d.id == wanted]
    found = exact or [d for d in letters if wanted and d.id.startswith(wanted)]
    if not found:
        raise NoSuchDeadLetter(wanted)
    ids = sorted({d.id for d in found})
    if len(ids) > 1:
        raise AmbiguousId(f"{wanted} fits {len(ids)} ids: {', '.join(i[:13] for i in ids[:5])}")
    return found


# --- masking -----------------------------------------------------------------------------

_NAME_HOLDERS = ("reporter", "resident", "contact_person")


def masked(value, key: str = "", holder: str = ""):
    """A copy of a decoded message with phones and residents' names masked, at any depth."""
    if isinstance(value, dict):
        return {k: masked(v, k, key) for k, v in value.items()}
    if isinstance(value, list):
        return [masked(v, key, holder) for v in value]
    if value is None or isinstance(value, bool):
        return value
    lowered = key.lower()
    if "phone" in lowered or "mobile" in lowered:
        return mask_address(str(value))  # a number too: a refused payload may hold anything
    if not isinstance(value, str):
        text = str(value)
        return value if mask_phones(text) == text else mask_phones(text)
    if lowered in ("reporter_name", "resident_name") or (
        lowered == "name" and holder.lower() in _NAME_HOLDERS
    ):
        return mask_name(value)
    return mask_phones(value)


def masked_letter(d: DeadLetter) -> DeadLetter:
    try:
        body = json.dumps(masked(json.loads(d.body)), ensure_ascii=False, indent=2)
    except ValueError:
        body = mask_phones(d.body)
    return replace(d, reason=mask_phones(d.reason), body=body)


# --- the embedded bus: the store's dead_letter table ---------------------------------------


class EmbeddedDeadLetters:
    """The `dead_letter` table of one service's SQLite store."""

    def __init__(self, service: str, url: str, retry_delays: tuple[float, ...], clock=utcnow):
        self.service = service
        self._url = url
        self._delays = retry_delays
        self._clock = clock
        self._engine = None

    def _writer(self):
        if self._engine is None:
            path = Path(self._url.split("///", 1)[1]) if self._url.startswith("sqlite") else None
            if path is not None and not path.exists():
                return None  # that service never ran here: nothing dead, and no file made
            engine = create_engines(self._url)[0]
            if not inspect(engine).has_table(dead_letter.name):
                engine.dispose()
                return None
            self._engine = engine
        return self._engine

    def list(self) -> list[DeadLetter]:
        engine = self._writer()
        if engine is None:
            return []
        with engine.connect() as conn:
            rows = conn.execute(select(dead_letter).order_by(dead_letter.c.id)).all()
        return [
            letter(r.body, r.reason, r.created_at, self._attempts(r.reason), row=r.id) for r in rows
        ]

    def _attempts(self, reason: str) -> int:
        # The table keeps no count: a handler's failure had every attempt the schedule gives.
        return 1 if reason.startswith("malformed") else len(self._delays) + 1

    def replay(self, letters: list[DeadLetter]) -> list[DeadLetter]:
        """Into the retry table, due now, each with its dead letter's removal in one
        transaction; the ones another operator took first are left out of the answer."""
        engine, done, now = self._writer(), [], self._clock()
        for d in letters:
            with engine.begin() as conn:
                if not conn.execute(delete(dead_letter).where(dead_letter.c.id == d.row)).rowcount:
                    continue
                conn.execute(
                    insert(retry).values(
                        source=_source_of(d),
                        seq=-d.row,  # no outbox row of its own: negative never meets a real seq
                        issue_id=d.issue_id if d.type != "?" else d.id,
                        body=d.body,
                        attempt=0,
                        next_attempt_at=now,
                        last_error=None,
                        created_at=now,
                    )
                )
            done.append(d)
        return done

    def discard(self, letters: list[DeadLetter]) -> list[DeadLetter]:
        engine, done = self._writer(), []
        for d in letters:
            with engine.begin() as conn:
                if conn.execute(delete(dead_letter).where(dead_letter.c.id == d.row)).rowcount:
                    done.append(d)
        return done

    def close(self) -> None:
        if self._engine is not None:
            self._engine.dispose()


def _source_of(d: DeadLetter) -> str:
    try:
        return parse(d.body).producer[:32]
    except MalformedMessage:
        return "dlq"


# --- RabbitMQ: the queue loudong.<service>.dead ---------------------------------------------


class RabbitDeadLetters:
    """The dead-letter queue of one service. Reading takes every message unacked and lets
    the broker requeue them (in their order) when the channel closes; replaying and
    discarding ack only the chosen ones, a replayed one after its confirmed copy."""

    def __init__(self, service: str, url: str, queue_type: str = "classic"):
        self.service = service
        self._url = url
        self._queue_type = queue_type

    def list(self) -> list[DeadLetter]:
        with rabbit.connect(self._url) as conn:
            channel = conn.channel()
            try:
                return [d for d, _ in self._take_all(channel)]
            finally:
                channel.close()  # nothing acked: all go back

    def replay(self, letters: list[DeadLetter]) -> list[DeadLetter]:
        return self._settle(letters, put_back=True)

    def discard(self, letters: list[DeadLetter]) -> list[DeadLetter]:
        return self._settle(letters, put_back=False)

    def close(self) -> None:
        pass

    def _take_all(self, channel):
        topology.declare_all(channel, self._queue_type)
        queue = topology.side_queues(self.service, self._queue_type)[-1](channel)
        taken = []
        while len(taken) < MOST:
            message = queue.get(no_ack=False, accept=None)
            if message is None:
                break
            headers = message.headers or {}
            at = headers.get(DEAD_AT_HEADER)
            attempts = headers.get(rabbit.ATTEMPTS_HEADER)
            reason = str(headers.get("x-loudong-reason", "?"))
            if attempts is not None and DEAD_AT_HEADER not in headers:
                attempts = int(attempts) + 1  # before the header: the last retry's number
            taken.append(
                (
                    letter(
                        message.body,
                        reason,
                        datetime.fromisoformat(at) if at else None,
                        None if attempts is None else int(attempts),
                    ),
                    message,
                )
            )
        return taken

    def _settle(self, letters: list[DeadLetter], put_back: bool) -> list[DeadLetter]:
        """The messages with the chosen ids, as they are in the queue now."""
        wanted, done = {d.id for d in letters}, []
        with rabbit.connect(self._url) as conn, rabbit.connect(self._url, confirm=True) as side:
            channel = conn.channel()
            try:
                for d, message in self._take_all(channel):
                    if d.id not in wanted:
                        continue
                    if put_back:
                        _publish_back(side, self.service, message)
                    message.ack()
                    done.append(d)
            finally:
                channel.close()  # the others go back
        return done


def _publish_back(side, service: str, message) -> None:
    """Into the work queue through the default exchange, confirmed; the headers of its last
    life dropped, so it starts the retry schedule again."""
    from kombu import Producer

    headers = {
        k: v for k, v in (message.headers or {}).items() if not str(k).startswith("x-loudong-")
    }
    headers[REPLAYED_HEADER] = int((message.headers or {}).get(REPLAYED_HEADER, 0)) + 1
    Producer(side.default_channel, auto_declare=False).publish(
        message.body,
        routing_key=topology.queue_name(service),
        headers=headers,
        delivery_mode=2,
        content_type=message.content_type or "application/json",
        content_encoding=message.content_encoding or "utf-8",
        retry=True,
        retry_policy={"max_retries": 5},
    )


def dead_letters(service: str, env: dict | None = None):
    """The dead letters of `service` on the bus the environment configures."""
    settings = config.load(service, env)
    if settings.broker_url:
        return RabbitDeadLetters(service, settings.broker_url, settings.queue_type)
    return EmbeddedDeadLetters(service, settings.database_url, settings.retry_delays)
