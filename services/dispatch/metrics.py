"""Dispatch's Prometheus metrics: per street and unit, never per issue or person."""

from __future__ import annotations

from prometheus_client import Counter, Histogram
from prometheus_client.core import GaugeMetricFamily

from services.dispatch import store

DURATIONS = (60, 300, 900, 1800, 3600, 7200, 14400, 28800, 86400, 259200, 604800)
DISPATCHED = Counter(
    "loudong_dispatch_dispatched_total", "Assignments sent", ["street", "unit", "tier", "role"]
)
CLAIMED = Counter(
    "loudong_dispatch_claimed_total",
    "Assignments claimed, and whether within the claim limit",
    ["street", "unit", "on_time"],
)
RETURNED = Counter(
    "loudong_dispatch_returned_total", "Assignments returned (退單)", ["street", "unit", "reason"]
)
RESOLVED = Counter(
    "loudong_dispatch_resolved_total",
    "Lead assignments resolved, and whether within the resolve limit",
    ["street", "unit", "in_time"],
)
REOPENED = Counter(
    "loudong_dispatch_reopened_total", "Issues reopened after a dissatisfied resident", ["street"]
)
CLOSED = Counter("loudong_dispatch_closed_total", "Issues closed", ["street", "reason"])
CLAIM_SECONDS = Histogram(
    "loudong_dispatch_claim_seconds", "From dispatch to claim", ["street"], buckets=DURATIONS
)
RESOLVE_SECONDS = Histogram(
    "loudong_dispatch_resolve_seconds", "From claim to resolve", ["street"], buckets=DURATIONS
)
URGED = Counter(
    "loudong_dispatch_urged_total", "Supervisors' urgings (督办意见) sent to a unit", ["street"]
)
REPLIES = Counter(
    "loudong_dispatch_sms_replies_total",
    "Units' SMS replies (unit.replied), applied or refused by the lifecycle",
    ["action", "outcome"],
)
LINK_REFUSALS = Counter(
    "loudong_dispatch_link_refusals_total",
    "Units' links refused: unknown (never issued), expired or revoked",
    ["reason"],
)

PAGE_REFUSALS = Counter(
    "loudong_dispatch_page_refusals_total",
    "What units' pages refused: csrf, too_large, photo_<why>, invalid_form, wrong_state, "
    "forbidden, not_found",
    ["reason"],
)


class OpenCasesCollector:
    """Open issues by street and tier, and those past their claim or resolve deadline by street
    and unit in charge (the alert on a unit sitting on its issues), read at scrape time."""

    def __init__(self, service_store, clock):
        self._store, self._clock = service_store, clock

    def collect(self):
        family = GaugeMetricFamily(
            "loudong_dispatch_open_issues", "Open issues", labels=["street", "tier"]
        )
        overdue = GaugeMetricFamily(
            "loudong_dispatch_overdue_issues",
            "Open issues past their claim or resolve deadline, by unit in charge",
            labels=["street", "unit"],
        )
        with self._store.read() as conn:
            for street, tier, count in store.open_by_tier(conn):
                family.add_metric([street, tier or "untriaged"], count)
            for street, unit, count in store.overdue_by_unit(conn, self._clock()):
                overdue.add_metric([street, unit or "none"], count)
        yield family
        yield overdue
