"""Closing the loop when the resident never answers: resolved issues past their feedback time
are closed as "no feedback"."""

from __future__ import annotations

import threading
from functools import partial

from services.dispatch import store
from services.dispatch.commands import close
from shared.loops import run_in_batches

BATCH = 100


def close_silent_once(service_store, context) -> int:
    """Close one batch of issues whose feedback time has passed; how many it closed."""
    with service_store.unit_of_work() as uow:
        due, closed = store.feedback_overdue(uow.conn, context.clock(), BATCH), set()
        for case in due:  # primaries first, so a twin closes once, with its primary
            if case.issue_id not in closed:
                closed |= close(uow, context, case, "no_feedback")
    return len(due)


def run_feedback_sweeper(service_store, context, interval: float, stop: threading.Event) -> None:
    run_in_batches(partial(close_silent_once, service_store, context), BATCH, interval, stop)
