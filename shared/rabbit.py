"""The RabbitMQ bus: kombu consumes (manual acks, prefetch, retry and dead-letter queues),
pika publishes the outbox with windowed asynchronous confirms (see publisher.py). While an
event waits in a delay queue, the later events of its issue wait behind it (shared.holds).

The messages already delivered when the consumer turns to them are applied together, up to
`batch` of them in one transaction, and acknowledged with one `multiple` ack once it has
committed: a commit and an ack per batch, not per event, is most of what a busy consumer
saves. The first that cannot be applied stops the batch: the ones before it commit and are
acked, it is parked, retried or dead-lettered as it would be alone, and the rest go on as the
next batch (shared.subscriber.Subscriber.apply_together). A crash at any point leaves the
uncommitted ones unacked: redelivered, and the inbox turns away any that had been applied."""

from __future__ import annotations

import json
import logging
import threading
from datetime import timedelta

from kombu import Connection, Consumer, Producer
from kombu.mixins import ConsumerMixin
from sqlalchemy import Connection as StoreConnection
from sqlalchemy.exc import SQLAlchemyError

from shared import holds, metrics, topology
from shared.db import lost_a_race
from shared.envelope import MalformedMessage, utcnow
from shared.subscriber import Subscriber

log = logging.getLogger(__name__)
ATTEMPTS_HEADER = "x-loudong-attempts"
DEAD_AT_HEADER = "x-loudong-dead-lettered-at"  # when, for `loudong dlq list`
PARKED_HEADER = "x-loudong-parked-behind"  # the event it waits for: parked, not failed


def connect(url: str, confirm: bool = False) -> Connection:
    options = {"confirm_publish": True} if confirm else {}
    return Connection(url, heartbeat=30, transport_options=options, connect_timeout=5)


def declare_topology(url: str, queue_type: str = "classic") -> None:
    with connect(url) as conn:
        topology.declare_all(conn.default_channel, queue_type)


