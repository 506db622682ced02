"""Heap pages freed after a burst go back to the system.

CPython returns freed objects to glibc's malloc, which keeps the pages for reuse: after a
backlog has been applied a service's resident set stays at its peak for ever. malloc_trim(0)
hands the free pages at the heap's top and in its bins back (Linux with glibc; elsewhere
there is nothing to call and the loop does nothing)."""

from __future__ import annotations

import ctypes
import ctypes.util
import threading

TRIM_EVERY = 10.0  # seconds; a trim with nothing to free costs microseconds


def _malloc_trim():
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        return libc.malloc_trim
    except (OSError, AttributeError):  # not glibc: no such call
        return None


def run_trimmer(stop: threading.Event, every: float = TRIM_EVERY) -> None:
    trim = _malloc_trim()
    if trim is None:
        return
    while not stop.wait(every):
        trim(0)
