"""`make bench`: what Loudong sustains on this machine, next to the ceilings it sits under.

Run from the repository root: `.venv/bin/python -m bench.run`. Needs RabbitMQ on
127.0.0.1:5672 (guest/guest), PostgreSQL on 127.0.0.1:5432 (user postgres, trust auth)
and wrk (installed with apt-get when missing and running as root). Takes 6-7 minutes,
bench/embedded.py's stage included.

Measured, in this order (figures are printed, never asserted; each is one stdout line
`bench: <name>: <value> [<unit>] [(<ratio>)]`; a progress line, notes and the table's
preamble go to stderr). Every HTTP figure is wrk POSTing the same /v1/issues body over 8
keep-alive connections for 10 s after a 2 s warm-up, counting only 201s, against gunicorn
with the services' worker model (bench/system.py: sync, 2 workers):

1. bare Flask+marshmallow endpoint — ceiling 1 (bench/bare_app.py): parse and validate the
   submission, answer 201; no database, no broker.
2. durable endpoint — the durable ceiling (bench/durable_app.py): the same, then the issue
   row and its outbox row committed in one PostgreSQL transaction.
3. intake alone — intake the only service (PostgreSQL store, RabbitMQ bus, its relay
   publishing), against the durable ceiling.
4. intake with the whole system — the four services as separate processes (PostgreSQL
   stores `loudong_bench_<service>`, RabbitMQ bus, a local SMS provider).
5. submission to SMS latency p50/p99 at 20, 100 and 200 issues/s — each run once the backlog
   before it has drained: 600 issues paced at that rate, each matched to the first SMS the
   provider received naming its reference; latency = provider's received_at - the time the
   POST began (same clock, same host). Also what was accepted and carried per second.
6. raw pika async-confirm publish msgs/s — ceiling 2: 50,000 persistent ~1 KB messages to
   a durable queue, at most 1000 unconfirmed (bench/raw_publish.py).
7. outbox relay msgs/s — shared.relay.relay_pending (what the services' relay runs) with
   shared.publisher.ConfirmedPublisher draining 50,000 rows from a PostgreSQL outbox, 1000 a
   batch (bench/relay_bench.py).
8. escalation firing lag p50/p99 with 10,000, 100,000 and 1,000,000 open clocks — 300
   deadlines due over 6 s among them, fired by the real sweeper (bench/firing_lag.py).
9. embedded default — bench/embedded.py's measure(), when that module is there.

The services are stopped before (6), so the broker ceilings do not share the CPU with
them. Every child process is stopped, whatever happens; the service logs are checked for
tracebacks and errors at the end. RabbitMQ queues `loudong.<service>` are shared with any
other Loudong run against the same broker: they are purged at start and after intake alone.
At the end: the table, bench/results/latest.json and latest.png (and a copy of each named
by the run's time); the README's chart is bench/results/chart.png, a latest.png committed.
"""

from __future__ import annotations

import importlib
import importlib.util
import math
import os
import re
import shutil
import signal
import sys
import tempfile
import time
from pathlib import Path

from bench import (
    chart,
    firing_lag,
    infra,
    latency,
    load,
    procs,
    raw_publish,
    relay_bench,
    saturation,
    summary,
    system,
)
from bench.report import Figures, Progress, note, percent, warn
from bench.summary import (
    BARE,
    DURABLE,
    INTAKE_ALONE,
    INTAKE_WHOLE,
    LAG_CLOCKS,
    LATENCY_RATES,
    PIPELINE,
    RAW,
    RELAY,
    REPLICAS,
)
from services.intake.main import MIGRATIONS
from services.intake.schemas import write_payload
from shared.config import SERVICES
from shared.outbox import Store

RESULTS = procs.REPO_ROOT / "bench" / "results"
CONNECTIONS, WRK_THREADS = 8, 2
WARMUP_SECONDS, LOAD_SECONDS = 2, 10
LATENCY_ISSUES = 600  # per latency run: its p99 is the 6th slowest, not one stall
PUBLISH_MESSAGES, PUBLISH_WINDOW = 50_000, 1000
DURABLE_DB = "loudong_bench_durable"
_ERROR = re.compile(r"[ \[](ERROR|CRITICAL)[ \]]")  # our log format and gunicorn's
_WARNING = re.compile(r"[ \[]WARNING[ \]]")


# --- measurements --------------------------------------------------------------------------


