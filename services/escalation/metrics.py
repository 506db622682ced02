"""Escalation's Prometheus metrics; the clock gauges are read from the store at scrape time."""

from __future__ import annotations

from datetime import datetime, time, timedelta

from prometheus_client import Counter, Histogram
from prometheus_client.core import GaugeMetricFamily

from services.escalation import store

ESCALATIONS = Counter(
    "loudong_escalation_escalations_total", "Escalations fired", ["level", "reason"]
)
WARNINGS = Counter(
    "loudong_escalation_warnings_total", "Warnings sent before a deadline", ["clock"]
)
PAGE_REFUSALS = Counter(
    "loudong_escalation_page_refusals_total",
    "What the leader's board refused: bad_token, csrf, invalid_form, wrong_state, forbidden, "
    "not_found",
    ["reason"],
)
FIRING_LAG = Histogram(
    "loudong_escalation_firing_lag_seconds",
    "From a deadline to its escalation committed",
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300),
)


class ClockCollector:
    """Open clocks, and the watchdog: deadlines past due that have not fired."""

    def __init__(self, service_store, clock):
        self._store, self._clock = service_store, clock

    def collect(self):
        with self._store.read() as conn:
            armed = store.armed_count(conn)
            overdue = store.overdue_unfired(conn, self._clock())
        yield GaugeMetricFamily("loudong_escalation_open_clocks", "Armed clocks", value=armed)
        yield GaugeMetricFamily(
            "loudong_escalation_overdue_unfired",
            "Armed clocks past due, not yet fired",
            value=overdue,
        )


class CalendarCollector:
    """How far the holiday calendar reaches: the instant its last known day ends (midnight in
    the policies' zone). Alert when it is less than 45 days away."""

    def __init__(self, schedule, loaded_policies):
        self._schedule, self._zone = schedule, loaded_policies.calendar.zone

    def known_until(self) -> float:
        end = self._schedule.known_until() + timedelta(days=1)
        return datetime.combine(end, time(0), self._zone).timestamp()

    def collect(self):
        yield GaugeMetricFamily(
            "loudong_escalation_calendar_known_until_timestamp_seconds",
            "When the last day the holiday calendar (chinese-calendar or the calendar file) "
            "knows ends",
            value=self.known_until(),
        )
