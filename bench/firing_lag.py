"""Escalation's deadline sweeper on PostgreSQL among many open clocks (armed claim clocks due
next year, COPYed in), three ways:

- measure(): a few hundred deadlines due over a few seconds, fired by the service's own
  sweepers (its LOUDONG_SWEEPERS threads and interval) in a process of their own; the lag of
  each is its escalation's fired_at minus the deadline it missed. A sweeper whose cost
  followed the open clocks, not the due ones, would show it here.
- burst(): that many deadlines due at one instant, drained by one sweeper process or two racing
  as replicas would; escalations/s from the deadline to the last one fired, and whether each
  step fired once, counted from the escalations table and from the outbox.
- restart_catch_up(): a sweeper process killed (SIGKILL) while deadlines fall due, started again
  after a while; the lag of those that fell due from the kill on.

Each returns numbers and asserts nothing; `python -m bench.firing_lag` prints them."""

from __future__ import annotations

import contextlib
import os
import signal
import statistics
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg

from bench import infra, sweepers

LAG_DB = sweepers.LAG_DB
FAR = timedelta(days=365)
ROW = "\t".join(
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
COPY_CHUNK = 10_000


def _copy_clocks(prefix: str, dues: list[datetime]) -> None:
    now = datetime.now(UTC).replace(tzinfo=None).isoformat()
    texts = {}  # most clocks share their deadline: format each one once
    with psycopg.connect(infra.database_url(LAG_DB)) as conn, conn.cursor() as cur:
        with cur.copy(
            "COPY clocks (issue_id, clock, assignment, level, unit_id, tier, street, state, "
            "due_at, policy_version, updated_at, category, paused_seconds) FROM STDIN"
        ) as copy:
            for start in range(0, len(dues), COPY_CHUNK):
                lines = []
                for i, due in enumerate(dues[start : start + COPY_CHUNK], start):
                    if due not in texts:
                        texts[due] = due.replace(tzinfo=None).isoformat()
                    lines.append(ROW.format(issue=f"{prefix}{i}", due=texts[due], now=now))
                copy.write("\n".join(lines) + "\n")
        cur.execute("ANALYZE clocks")


@contextlib.contextmanager
def _database(open_clocks: int) -> Iterator[tuple[Path, float]]:
    """A fresh database holding `open_clocks` armed clocks due next year: the service's folder
    and how long the setup took (seconds)."""
    started = time.monotonic()
    infra.recreate_database(LAG_DB)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            service = sweepers.service(Path(tmp), migrate=True)
            service.store.dispose()
            _copy_clocks("open-", [datetime.now(UTC) + FAR] * open_clocks)
            yield Path(tmp), time.monotonic() - started
    finally:
        infra.drop_database(LAG_DB)


def measure(
    open_clocks: int = 100_000, due_clocks: int = 300, over_seconds: float = 6.0
) -> tuple[float, float, int]:
    """(p50 ms, p99 ms, escalations fired) for `due_clocks` deadlines among `open_clocks` others."""
    with _database(open_clocks) as (folder, _):
        # In a process of its own, as a replica runs it: a sweeper thread in this process
        # would share its interpreter (and its collector's pauses) with what ran before.
        process = sweepers.start(folder)
        try:
            start = datetime.now(UTC) + timedelta(seconds=1)
            _copy_clocks("due-", _spread(start, due_clocks, over_seconds))
            _wait_for_fired(due_clocks, over_seconds + 30)
        finally:
            sweepers.stop(process)
        lags = sorted(_ms(at - missed) for at, missed in _escalations())
    if not lags:
        return float("nan"), float("nan"), 0
    return statistics.median(lags), _p99(lags), len(lags)


@dataclass(frozen=True)
class Burst:
    due: int  # deadlines due at the one instant
    sweepers: int  # sweeper processes racing on the database
    fired: int  # escalation rows
    steps: int  # distinct (issue, clock, assignment, level) among them
    events: int  # outbox rows of type issue.escalated
    event_steps: int  # distinct steps those events name
    per_second: float  # escalations fired per second, from the deadline to the last one
    last_ms: float  # the last one's lag
    setup_seconds: float  # the database with its open clocks, and the due ones copied in
    copied_late: bool  # the due clocks committed after their deadline: the rate reads low

    @property
    def each_once(self) -> bool:
        return self.fired == self.steps == self.events == self.event_steps == self.due


def burst(count: int = 100_000, open_clocks: int = 10_000, sweeper_count: int = 1) -> Burst:
    """`count` deadlines due at the same instant among `open_clocks` others, drained by
    `sweeper_count` sweeper processes started before they are copied in."""
    with _database(open_clocks) as (folder, setup):
        processes = [sweepers.start(folder) for _ in range(sweeper_count)]
        try:
            copying = time.monotonic()
            due_at = datetime.now(UTC) + timedelta(seconds=2 + count / 50_000)
            _copy_clocks("burst-", [due_at] * count)  # invisible to the sweepers until committed
            copied_late = datetime.now(UTC) > due_at
            setup += time.monotonic() - copying
            _wait_for_fired(count, 60 + count / 200)
        finally:
            for process in processes:
                sweepers.stop(process)
        last = max((fired for fired, _ in _escalations()), default=due_at)
        fired, steps = _escalation_steps()
        events, event_steps = _event_steps()
    seconds = (last - due_at).total_seconds()
    rate = fired / seconds if seconds > 0 else float("nan")
    return Burst(
        count,
        sweeper_count,
        fired,
        steps,
        events,
        event_steps,
        rate,
        seconds * 1000,
        setup,
        copied_late,
    )


@dataclass(frozen=True)
class CatchUp:
    due: int  # deadlines that fell due from the kill on
    fired: int  # of those, fired
    p50_ms: float  # their lag behind their deadlines
    p99_ms: float
    max_ms: float
    down_seconds: float  # from the kill until the new sweeper process was ready
    behind_restart_p99_ms: float  # their lag behind max(deadline, new sweeper ready)
    setup_seconds: float
    each_once: bool  # every deadline fired, none twice


def restart_catch_up(
    open_clocks: int = 10_000,
    due_clocks: int = 300,
    over_seconds: float = 6.0,
    down_seconds: float = 2.0,
    sweeper_count: int = 1,
) -> CatchUp:
    """`due_clocks` deadlines over `over_seconds`, swept by `sweeper_count` sweeper
    processes; the first is killed a third of the way in and forked again `down_seconds`
    later (its bootstrap adds to that). With two, the other goes on sweeping meanwhile,
    as a second replica does."""
    with _database(open_clocks) as (folder, setup):
        processes = [sweepers.start(folder) for _ in range(sweeper_count)]
        start = datetime.now(UTC) + timedelta(seconds=1)
        dues = _spread(start, due_clocks, over_seconds)
        _copy_clocks("due-", dues)
        time.sleep(max(0.0, (start - datetime.now(UTC)).total_seconds() + over_seconds / 3))
        os.kill(processes[0].pid, signal.SIGKILL)
        killed = datetime.now(UTC)
        processes[0].join()
        time.sleep(down_seconds)
        processes[0] = sweepers.start(folder, forked=True)  # as gunicorn's master restarts it
        ready = datetime.now(UTC)
        try:
            _wait_for_fired(due_clocks, over_seconds + 30)
        finally:
            for process in processes:
                sweepers.stop(process)
        fired = _escalations(since=killed)
        fired_count, steps = _escalation_steps()
    behind = sorted(_ms(at - missed) for at, missed in fired)
    behind_restart = sorted(_ms(at - max(missed, ready)) for at, missed in fired)
    nan = float("nan")
    return CatchUp(
        sum(due >= killed for due in dues),
        len(behind),
        statistics.median(behind) if behind else nan,
        _p99(behind) if behind else nan,
        behind[-1] if behind else nan,
        (ready - killed).total_seconds(),
        _p99(behind_restart) if behind else nan,
        setup,
        fired_count == steps == due_clocks,
    )


def _spread(start: datetime, count: int, over_seconds: float) -> list[datetime]:
    return [start + timedelta(seconds=over_seconds * i / count) for i in range(count)]


def _p99(ordered: list[float]) -> float:
    return ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))]