def drive(wrk: str, script: Path, url: str) -> tuple[load.LoadResult, int]:
    """Warm up, then the measured run; (measured result, 201s during the warm-up)."""
    warmup = load.run_wrk(wrk, script, url, WARMUP_SECONDS, CONNECTIONS, WRK_THREADS)
    measured = load.run_wrk(wrk, script, url, LOAD_SECONDS, CONNECTIONS, WRK_THREADS)
    if measured.socket_errors:
        warn(f"wrk saw {measured.socket_errors} socket errors/timeouts on {url}")
    if measured.created < measured.requests:
        warn(
            f"{measured.requests - measured.created} of {measured.requests} answers on {url} "
            "were not 201"
        )
    return measured, warmup.created


def measure_ceiling(wrk: str, script: Path, tmp: Path, app: str, env: dict | None = None):
    child, url = system.start_ceiling(app.rsplit(".", 1)[-1], f"{app}:app", tmp, env)
    try:
        measured, _ = drive(wrk, script, f"{url}/v1/issues")
        return measured.created_per_second
    finally:
        procs.stop_all([child])


def measure_durable(wrk: str, script: Path, tmp: Path) -> float:
    """On a fresh database with intake's own tables (its migrations)."""
    url = infra.recreate_database(DURABLE_DB)
    store = Store("intake", url, MIGRATIONS, write_payload)
    store.migrate()
    store.dispose()
    try:
        env = {"BENCH_DURABLE_DATABASE_URL": url}
        return measure_ceiling(wrk, script, tmp, "bench.durable_app", env)
    finally:
        infra.drop_database(DURABLE_DB)


def measure_intake_alone(wrk: str, script: Path, tmp: Path) -> float:
    children: list[procs.Child] = []
    try:
        intake_url, _sms_url = system.start_services(tmp, children, ("intake",))
        measured, _ = drive(wrk, script, f"{intake_url}/v1/issues")
        return measured.created_per_second
    finally:
        procs.stop_all(children)
        left = system.fresh_stores_and_queues()  # its events would reach the next stage
        note(f"after intake alone, purged: {left or 'nothing'}")


def measure_saturation(wrk: str, script: Path, intake_url: str, sms_url: str):
    """wrk's load (warm-up and measured run), then the drain: (measured run, Saturation)."""
    runs = []
    carried = saturation.measure(
        lambda: runs.append(drive(wrk, script, f"{intake_url}/v1/issues")), sms_url
    )
    if not carried.drained:
        warn("the backlog had not drained in time: issues carried/s is a lower bound")
    return runs[0][0], carried


def _carried(carried: saturation.Saturation) -> str:
    return (
        f"{carried.carried:,} of {carried.accepted:,} issues accepted in "
        f"{carried.load_seconds:.0f} s at phones after {carried.carry_seconds:.0f} s"
    )


def measure_replicas(figures: Figures, wrk: str, script: Path, tmp: Path) -> None:
    """The same load and drain on fresh stores with 1, 2 and 3 replicas of every service,
    and with 2 replicas applying events one by one (LOUDONG_CONSUME_BATCH=1, as before
    batches)."""
    runs = figures.series.setdefault("replicas", [])
    for workers, extra, label in [
        *((n, {}, f"{n} replica{'s' if n > 1 else ''} each") for n in REPLICAS),
        (2, {"LOUDONG_CONSUME_BATCH": "1"}, "2 replicas each, events one by one"),
    ]:
        children: list[procs.Child] = []
        system.fresh_stores_and_queues()
        try:
            intake_url, sms_url = system.start_services(tmp, children, workers=workers, extra=extra)
            measured, carried = measure_saturation(wrk, script, intake_url, sms_url)
        finally:
            procs.stop_all(children)
        figures.add(f"{PIPELINE}, {label}", carried.carried_per_second, ratio=_carried(carried))
        runs.append(
            {
                "replicas": workers,
                "one_by_one": bool(extra),
                "accepted_per_s": round(measured.created_per_second, 1),
                "carried_per_s": round(carried.carried_per_second, 1),
            }
        )


def measure_latency(figures: Figures, intake_url: str, sms_url: str, accepted: int) -> None:
    note(f"{accepted} issues accepted under load; waiting for the backlog to drain (at most 120 s)")
    queues = [f"loudong.{s}" for s in SERVICES]
    runs = figures.series.setdefault("offered_load", [])
    for rate in LATENCY_RATES:
        drained, waited, messages = latency.wait_for_drain(sms_url, queues)
        note(
            f"backlog {'drained' if drained else 'NOT drained'} after {waited:.0f} s; "
            f"{messages} SMS at the provider"
        )
        if not drained:
            warn("the backlog had not drained after 120 s; the latency below includes queueing")
        result = latency.measure(intake_url, sms_url, LATENCY_ISSUES, rate)
        if result.rejected:
            warn(f"intake refused {result.rejected} of {LATENCY_ISSUES} paced submissions")
        if result.missing:
            warn(
                f"{result.missing} of {result.submitted} paced issues had no SMS "
                "within 60 s of the last submission"
            )
        shown = {p: result.percentile(p) if result.latencies_ms else None for p in (50, 99)}
        for p, value in shown.items():
            figures.add(f"submission to SMS latency p{p} at {rate}/s", value, "ms")
        runs.append(
            {
                "offered": rate,
                "accepted_per_s": round(result.accepted_per_second, 1),
                "delivered_per_s": round(result.carried_per_second, 1),
                "p50_ms": shown[50],
                "p99_ms": shown[99],
            }
        )