class RabbitConsumer(ConsumerMixin):
    """Feeds a Subscriber from its queue. Every message is acked only after its effect
    committed, or after it was handed, confirmed, to a retry or dead-letter queue."""

    def __init__(
        self,
        subscriber: Subscriber,
        url: str,
        prefetch: int,
        retry_delays: tuple[float, ...],
        queue_type: str = "classic",
        batch: int = 1,
    ):
        if len(retry_delays) > topology.MAX_RETRY_LEVELS:
            raise ValueError(f"at most {topology.MAX_RETRY_LEVELS} retry delays")
        self.connection = connect(url)
        self._subscriber = subscriber
        self._service = subscriber.service
        self._prefetch = prefetch
        self._delays = retry_delays
        self._queue_type = queue_type
        self._side = connect(url, confirm=True)  # publishes to retry/dead queues, confirmed
        self._ready = False
        self._batch = max(1, min(batch, prefetch))
        self._delivered: list = []  # taken from the socket, not yet applied

    def is_ready(self) -> bool:
        return self._ready  # ConsumerMixin consumes on a clone of self.connection

    def get_consumers(self, _Consumer, channel):
        topology.declare_all(channel, self._queue_type)
        consumer = Consumer(
            channel,
            queues=[topology.work_queue(self._service, self._queue_type)],
            on_message=self.on_message,
            prefetch_count=self._prefetch,
            auto_declare=False,
        )
        return [consumer]

    def on_consume_ready(self, connection, channel, consumers, **kwargs):
        self._ready = True

    def on_connection_error(self, exc, interval):
        self._ready = False
        log.warning(
            "%s: broker connection lost (%s); retrying in %ss", self._service, exc, interval
        )

    def run_until(self, stop: threading.Event) -> None:
        watcher = threading.Thread(
            target=lambda: (stop.wait(), setattr(self, "should_stop", True)), daemon=True
        )
        watcher.start()
        self.run()

    def consume(self, limit=None, timeout=None, safety_interval=1, **kwargs):
        """ConsumerMixin's loop, batching: after a message, whatever else has already arrived
        is taken too (a read that does not wait), then the batch is applied."""
        with self.consumer_context(**kwargs) as (conn, _channel, _consumers):
            self._delivered = []  # a new channel: the old one's unacked come back
            while not self.should_stop:
                try:
                    conn.drain_events(timeout=0 if self._delivered else safety_interval)
                except TimeoutError:  # socket.timeout: nothing more has arrived
                    if self._delivered:
                        self._apply_delivered()
                    else:
                        conn.heartbeat_check()
                except OSError:
                    if not self.should_stop:
                        raise
                else:
                    if len(self._delivered) >= self._batch:
                        self._apply_delivered()
                yield

    def on_message(self, message) -> None:
        self._delivered.append(message)

    def _apply_delivered(self) -> None:
        batch, self._delivered = self._delivered, []
        while batch:
            # no delay queue, no waiting: then the line is not looked at
            ids = [_ids(m.body) if self._delays else None for m in batch]
            lines = holds.Lines([i[0] for i in ids if i])
            together = [(m.body, self._in_order(i, lines)) for m, i in zip(batch, ids, strict=True)]
            applied, failure = self._subscriber.apply_together(together)
            if applied:
                batch[applied - 1].ack(multiple=True)  # and every delivery before it
            if failure is None:
                return
            if lost_a_race(failure):
                failure = self._once_more_alone(together[applied], failure)
            if failure is not None:
                self._failed(batch[applied], failure, ids[applied])
            batch[applied].ack()
            batch = batch[applied + 1 :]

    def _once_more_alone(self, message: tuple, lost: Exception) -> Exception | None:
        """An event that lost a race with another replica's transaction (a deadlock's victim,
        or tired of waiting on a lock in a batch), applied again at once, alone: the other
        has committed by now. The delay queue would cost it a second or more. Its failure,
        if it fails again."""
        log.info("%s: lost a race with another transaction; once more: %r", self._service, lost)
        metrics.RACES_LOST.labels(self._service).inc()
        return self._subscriber.apply_together([message]).failure

    def _failed(self, message, failure: Exception, ids: tuple[str, str] | None) -> None:
        """Parked behind its issue's line, dead-lettered, or sent to wait for a retry: each
        confirmed by the broker before the message is acked."""
        if isinstance(failure, _Parked):
            self._park(message, ids, failure.ahead)
        elif isinstance(failure, MalformedMessage):
            self._forward(
                message,
                topology.dead_queue_name(self._service),
                attempt=1,
                reason=f"malformed: {failure}",
            )
            metrics.DEAD_LETTERED.labels(self._service, "malformed").inc()
            self._subscriber.count_failure(message.body, "dead_lettered")
        else:
            self._retry_or_dead_letter(message, failure, ids)

    def _in_order(self, ids: tuple[str, str] | None, lines: holds.Lines):
        """Run first in the handler's transaction: is an earlier event of its issue waiting?"""
        if ids is None:
            return None

        def within(conn: StoreConnection) -> bool:
            ahead = lines.ahead_of(conn, *ids, utcnow())
            if ahead is not None:
                raise _Parked(ahead)  # rolls back: nothing of it applied
            return True

        return within

    def _park(self, message, ids: tuple[str, str], ahead: holds.Ahead) -> None:
        """Into the delay queue the event ahead waits in, with the same expiration: it comes
        back after that one. Its own attempts do not grow."""
        attempt = min(ahead.attempt, len(self._delays))  # the delays may have been cut since
        delay = self._delays[attempt - 1]
        self._hold(ids, attempt, delay)
        self._forward(
            message,
            topology.retry_queue_name(self._service, attempt),
            expiration=delay,
            parked_behind=ahead.event_id,
        )

    def _retry_or_dead_letter(self, message, exc: Exception, ids) -> None:
        attempt = int((message.headers or {}).get(ATTEMPTS_HEADER, 0)) + 1
        log.warning("%s: handler failed (attempt %s): %r", self._service, attempt, exc)
        if attempt <= len(self._delays):
            self._hold(ids, attempt, sum(self._delays[attempt - 1 :]))
            self._forward(
                message,
                topology.retry_queue_name(self._service, attempt),
                attempt=attempt,
                expiration=self._delays[attempt - 1],
            )
            self._subscriber.count_failure(message.body, "retried")
            return
        self._forward(
            message,
            topology.dead_queue_name(self._service),
            attempt=attempt,
            reason=f"handler_failed: {exc!r}",
        )
        self._in_store(ids, lambda conn: holds.release(conn, *ids))
        metrics.DEAD_LETTERED.labels(self._service, "handler_failed").inc()
        self._subscriber.count_failure(message.body, "dead_lettered")

    def _hold(self, ids, attempt: int, waits: float) -> None:
        """Its place in its issue's line, committed before it goes to the delay queue, so that
        no later event of the issue slips past it meanwhile."""
        until = utcnow() + timedelta(seconds=waits) + holds.MARGIN
        self._in_store(ids, lambda conn: holds.hold(conn, *ids, attempt, until))

    def _in_store(self, ids, write) -> None:
        """A store out of reach must not stall the queue: the message goes on without its
        row (unordered then, as before the table), or its row lapses at held_until."""
        if ids is None:
            return
        try:
            with self._subscriber.store.unit_of_work() as uow:
                write(uow.conn)
        except SQLAlchemyError as exc:
            log.warning("%s: issue %s: its order not kept (%s)", self._service, ids[0], exc)

    def _forward(
        self,
        message,
        queue: str,
        attempt: int | None = None,
        reason: str | None = None,
        expiration: float | None = None,
        parked_behind: str | None = None,
    ) -> None:
        headers = dict(message.headers or {})
        headers.pop(PARKED_HEADER, None)
        if parked_behind is not None:
            headers[PARKED_HEADER] = parked_behind
        if attempt is not None:
            headers[ATTEMPTS_HEADER] = attempt
        if reason is not None:
            headers["x-loudong-reason"] = reason[:1000]
            headers["x-loudong-routing-key"] = message.delivery_info.get("routing_key", "")
            headers[DEAD_AT_HEADER] = utcnow().isoformat()
        producer = Producer(self._side.default_channel, auto_declare=False)  # the default exchange
        producer.publish(
            message.body,
            routing_key=queue,
            headers=headers,
            delivery_mode=2,
            content_type=message.content_type or "application/json",
            content_encoding=message.content_encoding or "utf-8",
            expiration=expiration,
            retry=True,
            retry_policy={"max_retries": 5},
        )


class _Parked(Exception):
    """An earlier event of its issue is waiting in a delay queue: this one waits behind it."""

    def __init__(self, ahead: holds.Ahead):
        self.ahead = ahead


def _ids(body: bytes | str) -> tuple[str, str] | None:
    """(issue id, event id), read cheaply; None for a body that is no envelope (the
    subscriber says what is wrong with it)."""
    try:
        raw = json.loads(body)
        return str(raw["issue_id"])[:64], str(raw["id"])[:64]
    except (ValueError, TypeError, KeyError, IndexError):
        return None