def _ms(delta: timedelta) -> float:
    return delta.total_seconds() * 1000


def _wait_for_fired(count: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and _query("SELECT count(*) FROM escalations")[0] < count:
        time.sleep(0.2)


def _escalations(since: datetime | None = None) -> list[tuple[datetime, datetime]]:
    """(fired_at, missed_deadline) of each escalation whose deadline is `since` or later."""
    since = since or datetime(1970, 1, 1, tzinfo=UTC)
    with psycopg.connect(infra.database_url(LAG_DB)) as conn:
        rows = conn.execute(
            "SELECT fired_at, missed_deadline FROM escalations WHERE missed_deadline >= %s",
            (since.replace(tzinfo=None),),  # the columns hold UTC without a zone
        ).fetchall()
    return [(at.replace(tzinfo=UTC), missed.replace(tzinfo=UTC)) for at, missed in rows]


def _escalation_steps() -> tuple[int, int]:
    return _query(
        "SELECT count(*), count(DISTINCT (issue_id, clock, assignment, level)) FROM escalations"
    )


def _event_steps() -> tuple[int, int]:
    step = ", ".join(f"b->'payload'->>'{k}'" for k in ("issue_id", "clock", "assignment", "level"))
    return _query(
        f"SELECT count(*), count(DISTINCT ({step})) FROM "
        "(SELECT body::jsonb AS b FROM outbox WHERE type = 'issue.escalated') AS events"
    )


def _query(sql: str) -> tuple:
    with psycopg.connect(infra.database_url(LAG_DB)) as conn:
        return conn.execute(sql).fetchone()


def main() -> None:
    for open_clocks in (10_000, 1_000_000):
        started = time.monotonic()
        p50, p99, fired = measure(open_clocks)
        took = time.monotonic() - started
        _say(
            open_clocks,
            f"lag p50 {p50:.0f} ms  p99 {p99:.0f} ms ({fired} of 300 fired, {took:.0f} s in all)",
        )
        for count in (1, 2):
            b = burst(open_clocks=open_clocks, sweeper_count=count)
            _say(
                open_clocks,
                f"burst of {b.due:,}, {count} sweeper(s): {b.per_second:,.0f} escalations/s, "
                f"the last {b.last_ms:,.0f} ms after the deadline",
            )
            late = "; copied in after their deadline: the rate reads low" if b.copied_late else ""
            print(
                f"    {b.fired:,} rows, {b.steps:,} steps, {b.events:,} events naming "
                f"{b.event_steps:,} steps: each once {'yes' if b.each_once else 'NO'} "
                f"(setup {b.setup_seconds:.0f} s{late})",
                flush=True,
            )
        c = restart_catch_up(open_clocks)
        _say(
            open_clocks,
            f"restart: down {c.down_seconds:.1f} s, {c.fired} of {c.due} due from the kill on "
            f"fired, lag p50 {c.p50_ms:,.0f} ms  p99 {c.p99_ms:,.0f} ms  max {c.max_ms:,.0f} ms",
        )
        print(
            f"    behind max(deadline, restart) p99 {c.behind_restart_p99_ms:,.0f} ms "
            f"(setup {c.setup_seconds:.0f} s)",
            flush=True,
        )


def _say(open_clocks: int, text: str) -> None:
    print(f"{open_clocks:>9,} open clocks  {text}", flush=True)


if __name__ == "__main__":
    main()