def measure_broker_ceiling_and_relay(figures: Figures) -> None:
    raw_rate, nacked = raw_publish.measure(PUBLISH_MESSAGES, PUBLISH_WINDOW)
    if nacked:
        warn(f"the broker nacked {nacked} raw messages")
    figures.add(RAW, raw_rate)
    rate, arrived = relay_bench.measure(PUBLISH_MESSAGES, PUBLISH_WINDOW)
    if arrived != PUBLISH_MESSAGES:
        warn(f"{arrived} of {PUBLISH_MESSAGES} relayed events reached the queue")
    figures.add(RELAY, rate, ratio=f"{percent(rate, raw_rate)} of raw pika publishing")


def measure_firing_lag(figures: Figures) -> None:
    runs = figures.series.setdefault("firing_lag", [])
    for open_clocks in LAG_CLOCKS:
        p50, p99, fired = firing_lag.measure(open_clocks)
        p50, p99 = (None if math.isnan(v) else v for v in (p50, p99))  # NaN: none fired
        if fired < 300:
            warn(f"only {fired} of 300 due deadlines fired among {open_clocks:,} open clocks")
        # issue 15's second target: the lag does not grow with the open clocks
        fewest = runs[0]["p99_ms"] if runs else None
        growth = f"{p99 / fewest:.1f}× the p99 with {LAG_CLOCKS[0]:,}" if p99 and fewest else None
        figures.add(f"escalation firing lag p50 with {open_clocks:,} open clocks", p50, "ms")
        figures.add(
            f"escalation firing lag p99 with {open_clocks:,} open clocks", p99, "ms", growth
        )
        runs.append({"open_clocks": open_clocks, "p50_ms": p50, "p99_ms": p99})


def measure_burst_and_restart(figures: Figures) -> None:
    """100,000 deadlines due at one instant, drained by one sweeper process and by two (as
    two replicas race), each with the service's LOUDONG_SWEEPERS threads; then a sweeper
    killed (SIGKILL) while deadlines fall due and started again."""
    for count, name in ((1, "one replica"), (2, "two replicas")):
        burst = firing_lag.burst(100_000, sweeper_count=count)
        if not burst.each_once:
            warn(f"burst: {burst.fired} fired, {burst.steps} steps, {burst.events} events")
        once = "each once" if burst.each_once else "NOT each once"
        figures.add(
            f"escalation burst of 100,000 due at once, {name}",
            burst.per_second,
            "escalations/s",
            once,
        )
    # A gunicorn master forks a new worker as soon as one dies, so a lone sweeper is down
    # for its own start-up; a second replica sweeps on meanwhile, however long that is.
    for count, down, name in (
        (1, 0.0, "escalation lag after a lone sweeper is killed and started again p99"),
        (2, 2.0, "escalation lag after one of two sweepers is killed p99"),
    ):
        catch_up = firing_lag.restart_catch_up(down_seconds=down, sweeper_count=count)
        if not catch_up.each_once:
            warn(f"{name}: not every deadline fired exactly once")
        behind = (  # with a second sweeper running, the restart is not what they wait for
            f"behind the restart p99 {catch_up.behind_restart_p99_ms:.0f} ms, "
            if count == 1
            else ""
        )
        figures.add(
            name,
            catch_up.p99_ms,
            "ms",
            f"down {catch_up.down_seconds:.1f} s; {behind}max {catch_up.max_ms:.0f} ms"
            + ("" if catch_up.each_once else "; NOT each once"),
        )


def embedded_measure():
    """bench/embedded.py's measure(), if someone has written it; else None."""
    if importlib.util.find_spec("bench.embedded") is None:
        return None
    return getattr(importlib.import_module("bench.embedded"), "measure", None)


def measure_embedded(figures: Figures, measure) -> None:
    for name, value, ratio in measure():
        figures.embedded.append((name, str(value), ratio))
        print(f"bench: {name}: {value}" + (f" ({ratio})" if ratio else ""), flush=True)


# --- logs ------------------------------------------------------------------------------------


