"""The embedded default as `make run` starts it: how soon it is ready, how much memory the
four services take, and how much disk its data folder needs after 100,000 issues.

Run alone: `.venv/bin/python -m bench.embedded [--issues N] [--budget SECONDS]`; bench/run.py
calls measure(). Figures are printed, never asserted:

1. ready: `loudong run` on a fresh data folder (the venv present) until all four /readyz
   answer 200, and the CPU seconds its processes spent until then (the wall time depends on
   what else runs on the machine; the CPU time much less).
2. memory: the resident set (RSS) of the four services summed, once idle after the start,
   and of the whole run (with `loudong run` itself); PSS beside it, which counts pages the
   processes share once. The local SMS provider is the bench's own, outside the run.
3. disk: issues submitted through intake's API by wrk as fast as it goes, each at its own
   building (one gateway, limits raised as in bench/run.py), until every consumer has read
   every outbox; then the data folder's size. Retention runs in the services, but its grace
   is a day, so that figure is a day's worth; the outbox rows and the space in use after
   the same retention a day later (shared.retention with its clock a day ahead, services
   stopped) follow. If `--budget` runs out first, the disk figure for 100,000 is
   extrapolated from the issues done (per issue, above the empty stores) and says so.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import sqlite3
import sys
import tempfile
import time
import urllib.request
from datetime import timedelta
from pathlib import Path

from bench import load, procs
from shared.config import SERVICES

try:
    import psutil
except ImportError:  # not a dependency: /proc says the same on Linux
    psutil = None

ISSUES = 100_000
# Seconds of submissions at most (~40 issues/s here); beyond, extrapolated. 60 keeps `make bench`
# within a few minutes; LOUDONG_BENCH_EMBEDDED_SECONDS=3000 carries 100,000 for real.
BUDGET = float(os.environ.get("LOUDONG_BENCH_EMBEDDED_SECONDS", "60"))
ROUND_SECONDS, CONNECTIONS, WRK_THREADS = 20, 8, 2
Row = tuple[str, str, str | None]


def measure(issues: int = ISSUES, budget: float = BUDGET) -> list[Row]:
    """(name, value, ratio or None) rows; the temporary folder is removed unless it failed."""
    tmp = Path(tempfile.mkdtemp(prefix="loudong-bench-embedded-"))
    try:
        rows = _measure(tmp, issues, budget)
    except BaseException:
        print(f"bench: embedded: logs kept in {tmp}", file=sys.stderr)
        raise
    shutil.rmtree(tmp, ignore_errors=True)
    return rows


def _measure(tmp: Path, issues: int, budget: float) -> list[Row]:
    data_dir, ports = tmp / "data", {name: procs.free_port() for name in SERVICES}
    sink, sms_url = _start_sink(tmp)
    run = None
    try:
        started = time.monotonic()
        env = _env(data_dir, ports, sms_url)
        run = procs.start("run", ["-m", "services.cli", "run"], env, tmp)
        ready = _wait_ready(run, ports) - started
        cpu = sum(_cpu_seconds(pid) for pid in _tree(run.popen.pid))
        time.sleep(3)  # idle: its first polls done, nothing submitted
        services_rss, run_rss, services_pss = _memory(run.popen.pid)
        rows: list[Row] = [
            ("embedded: ready after `loudong run` (fresh data)", f"{ready:.1f} s", "target 5 s"),
            ("embedded: CPU spent until ready (all its processes)", f"{cpu:.1f} s", None),
            ("embedded: RSS of the four services, idle", f"{services_rss:.0f} MB", "target 250"),
            ("embedded: RSS of the whole run, idle", f"{run_rss:.0f} MB", None),
            ("embedded: PSS of the four services, idle", f"{services_pss:.0f} MB", None),
        ]
        empty = _disk(data_dir)
        done, seconds = _submit(ports["intake"], issues, budget)
        _wait_read(data_dir)
        rows += _disk_rows(data_dir, empty, done, issues, seconds)
        rows.append(("embedded: RSS of the four services after the load", *_after(run)))
    finally:
        procs.stop_all([c for c in (run, sink) if c is not None])
    return rows + _retention_rows(data_dir, done, issues)


def _env(data_dir: Path, ports: dict, sms_url: str) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LOUDONG_", "PROMETHEUS_"))}
    env.update(
        LOUDONG_DATA_DIR=str(data_dir),
        LOUDONG_SMS_URL=sms_url,
        LOUDONG_DEMO_API_KEY=load.API_KEY,
        LOUDONG_RATE_LIMIT="1000000/second",  # one gateway at full speed
        LOUDONG_UNIT_RECIPIENT_LIMIT="1000000/hour",  # ...and one unit takes every issue
        **{f"LOUDONG_{name.upper()}_PORT": str(port) for name, port in ports.items()},
    )
    return env


def _start_sink(tmp: Path) -> tuple[procs.Child, str]:
    """The SMS provider and its URL, its journal outside the measured data folder."""
    port = procs.free_port()
    env = {**os.environ, "LOUDONG_DATA_DIR": str(tmp / "sink")}
    args = ["-m", "services.cli", "sms-sink", "--port", str(port)]
    sink, url = procs.start("sms-sink", args, env, tmp), f"http://127.0.0.1:{port}"
    procs.wait_http_ok(sink, f"{url}/messages")
    return sink, url


def _wait_ready(run: procs.Child, ports: dict, timeout: float = 120) -> float:
    """The moment the last of the four answered /readyz with 200 (polled every 20 ms)."""
    waiting, deadline = dict(ports), time.monotonic() + timeout
    while waiting:
        if run.popen.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(
                f"`loudong run` not ready; see {run.log_path}:\n" + procs.tail(run.log_path)
            )
        for name, port in list(waiting.items()):
            if _answers(f"http://127.0.0.1:{port}/readyz"):
                del waiting[name]
        time.sleep(0.02)
    return time.monotonic()


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1) as response:
            return response.status == 200
    except Exception:  # refused while starting, 503 while not ready
        return False


# --- processes: psutil when installed, else /proc ------------------------------------------


def _tree(pid: int) -> list[int]:
    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        return []
    return [pid] + [p for child in children for p in _tree(int(child))]


def _memory(root: int) -> tuple[float, float, float]:
    """(RSS of the services, RSS of the whole run, PSS of the services), in MB."""
    pids = _tree(root)
    services = [p for p in pids if p != root]
    rss = {p: _rss_kb(p) for p in pids}
    pss = sum(_pss_kb(p) for p in services)
    return sum(rss[p] for p in services) / 1024, sum(rss.values()) / 1024, pss / 1024


def _rss_kb(pid: int) -> int:
    if psutil is not None:
        return psutil.Process(pid).memory_info().rss // 1024
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def _pss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
        if line.startswith("Pss:"):
            return int(line.split()[1])
    return 0


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = int(fields[11]) + int(fields[12])  # utime, stime
    return ticks / os.sysconf("SC_CLK_TCK")


def _after(run: procs.Child) -> tuple[str, None]:
    return f"{_memory(run.popen.pid)[0]:.0f} MB", None


# --- load and disk ---------------------------------------------------------------------------


def _submit(intake_port: int, issues: int, budget: float) -> tuple[int, float]:
    """wrk rounds until `issues` were accepted or the budget is spent; (accepted, seconds)."""
    wrk, script = load.ensure_wrk(), load.write_script(Path(tempfile.mkdtemp()))
    url, done, started = f"http://127.0.0.1:{intake_port}/v1/issues", 0, time.monotonic()
    while done < issues and time.monotonic() - started < budget:
        result = load.run_wrk(wrk, script, url, ROUND_SECONDS, CONNECTIONS, WRK_THREADS)
        done += result.created
        elapsed = time.monotonic() - started
        print(f"bench: embedded: {done} issues in {elapsed:.0f} s", file=sys.stderr, flush=True)
    return done, time.monotonic() - started


def _wait_read(data_dir: Path, cap: float = 1800, quiet_for: float = 5) -> None:
    """Until every consumer's cursor is at the end of every other service's outbox and no
    outbox has grown for `quiet_for` seconds (the last SMS answered, the last events read)."""
    deadline, last, quiet_since = time.monotonic() + cap, None, time.monotonic()
    while time.monotonic() < deadline:
        newest = {s: _newest(data_dir, s) for s in SERVICES}
        read = all(
            _cursor(data_dir, c, s) >= newest[s] for s in SERVICES for c in SERVICES if c != s
        )
        if newest != last or not read:
            last, quiet_since = newest, time.monotonic()
        elif time.monotonic() - quiet_since >= quiet_for:
            return
        time.sleep(1)
    print("bench: warning: the consumers had not read everything", file=sys.stderr)


def _query(data_dir: Path, service: str, sql: str, *args) -> int:
    with sqlite3.connect(f"file:{data_dir / service}.db?mode=ro", uri=True, timeout=30) as conn:
        row = conn.execute(sql, args).fetchone()  # none: no cursor yet, nothing to read
        return (row[0] if row else None) or 0


def _newest(data_dir: Path, service: str) -> int:
    return _query(data_dir, service, "SELECT max(seq) FROM outbox")


def _cursor(data_dir: Path, consumer: str, source: str) -> int:
    return _query(data_dir, consumer, "SELECT position FROM bus_cursor WHERE source = ?", source)


def _disk(data_dir: Path) -> int:
    return sum(f.stat().st_blocks * 512 for f in data_dir.rglob("*") if f.is_file())


def _disk_rows(data_dir: Path, empty: int, done: int, issues: int, seconds: float) -> list[Row]:
    used = _disk(data_dir)
    rows: list[Row] = [
        (
            "embedded: issues accepted through the API",
            f"{done} in {seconds:.0f} s",
            f"{done / seconds:.0f}/s",
        ),
        (f"embedded: data folder after {done} issues", f"{used / 2**20:.0f} MB", None),
    ]
    if done < issues and done:
        per_issue = (used - empty) / done
        estimate = empty + per_issue * issues
        rows.append(
            (
                f"embedded: data folder after {issues} issues, extrapolated from {done}",
                f"{estimate / 2**20:.0f} MB",
                f"{per_issue / 1024:.1f} KB per issue",
            )
        )
    return rows


def _retention_rows(data_dir: Path, done: int, issues: int) -> list[Row]:
    """The outboxes a day later: shared.retention as the services run it, its clock ahead."""
    from shared.envelope import utcnow
    from shared.outbox import Store
    from shared.retention import KEEP, OutboxRetention

    def outboxes() -> int:
        return sum(_query(data_dir, s, "SELECT count(*) FROM outbox") for s in SERVICES)

    before, later = outboxes(), utcnow() + KEEP + timedelta(seconds=1)
    in_use_before = sum(_in_use(data_dir / f"{s}.db") for s in SERVICES)
    for service in SERVICES:
        store = Store(service, f"sqlite:///{data_dir / service}.db", Path(), write=None)
        consumers = {c: f"sqlite:///{data_dir / c}.db" for c in SERVICES if c != service}
        for now in (utcnow(), later):  # a pass now marks what was read; a day later, removes
            OutboxRetention(store, consumers, clock=lambda at=now: at).run_once()
        store.dispose()
    in_use = sum(_in_use(data_dir / f"{s}.db") for s in SERVICES)
    rows: list[Row] = [
        (f"embedded: outbox rows after {done} issues", f"{before}", None),
        ("embedded: outbox rows a day later (retention)", f"{outboxes()}", None),
        ("embedded: stores' pages in use after the load", f"{in_use_before / 2**20:.0f} MB", None),
        (
            "embedded: stores' pages in use a day later",
            f"{in_use / 2**20:.0f} MB",
            f"files {_disk(data_dir) / 2**20:.0f} MB; SQLite reuses the freed pages",
        ),
    ]
    if done < issues and done:
        rows.append(
            (
                f"embedded: pages in use a day after {issues} issues, extrapolated from {done}",
                f"{in_use / done * issues / 2**20:.0f} MB",
                "issues, cases, deliveries, inboxes: what retention keeps",
            )
        )
    return rows


def _in_use(path: Path) -> int:
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        pages, free, size = (
            conn.execute(f"PRAGMA {p}").fetchone()[0]
            for p in ("page_count", "freelist_count", "page_size")
        )
    return (pages - free) * size


def main() -> int:
    options = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    options.add_argument("--issues", type=int, default=ISSUES)
    options.add_argument("--budget", type=float, default=BUDGET, help="seconds of submissions")
    args = options.parse_args()
    signal.signal(signal.SIGTERM, lambda signum, _: sys.exit(128 + signum))
    for name, value, ratio in measure(args.issues, args.budget):
        print(f"bench: {name}: {value}" + (f" ({ratio})" if ratio else ""), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
