"""Closing the loop when the resident never answers: resolved issues past their feedback time
are closed as "no feedback"."""

from __future__ import annotations

import threading

from services.dispatch import store
from services.dispatch.handlers import close

BATCH = 100


def close_silent_once(service_store, context) -> int:
    with service_store.unit_of_work() as uow:
        now = context.clock()
        due = store.feedback_overdue(uow.conn, now, BATCH)
        for case in due:
            close(uow, context, {**case, "linked_to": case["linked_to"]}, "no_feedback", now)
    return len(due)


def run_feedback_sweeper(service_store, context, interval: float, stop: threading.Event) -> None:
    while not stop.is_set():
        if close_silent_once(service_store, context) < BATCH:
            stop.wait(interval)
