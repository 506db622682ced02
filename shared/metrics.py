"""The plumbing's Prometheus metrics, recorded around handlers, the relay and HTTP.

Labels are bounded: service names, event types, outcomes, endpoints and status codes;
never issue ids or people. Each service declares its own domain metrics in its metrics.py.
"""

from __future__ import annotations

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
    "Time to apply one event and commit",
    ["service", "type"],
    buckets=LATENCY_BUCKETS,
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
            scrape.register(collector)
        return generate_latest(registry) + generate_latest(scrape), CONTENT_TYPE_LATEST
    return generate_latest(registry), CONTENT_TYPE_LATEST
