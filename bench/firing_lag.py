"""Escalation's firing lag with 100,000 open clocks: PostgreSQL holds 100,000 armed claim
clocks due next year and a few hundred due over the next few seconds; the real sweeper
(services.escalation.loops.run_sweeper, the service's own interval) fires them, and the lag
of each is its escalation's fired_at minus the deadline it missed. A sweeper whose cost
followed the open clocks, not the due ones, would show it here."""

from __future__ import annotations

import statistics
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
from sqlalchemy import select

from bench import infra
from services.escalation import main as escalation_main
from services.escalation import store as escalation_store
from services.escalation.loops import run_sweeper
from services.escalation.settings import EscalationSettings
from shared import config

LAG_DB = "loudong_bench_escalation_lag"
POLICIES = "tiers:\n" + "".join(
    f"  {t}: {{claim_within: P365D, resolve_within: P365D, time: calendar}}\n"
    for t in ("private", "small", "big", "hard")
)
ROW = (
    "\t".join(
        [
            "{issue}",
            "claim",
            "1",
            "0",
            "baian-xincun-property",
            "small",
            "baianba",
            "armed",
            "{due}",
            "bench",
            "{now}",
            "property_management",
            "\\N",
        ]
    )
    + "\n"
)


def _service(tmp: Path):
    policies = tmp / "policies.yaml"
    policies.write_text(POLICIES)
    settings = config.load(
        "escalation",
        {
            "LOUDONG_DATA_DIR": str(tmp),
            "LOUDONG_POLICIES": str(policies),
            "LOUDONG_BROKER_URL": infra.BROKER_URL,
            "LOUDONG_ESCALATION_DATABASE_URL": infra.database_url(LAG_DB),
        },
    )
    service = escalation_main.bootstrap(settings)
    service.store.migrate()
    return service


def _copy_clocks(prefix: str, dues: list[datetime]) -> None:
    now = datetime.now(UTC).replace(tzinfo=None).isoformat()
    with psycopg.connect(infra.database_url(LAG_DB)) as conn, conn.cursor() as cur:
        with cur.copy(
            "COPY clocks (issue_id, clock, assignment, level, unit_id, tier, street, state, "
            "due_at, policy_version, updated_at, category, paused_seconds) FROM STDIN"
        ) as copy:
            for i, due in enumerate(dues):
                copy.write(
                    ROW.format(
                        issue=f"{prefix}{i}", due=due.replace(tzinfo=None).isoformat(), now=now
                    )
                )
        cur.execute("ANALYZE clocks")


def measure(
    open_clocks: int = 100_000, due_clocks: int = 300, over_seconds: float = 6.0
) -> tuple[float, float, int]:
    """(p50 ms, p99 ms, escalations fired) for `due_clocks` deadlines among `open_clocks` others."""
    infra.recreate_database(LAG_DB)
    with tempfile.TemporaryDirectory() as tmp:
        service = _service(Path(tmp))
        far = datetime.now(UTC) + timedelta(days=365)
        _copy_clocks("open-", [far] * open_clocks)
        start = datetime.now(UTC) + timedelta(seconds=1)
        _copy_clocks(
            "due-",
            [start + timedelta(seconds=over_seconds * i / due_clocks) for i in range(due_clocks)],
        )
        stop = threading.Event()
        interval = EscalationSettings.from_env(config.load("escalation").env).sweep_interval
        sweeper = threading.Thread(
            target=run_sweeper, args=(service.store, service.context, interval, stop)
        )
        sweeper.start()
        deadline = time.monotonic() + over_seconds + 30
        while time.monotonic() < deadline and _fired(service) < due_clocks:
            time.sleep(0.5)
        stop.set()
        sweeper.join()
        with service.store.read() as conn:
            rows = conn.execute(
                select(
                    escalation_store.escalations.c.fired_at,
                    escalation_store.escalations.c.missed_deadline,
                )
            ).all()
        service.store.dispose()
    infra.drop_database(LAG_DB)
    lags = sorted((fired - missed).total_seconds() * 1000 for fired, missed in rows)
    if not lags:
        return float("nan"), float("nan"), 0
    p99 = lags[min(len(lags) - 1, int(0.99 * len(lags)))]
    return statistics.median(lags), p99, len(lags)


def _fired(service) -> int:
    with service.store.read() as conn:
        return escalation_store.escalations_count_all(conn)
