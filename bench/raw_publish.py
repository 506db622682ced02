"""Ceiling 2: raw pika publishing with asynchronous publisher confirms.

One SelectConnection, one confirm-mode channel; persistent ~1 KB JSON messages go to a
durable queue through the default exchange, keeping at most `window` unconfirmed;
each (multiple-)ack tops the window up again. The clock runs from the first publish to
the last confirm.
"""

from __future__ import annotations

import itertools
import json
import time
import uuid

import pika
from pika.adapters.select_connection import SelectConnection
from pika.spec import Basic

from bench import infra
from shared.publisher import pika_url

RAW_QUEUE = "loudong.bench.raw"


def message_body(size: int = 1024) -> bytes:
    """A JSON object padded to about `size` bytes, shaped like an event envelope."""
    envelope = {
        "id": str(uuid.uuid4()),
        "type": "bench.raw",
        "issue_id": str(uuid.uuid4()),
        "producer": "bench",
        "occurred_at": "2025-01-01T00:00:00+00:00",
        "payload": {"pad": ""},
    }
    pad = size - len(json.dumps(envelope))
    envelope["payload"]["pad"] = "x" * max(0, pad)
    return json.dumps(envelope).encode()


class WindowedPublisher:
    def __init__(
        self, url: str, queue: str, body: bytes, total: int, window: int, timeout: float = 120
    ):
        self.queue, self.body, self.total, self.window, self.timeout = (
            queue,
            body,
            total,
            window,
            timeout,
        )
        self.sent = self.acked = self.nacked = 0
        self.started = self.finished = 0.0
        self.error: str | None = None
        self._unconfirmed: dict[int, None] = {}  # delivery tags, ascending
        self._channel = None
        self._properties = pika.BasicProperties(delivery_mode=2, content_type="application/json")
        self._conn = SelectConnection(
            pika.URLParameters(pika_url(url)),
            on_open_callback=self._on_open,
            on_open_error_callback=self._on_error,
            on_close_callback=self._on_close,
        )

    def run(self) -> float:
        """Publish everything; the elapsed seconds. Raises if the broker failed us."""
        self._conn.ioloop.call_later(
            self.timeout, lambda: self._finish(f"timeout after {self.timeout}s")
        )
        self._conn.ioloop.start()
        if self.error:
            raise RuntimeError(
                f"raw publish: {self.error} ({self.acked} of {self.total} confirmed)"
            )
        return self.finished - self.started

    def _on_open(self, conn) -> None:
        conn.channel(on_open_callback=self._on_channel)

    def _on_error(self, _conn, err) -> None:
        self.error = f"cannot connect: {err}"
        self._conn.ioloop.stop()

    def _on_close(self, _conn, reason) -> None:
        if not self.finished and not self.error:
            self.error = f"connection closed: {reason}"
        self._conn.ioloop.stop()

    def _on_channel(self, channel) -> None:
        self._channel = channel
        channel.confirm_delivery(self._on_confirm, callback=self._on_confirm_mode)

    def _on_confirm_mode(self, _frame) -> None:
        self.started = time.perf_counter()
        self._fill_window()

    def _fill_window(self) -> None:
        while self.sent < self.total and len(self._unconfirmed) < self.window:
            self._channel.basic_publish("", self.queue, self.body, self._properties)
            self.sent += 1
            self._unconfirmed[self.sent] = None  # tags count from 1 on a fresh channel

    def _on_confirm(self, frame) -> None:
        method = frame.method
        if method.multiple:
            tags = list(itertools.takewhile(lambda t: t <= method.delivery_tag, self._unconfirmed))
        else:
            tags = [method.delivery_tag]
        for tag in tags:
            self._unconfirmed.pop(tag, None)
        if isinstance(method, Basic.Nack):
            self.nacked += len(tags)
        else:
            self.acked += len(tags)
        if self.acked + self.nacked >= self.total:
            self.finished = time.perf_counter()
            self._finish(None)
        else:
            self._fill_window()

    def _finish(self, error: str | None) -> None:
        if self.finished == 0 and error:
            self.error = error
        if self._conn.is_open:
            self._conn.close()
        else:
            self._conn.ioloop.stop()


def measure(total: int = 50_000, window: int = 1000) -> tuple[float, int]:
    """(messages confirmed per second, messages nacked)."""
    infra.declare_queue(RAW_QUEUE)
    try:
        publisher = WindowedPublisher(infra.BROKER_URL, RAW_QUEUE, message_body(), total, window)
        elapsed = publisher.run()
        return publisher.acked / elapsed, publisher.nacked
    finally:
        infra.delete_queue(RAW_QUEUE)
