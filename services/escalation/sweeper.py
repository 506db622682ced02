"""The sweeper: claims due clocks and fires them, each in one transaction with its event."""

from __future__ import annotations

import logging
import threading

from services.escalation.handlers import fire_due

log = logging.getLogger(__name__)
BATCH = 100


def sweep_once(service_store, context) -> int:
    with service_store.unit_of_work() as uow:
        return fire_due(uow, context, context.clock(), BATCH)


def run_sweeper(service_store, context, interval: float, stop: threading.Event) -> None:
    while not stop.is_set():
        if sweep_once(service_store, context) < BATCH:
            stop.wait(interval)