def check_logs(log_dir: Path) -> bool:
    """Warn about tracebacks, errors and warnings in the children's logs; True if any."""
    found = False
    for path in sorted(log_dir.glob("*.log")):
        lines = path.read_text(errors="replace").splitlines()
        tracebacks = sum("Traceback" in line for line in lines)
        errors = [line for line in lines if _ERROR.search(line)]
        warnings = [line for line in lines if _WARNING.search(line)]
        if tracebacks or errors or warnings:
            found = True
            first = (errors or warnings or [_first_exception(lines)])[0]
            warn(
                f"{path.stem} log: {tracebacks} tracebacks, {len(errors)} errors, "
                f"{len(warnings)} warnings; "
                f"first: {first[:300]}"
            )
    return found


def _first_exception(lines: list[str]) -> str:
    """The `SomeError: message` line that ends the first traceback."""
    start = next(i for i, line in enumerate(lines) if "Traceback" in line)
    return next(
        (line for line in lines[start + 1 :] if line and not line[0].isspace()), lines[start]
    )


# --- main ------------------------------------------------------------------------------------


def run(tmp: Path, children: list[procs.Child], figures: Figures) -> None:
    wrk = load.ensure_wrk()
    figures.cpus = os.cpu_count()
    note(f"{figures.cpus} CPUs; services, broker, database and load generator all share them")
    embedded = embedded_measure()
    progress = Progress(10 + (embedded is not None), figures)
    note(f"fresh databases loudong_bench_*; purged: {system.fresh_stores_and_queues() or 'none'}")
    script = load.write_script(tmp)

    with progress.stage("ceiling 1: bare Flask+marshmallow endpoint"):
        bare = measure_ceiling(wrk, script, tmp, "bench.bare_app")
        figures.add(BARE, bare)
    with progress.stage("durable ceiling: the same committing two rows to PostgreSQL"):
        durable = measure_durable(wrk, script, tmp)
        figures.add(
            DURABLE, durable, ratio=f"{percent(durable, bare)} of bare Flask+marshmallow endpoint"
        )
    with progress.stage("intake alone on PostgreSQL and RabbitMQ"):
        alone = measure_intake_alone(wrk, script, tmp)
        figures.add(INTAKE_ALONE, alone, ratio=f"{percent(alone, durable)} of the durable ceiling")
    with progress.stage("the whole system under load, until what it accepted reached phones"):
        intake_url, sms_url = system.start_services(tmp, children)
        measured, carried = measure_saturation(wrk, script, intake_url, sms_url)
        whole = measured.created_per_second
        figures.add(
            INTAKE_WHOLE, whole, ratio=f"{percent(whole, bare)} of bare Flask+marshmallow endpoint"
        )
        figures.add(PIPELINE, carried.carried_per_second, ratio=_carried(carried))
    with progress.stage("submission to SMS latency at 20, 100 and 200 issues/s"):
        measure_latency(figures, intake_url, sms_url, carried.accepted)
    note("stopping the services before the replica runs")
    procs.stop_all(children)
    with progress.stage(f"the whole pipeline with {', '.join(map(str, REPLICAS))} replicas each"):
        measure_replicas(figures, wrk, script, tmp)
    with progress.stage("ceiling 2: raw pika publishing, then the outbox relay"):
        measure_broker_ceiling_and_relay(figures)
    with progress.stage(f"escalation firing lag with {', '.join(map(str, LAG_CLOCKS))} clocks"):
        measure_firing_lag(figures)
    with progress.stage("escalation: a burst of 100,000 deadlines, a sweeper restarted"):
        measure_burst_and_restart(figures)
    if embedded is not None:
        with progress.stage("embedded default"):
            measure_embedded(figures, embedded)


def write_results(figures: Figures) -> None:
    print(summary.render(figures), flush=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    for name in ("latest", stamp):
        figures.write_json(RESULTS / f"{name}.json")
    chart.render(figures, RESULTS / "latest.png")
    shutil.copyfile(RESULTS / "latest.png", RESULTS / f"{stamp}.png")
    note(f"figures in {RESULTS}/latest.json, chart in {RESULTS}/latest.png (and {stamp}.*)")


def _stop_on_sigterm(signum, _frame) -> None:
    raise SystemExit(128 + signum)  # unwinds through the finally below, which stops the children


def main() -> int:
    signal.signal(signal.SIGTERM, _stop_on_sigterm)
    signal.signal(signal.SIGINT, signal.default_int_handler)  # even when started in the background
    started = time.monotonic()
    tmp = Path(tempfile.mkdtemp(prefix="loudong-bench-"))
    children: list[procs.Child] = []
    figures = Figures()
    failed = True
    try:
        run(tmp, children, figures)
        failed = False
    finally:
        procs.stop_all(children)
        logs_to_keep = check_logs(tmp) or failed
        if logs_to_keep:
            note(f"logs kept in {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
        if figures.figures:
            write_results(figures)
        note(f"done in {time.monotonic() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
