"""Escalation services for bench/firing_lag.py on its own PostgreSQL database, and sweepers
in processes of their own, as replicas run them: started, stopped, or killed with SIGKILL."""

from __future__ import annotations

import multiprocessing
import threading
from pathlib import Path

from bench import infra
from services.escalation import main as escalation_main
from shared import config

LAG_DB = "loudong_bench_escalation_lag"
# Every clock a year long, so a clock moved up is not due again while the bench runs.
POLICIES = "tiers:\n" + "".join(
    f"  {t}: {{claim_within: P365D, resolve_within: P365D, time: calendar}}\n"
    for t in ("private", "small", "big", "hard")
)
_SPAWN = multiprocessing.get_context("spawn")  # a fresh interpreter, as a new replica starts
# A replica's worker that dies is forked again by its gunicorn master, which has the service's
# modules imported already: a restart costs the bootstrap, not an interpreter's start-up.
_FORK = multiprocessing.get_context("fork")


def service(folder: Path, migrate: bool = False):
    """The escalation service on LAG_DB, bootstrapped, never started."""
    policies = folder / "policies.yaml"
    policies.write_text(POLICIES)
    settings = config.load(
        "escalation",
        {
            "LOUDONG_DATA_DIR": str(folder),
            "LOUDONG_POLICIES": str(policies),
            "LOUDONG_BROKER_URL": infra.BROKER_URL,
            "LOUDONG_ESCALATION_DATABASE_URL": infra.database_url(LAG_DB),
        },
    )
    bootstrapped = escalation_main.bootstrap(settings)
    if migrate:
        bootstrapped.store.migrate()
    return bootstrapped


def start(folder: Path, forked: bool = False):
    """A sweeper in a process of its own, returned once it is ready to sweep; `forked` from
    this process (its modules imported) as gunicorn restarts a worker, else spawned."""
    context = _FORK if forked else _SPAWN
    ready, stopping = context.Event(), context.Event()
    process = context.Process(target=_sweep, args=(str(folder), ready, stopping), daemon=True)
    process.start()
    process.stopping = stopping
    if not ready.wait(120):
        process.kill()
        raise RuntimeError("the sweeper process did not start within 120 s")
    return process


def stop(process) -> None:
    process.stopping.set()
    process.join(30)
    if process.is_alive():
        process.kill()
        process.join()


def _sweep(folder: str, ready, stopping) -> None:
    """The service's sweeper loops (LOUDONG_SWEEPERS threads), as a replica runs them."""
    swept = service(Path(folder))
    loops = [loop for name, loop in swept.loops.items() if name.startswith("sweeper")]
    threads = [threading.Thread(target=loop, args=(stopping,)) for loop in loops]
    for thread in threads:
        thread.start()
    ready.set()
    try:
        for thread in threads:
            thread.join()
    finally:
        swept.store.dispose()
