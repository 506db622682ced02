"""Publishing to RabbitMQ with windowed asynchronous publisher confirms (pika).

A confirm per message caps a connection near 2.5 k msg/s here; sending a whole batch
and then waiting for the broker's (multiple-)acks reaches the raw async-confirm rate.
kombu/py-amqp have no asynchronous confirm API, which is why this one piece uses pika.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import threading
from collections.abc import Callable

import pika
from pika.adapters.select_connection import SelectConnection
from pika.spec import Basic

from shared.topology import EXCHANGE_NAME

log = logging.getLogger(__name__)
Message = tuple[str, bytes, str]  # (routing_key, body, message_id)


def pika_url(url: str) -> str:
    """kombu writes the default vhost as `//`; pika reads that as an empty vhost."""
    scheme, sep, rest = url.partition("://")
    host, slash, vhost = rest.partition("/")
    if slash and vhost in ("", "/"):
        return f"{scheme}{sep}{host}/%2F"
    return url


class PublishError(Exception):
    """The broker did not confirm the whole batch; nothing in it may be marked sent."""


class Confirmation:
    """One batch on its way to the broker. Nothing in it counts as sent before wait() returns."""

    def __init__(self, size: int, on_timeout: Callable[[str], None]):
        self._size = size
        self._remaining = size
        self._nacked = 0
        self._error: str | None = None
        self._done = threading.Event()
        self._on_timeout = on_timeout

    def wait(self, timeout: float = 30) -> None:
        """Returns once the broker acked every message; raises PublishError otherwise."""
        if not self._done.wait(timeout):
            self._on_timeout("confirm timeout")
            raise PublishError(f"no confirm within {timeout}s")
        if self._error:
            raise PublishError(self._error)
        if self._nacked:
            raise PublishError(f"broker nacked {self._nacked} of {self._size} messages")

    # Called on the ioloop thread only.

    def settle(self, count: int, nacked: bool) -> None:
        self._remaining -= count
        self._nacked += count if nacked else 0
        if self._remaining <= 0:
            self._done.set()

    def fail(self, reason: str) -> None:
        self._error = reason
        self._done.set()


class _CorkedConnection(SelectConnection):
    """pika writes each frame of a message (method, header, body) to the socket on its own:
    three send() calls per message, and as many small reads for the broker. Corked, the frames
    of a batch are held and go out together, in writes of about WRITE_SIZE bytes."""

    WRITE_SIZE = 64 * 1024
    _held: list[bytes] | None = None

    def cork(self) -> None:
        self._held = []

    def uncork(self) -> None:
        held, self._held = self._held or [], None
        chunk: list[bytes] = []
        size = 0
        for frame in held:
            chunk.append(frame)
            size += len(frame)
            if size >= self.WRITE_SIZE:
                super()._output_marshaled_frames([b"".join(chunk)])
                chunk, size = [], 0
        if chunk:
            super()._output_marshaled_frames([b"".join(chunk)])

    def _output_marshaled_frames(self, marshaled_frames) -> None:
        if self._held is None:
            super()._output_marshaled_frames(marshaled_frames)
        else:
            self._held.extend(marshaled_frames)


class _Link:
    """One connection, its confirm-mode channel and the batches awaiting its confirms. Its
    delivery tags count from 1, so a reconnection never settles an old batch by mistake."""

    def __init__(self, params: pika.URLParameters, exchange: str):
        self.exchange = exchange
        self.channel = None
        self.opened = threading.Event()
        self.failure: str | None = None
        self._pending: dict[int, Confirmation] = {}  # delivery tag -> its batch, ascending
        self._next_tag = 0
        self.conn = _CorkedConnection(
            params,
            on_open_callback=lambda conn: conn.channel(on_open_callback=self._on_channel),
            on_open_error_callback=self._on_open_error,
            on_close_callback=self._on_close,
        )
        threading.Thread(target=self.conn.ioloop.start, name="pika-ioloop", daemon=True).start()

    @property
    def is_open(self) -> bool:
        return self.channel is not None and self.channel.is_open

    def send(self, confirmation: Confirmation, messages: list[Message]) -> None:
        """On the ioloop thread: publish the batch, each message remembered by its tag."""
        if not self.is_open:
            confirmation.fail("channel not open")
            return
        publish, exchange = self.channel.basic_publish, self.exchange
        first = self._next_tag + 1
        self._next_tag += len(messages)
        self._pending.update(dict.fromkeys(range(first, self._next_tag + 1), confirmation))
        self.conn.cork()
        try:
            for routing_key, body, message_id in messages:
                properties = pika.BasicProperties(
                    delivery_mode=2, content_type="application/json", message_id=message_id
                )
                publish(exchange, routing_key, body, properties)
        except Exception as exc:  # tags would no longer match the broker's: start afresh
            self.conn.uncork()
            self._fail_pending(f"publish failed: {exc!r}")
            if self.conn.is_open:
                self.conn.close()
            return
        self.conn.uncork()

    def close(self, reason: str) -> None:
        def close():
            self._fail_pending(reason)
            if self.conn.is_open:
                self.conn.close()
            else:
                self.conn.ioloop.stop()

        with contextlib.suppress(Exception):  # the loop is already gone
            self.conn.ioloop.add_callback_threadsafe(close)

    def _on_channel(self, channel) -> None:
        channel.confirm_delivery(self._on_confirm)
        channel.add_on_close_callback(
            lambda _ch, reason: self._fail_pending(f"channel closed: {reason}")
        )
        self.channel = channel
        self.opened.set()

    def _on_open_error(self, _conn, err) -> None:
        self.failure = str(err)
        self.opened.set()
        self.conn.ioloop.stop()

    def _on_close(self, conn, reason) -> None:
        self._fail_pending(f"connection closed: {reason}")
        conn.ioloop.stop()

    def _on_confirm(self, frame) -> None:
        method = frame.method
        if method.multiple:  # tags are ascending in insertion order
            tags = list(itertools.takewhile(lambda t: t <= method.delivery_tag, self._pending))
        else:
            tags = [method.delivery_tag]
        settled: dict[int, tuple[Confirmation, int]] = {}
        for tag in tags:
            confirmation = self._pending.pop(tag, None)
            if confirmation is not None:
                _, count = settled.get(id(confirmation), (confirmation, 0))
                settled[id(confirmation)] = (confirmation, count + 1)
        nacked = isinstance(method, Basic.Nack)
        for confirmation, count in settled.values():
            confirmation.settle(count, nacked)

    def _fail_pending(self, reason: str) -> None:
        batches = {id(c): c for c in self._pending.values()}
        self._pending = {}
        for confirmation in batches.values():
            confirmation.fail(reason)


class ConfirmedPublisher:
    """Thread-safe. publish_batch() sends at once and returns the batch's Confirmation, so a
    caller may send the next batch while the broker confirms this one."""

    def __init__(self, url: str, exchange: str = EXCHANGE_NAME, connect_timeout: float = 10):
        self._params = pika.URLParameters(pika_url(url))
        self._exchange = exchange
        self._connect_timeout = connect_timeout
        self._lock = threading.Lock()
        self._link: _Link | None = None

    def publish_batch(self, messages: list[Message]) -> Confirmation:
        """Send `messages` in order; wait() on the answer before marking any of them sent."""
        with self._lock:
            link = self._open_link()
            confirmation = Confirmation(len(messages), lambda reason: self._reset(link, reason))
            if not messages:
                confirmation.settle(0, nacked=False)
                return confirmation
            link.conn.ioloop.add_callback_threadsafe(lambda: link.send(confirmation, messages))
            return confirmation

    def close(self) -> None:
        with self._lock:
            if self._link is not None:
                self._link.close("closed")
                self._link = None

    def _open_link(self) -> _Link:
        """The open link, or a new one (the old one's batches fail; their rows stay unsent)."""
        if self._link is not None and self._link.is_open:
            return self._link
        if self._link is not None:
            self._link.close("reconnecting")
        self._link = _Link(self._params, self._exchange)
        if not self._link.opened.wait(self._connect_timeout) or self._link.failure:
            failure = self._link.failure or "timeout"
            self._link.close("open failed")
            self._link = None
            raise PublishError(f"cannot open broker connection: {failure}")
        return self._link

    def _reset(self, link: _Link, reason: str) -> None:
        """A batch went unconfirmed: drop its link (only if it is still the current one)."""
        with self._lock:
            if self._link is link:
                self._link = None
        link.close(reason)
