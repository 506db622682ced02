"""Timed work (sweepers, senders) in batches: a full batch means more is due, so the next
one starts at once; a short one means the work is done for now, so the loop waits."""

from __future__ import annotations

import threading
from collections.abc import Callable


def run_in_batches(
    step: Callable[[], int],
    batch_size: int,
    interval: float,
    stop: threading.Event,
    wake: threading.Event | None = None,
) -> None:
    """Call `step` (which handles up to `batch_size` items and says how many) until `stop`;
    between short batches wait `interval`, or less if `wake` is set meanwhile."""
    while not stop.is_set():
        if wake is not None:
            wake.clear()
        if step() < batch_size:
            (wake or stop).wait(interval)
