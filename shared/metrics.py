"""The plumbing's Prometheus metrics, recorded around handlers, the relay and HTTP.

Labels are bounded: service names, event types, outcomes, endpoints and status codes;
never issue ids or people. Each service declares its own domain metrics in its metrics.py.
"""

from __future__ import annotations

import logging
import os

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import GaugeMetricFamily
from sqlalchemy import func, select

from shared.outbox import dead_letter, outbox, retry

log = logging.getLogger(__name__)
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)

EVENTS_CONSUMED = Counter(
    "loudong_events_consumed_total",
    "Events taken off the bus, by outcome",
    ["service", "type", "outcome"],
)
DEAD_LETTERED = Counter(
    "loudong_dead_lettered_total", "Messages sent to the dead-letter queue", ["service", "reason"]
)
HANDLER_SECONDS = Histogram(
    "loudong_handler_seconds",
    "Time to apply one event (with its commit when applied alone, not in a batch)",
    ["service", "type"],
    buckets=LATENCY_BUCKETS,
)
RACES_LOST = Counter(
    "loudong_races_lost_total",
    "Events whose transaction PostgreSQL failed for another's sake (a deadlock's victim), "
    "applied once more at once",
    ["service"],
)
CONSUMED_BATCH = Histogram(
    "loudong_consumed_batch_size",
    "Events applied in one transaction and acknowledged together (batches of two or more)",
    ["service"],
    buckets=(2, 5, 10, 20, 50, 100, 200),
)
EVENTS_PUBLISHED = Counter(
    "loudong_events_published_total", "Outbox events confirmed by the broker", ["service"]
)
RELAY_LAG = Histogram(
    "loudong_relay_lag_seconds",
    "From outbox commit to broker confirm",
    ["service"],
    buckets=LATENCY_BUCKETS,
)
RELAY_ERRORS = Counter(
    "loudong_relay_errors_total", "Relay batches that failed and will be retried", ["service"]
)
HTTP_REQUESTS = Counter(
    "loudong_http_requests_total",
    "HTTP requests answered",
    ["service", "endpoint", "method", "status"],
)
HTTP_SECONDS = Histogram(
    "loudong_http_request_seconds",
    "HTTP request duration",
    ["service", "endpoint"],
    buckets=LATENCY_BUCKETS,
)


def exposition(extra_collectors=()) -> tuple[bytes, str]:
    """The /metrics body: every worker process's samples in multiprocess mode, plus
    collectors that read the store at scrape time."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
    else:
        registry = REGISTRY
    if extra_collectors:
        scrape = CollectorRegistry()
        for collector in extra_collectors:
            scrape.register(_Guarded(collector))
        return generate_latest(registry) + generate_latest(scrape), CONTENT_TYPE_LATEST
    return generate_latest(registry), CONTENT_TYPE_LATEST


class _Guarded:
    """A scrape-time collector whose store is out of reach yields nothing rather than failing
    the whole scrape: the process's own counters and `loudong_ready` still say what is wrong."""

    def __init__(self, collector):
        self._collector = collector

    def collect(self):
        try:
            yield from list(self._collector.collect())
        except Exception as exc:  # the store or the broker is down: readiness reports it
            log.warning(
                "metrics: %s skipped: %s", type(self._collector).__name__, type(exc).__name__
            )

    def describe(self):
        return []  # collected at scrape time only: no registration-time collect


class ReadinessCollector:
    """`loudong_ready{service, check}`: 1 while the check /readyz runs passes (store, bus), so
    an alert tells "up but not ready" from "down"."""

    def __init__(self, service: str, checks: dict):
        self._service, self._checks = service, checks

    def collect(self):
        family = GaugeMetricFamily(
            "loudong_ready", "1 while the readiness check passes", labels=["service", "check"]
        )
        for name, check in self._checks.items():
            try:
                ok = bool(check())
            except Exception:
                ok = False
            family.add_metric([self._service, name], 1.0 if ok else 0.0)
        yield family


class PlumbingCollector:
    """The store's side of the pipeline, read at scrape time, for every service: what its outbox
    still has to publish and how old the oldest of it is (only when a relay publishes it to
    RabbitMQ — on the embedded bus the outbox is the log itself, nothing drains it), and what
    waits in its retry and dead-letter tables. Alerts watch these rather than guess from rates."""

    def __init__(self, service_store, service: str, relays: bool, clock):
        self._store, self._service, self._relays, self._clock = (
            service_store,
            service,
            relays,
            clock,
        )

    def collect(self):
        with self._store.read() as conn:
            waiting = conn.execute(select(func.count()).select_from(retry)).scalar_one()
            dead = conn.execute(select(func.count()).select_from(dead_letter)).scalar_one()
            if self._relays:
                unpublished, oldest = conn.execute(
                    select(func.count(), func.min(outbox.c.created_at)).where(
                        outbox.c.published_at.is_(None)
                    )
                ).one()
        labels = ["service"]
        gauges = [
            ("loudong_retry_waiting", "Events set aside to be tried again", waiting),
            ("loudong_dead_letters", "Events given up on, kept to be listed and replayed", dead),
        ]
        if self._relays:
            age = (self._clock() - oldest).total_seconds() if oldest else 0.0
            gauges += [
                ("loudong_outbox_unpublished", "Committed events not yet confirmed", unpublished),
                (
                    "loudong_outbox_oldest_unpublished_age_seconds",
                    "Age of the oldest event the relay has not published (0: none waits)",
                    max(age, 0.0),
                ),
            ]
        for name, help_text, value in gauges:
            family = GaugeMetricFamily(name, help_text, labels=labels)
            family.add_metric([self._service], value)
            yield family
