"""`make bench`: what Loudong sustains on this machine, next to the ceilings it sits under.

Run from the repository root: `.venv/bin/python -m bench.run`. Needs RabbitMQ on
127.0.0.1:5672 (guest/guest), PostgreSQL on 127.0.0.1:5432 (user postgres, trust auth)
and wrk (installed with apt-get when missing and running as root). Takes 1-2 minutes
(at most about 4 when the backlog drains slowly).

Measured, in this order (figures are printed, never asserted; each is one stdout line
`bench: <name>: <value> [<unit>] [(<ratio>)]`, progress and notes go to stderr):

1. bare Flask+marshmallow endpoint requests/s — ceiling 1: bench/bare_app.py (parse and
   validate the submission body, answer 201; no database, no broker) under gunicorn with
   the services' settings (sync, 2 workers), loaded by wrk exactly like intake below.
2. intake accepted submissions/s — the four services as separate processes (PostgreSQL
   stores `loudong_bench_<service>`, RabbitMQ bus, a local SMS provider), wrk POSTing
   /v1/issues over 8 keep-alive connections for 10 s after a 2 s warm-up; only 201s count.
3. submission to SMS latency p50/p99 at 20, 100 and 200 issues/s — each run once the backlog
   before it has drained: 200 issues paced at that rate, each matched to the first SMS the
   provider received naming its reference;
   latency = provider's received_at - the time the POST began (same clock, same host).
4. raw pika async-confirm publish msgs/s — ceiling 2: 50,000 persistent ~1 KB messages to
   a durable queue, at most 1000 unconfirmed (bench/raw_publish.py).
5. outbox relay msgs/s — shared.relay.relay_once with shared.publisher.ConfirmedPublisher
   draining 50,000 rows from a PostgreSQL outbox, 1000 a batch (bench/relay_bench.py).
6. escalation firing lag p50/p99 with 100,000 open clocks — 300 deadlines due over 6 s among
   100,000 armed clocks due next year, fired by the real sweeper (bench/firing_lag.py).

The services are stopped before (4) and (5), so the broker ceilings do not share the CPU
with them. Every child process is stopped, whatever happens; the service logs are checked
for tracebacks and errors at the end. RabbitMQ queues `loudong.<service>` are shared with
any other Loudong run against the same broker: they are purged at start.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import sys
import tempfile
import time
from pathlib import Path

from bench import firing_lag, infra, latency, load, procs, raw_publish, relay_bench
from shared.config import SERVICES

SERVICE_PORTS = {"intake": 18081, "dispatch": 18082, "escalation": 18083, "notify": 18084}
CONNECTIONS, WRK_THREADS = 8, 2
WARMUP_SECONDS, LOAD_SECONDS = 2, 10
LATENCY_ISSUES, LATENCY_RATES = 200, (20, 100, 200)  # issues per run, per second
PUBLISH_MESSAGES, PUBLISH_WINDOW = 50_000, 1000
_ERROR = re.compile(r"[ \[](ERROR|CRITICAL)[ \]]")  # our log format and gunicorn's
_WARNING = re.compile(r"[ \[]WARNING[ \]]")


def report(name: str, value: str, ratio: str | None = None) -> None:
    print(f"bench: {name}: {value}" + (f" ({ratio})" if ratio else ""), flush=True)


def note(text: str) -> None:
    print(f"bench: {text}", file=sys.stderr, flush=True)


def warn(text: str) -> None:
    print(f"bench: warning: {text}", flush=True)


def percent(part: float, whole: float) -> str:
    if not whole:
        return "n/a"
    share = 100 * part / whole
    return f"{share:.1f}%" if share < 10 else f"{share:.0f}%"


def base_env() -> dict:
    """This environment without any Loudong or Prometheus setting that would leak in."""
    return {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("LOUDONG_") and k != "PROMETHEUS_MULTIPROC_DIR"
    }


# --- setup -------------------------------------------------------------------------------


def fresh_stores_and_queues() -> None:
    for service in SERVICES:
        infra.recreate_database(f"loudong_bench_{service}")
    with infra.broker() as conn:
        purged = {q: infra.purge_if_exists(conn, q) for q in (f"loudong.{s}" for s in SERVICES)}
    leftovers = {q: n for q, n in purged.items() if n}
    note(f"fresh databases loudong_bench_*; purged queues: {leftovers or 'nothing to purge'}")


def start_system(tmp: Path, children: list[procs.Child]) -> tuple[str, str]:
    """The SMS provider and the four services; (intake URL, SMS provider URL) once all are ready."""
    env = base_env()
    data_dir = tmp / "data"
    data_dir.mkdir()
    sms_port = procs.free_port()
    sms_url = f"http://127.0.0.1:{sms_port}"
    env.update(
        LOUDONG_BROKER_URL=infra.BROKER_URL,
        LOUDONG_SMS_URL=sms_url,
        LOUDONG_WEB_WORKERS="2",
        LOUDONG_DATA_DIR=str(data_dir),
        LOUDONG_DEMO_API_KEY=load.API_KEY,
        LOUDONG_LINK_SECRET="bench-link-secret",  # units' SMS carry their links, as deployed
        LOUDONG_RATE_LIMIT="1000000/second",  # the bench is one gateway at full speed
        LOUDONG_UNIT_RECIPIENT_LIMIT="1000000/hour",
    )  # ...and one unit takes every issue
    sink = procs.start(
        "sms-sink", ["-m", "services.cli", "sms-sink", "--port", str(sms_port)], env, tmp
    )
    children.append(sink)
    ports = {}
    for service in SERVICES:
        ports[service] = procs.free_port(SERVICE_PORTS[service])
        env[f"LOUDONG_{service.upper()}_PORT"] = str(ports[service])
        env[f"LOUDONG_{service.upper()}_DATABASE_URL"] = infra.database_url(
            f"loudong_bench_{service}"
        )
    for service in SERVICES:
        children.append(procs.start(service, ["-m", "services.cli", service], env, tmp))
    procs.wait_http_ok(sink, f"{sms_url}/messages")
    for child in children[1:]:
        procs.wait_http_ok(child, f"http://127.0.0.1:{ports[child.name]}/readyz", timeout=60)
    note(f"services ready on ports {ports}, SMS provider on {sms_port}")
    return f"http://127.0.0.1:{ports['intake']}", sms_url


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


def measure_bare(wrk: str, script: Path, tmp: Path) -> float:
    port = procs.free_port()
    child = procs.start(
        "bare-app",
        [
            "-m",
            "gunicorn",
            "--workers",
            "2",
            "--worker-class",
            "sync",
            "--bind",
            f"127.0.0.1:{port}",
            "--graceful-timeout",
            "10",
            "--no-control-socket",
            "bench.bare_app:app",
        ],
        base_env(),
        tmp,
    )
    try:
        procs.wait_http_ok(child, f"http://127.0.0.1:{port}/healthz")
        measured, _ = drive(wrk, script, f"http://127.0.0.1:{port}/v1/issues")
        return measured.created_per_second
    finally:
        procs.stop_all([child])


def measure_intake(wrk: str, script: Path, intake_url: str) -> tuple[float, int]:
    """(201s per second, issues accepted in all, warm-up included)."""
    measured, warmup_created = drive(wrk, script, f"{intake_url}/v1/issues")
    return measured.created_per_second, measured.created + warmup_created


def measure_latency(intake_url: str, sms_url: str, accepted: int) -> None:
    note(f"{accepted} issues accepted under load; waiting for the backlog to drain (at most 120 s)")
    queues = [f"loudong.{s}" for s in SERVICES]
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
        for p in (50, 99):
            shown = f"{result.percentile(p):.0f} ms" if result.latencies_ms else "n/a"
            report(f"submission to SMS latency p{p} at {rate}/s", shown)


def measure_raw_publish() -> float:
    rate, nacked = raw_publish.measure(PUBLISH_MESSAGES, PUBLISH_WINDOW)
    if nacked:
        warn(f"the broker nacked {nacked} raw messages")
    report("raw pika async-confirm publish msgs/s", f"{rate:.0f}")
    return rate


def measure_relay(raw_rate: float) -> None:
    rate, arrived = relay_bench.measure(PUBLISH_MESSAGES, PUBLISH_WINDOW)
    if arrived != PUBLISH_MESSAGES:
        warn(f"{arrived} of {PUBLISH_MESSAGES} relayed events reached the queue")
    report(
        "outbox relay msgs/s", f"{rate:.0f}", f"{percent(rate, raw_rate)} of raw pika publishing"
    )


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


def run(tmp: Path, children: list[procs.Child]) -> None:
    wrk = load.ensure_wrk()
    note(f"{os.cpu_count()} CPUs; services, broker, database and load generator all share them")
    fresh_stores_and_queues()
    script = load.write_script(tmp)

    note("ceiling 1: bare Flask+marshmallow endpoint under gunicorn")
    bare_rate = measure_bare(wrk, script, tmp)
    report("bare Flask+marshmallow endpoint requests/s", f"{bare_rate:.0f}")

    intake_url, sms_url = start_system(tmp, children)
    note("intake under load")
    intake_rate, accepted = measure_intake(wrk, script, intake_url)
    report(
        "intake accepted submissions/s",
        f"{intake_rate:.0f}",
        f"{percent(intake_rate, bare_rate)} of bare Flask+marshmallow endpoint",
    )
    measure_latency(intake_url, sms_url, accepted)

    note("stopping the services before the broker ceilings")
    procs.stop_all(children)
    note("ceiling 2: raw pika publishing")
    raw_rate = measure_raw_publish()
    note("outbox relay")
    measure_relay(raw_rate)
    note("escalation firing lag with 100,000 open clocks")
    p50, p99, fired = firing_lag.measure()
    if fired < 300:
        warn(f"only {fired} of 300 due deadlines fired")
    report("escalation firing lag p50 with 100,000 open clocks", f"{p50:.0f} ms")
    report("escalation firing lag p99 with 100,000 open clocks", f"{p99:.0f} ms")


def _stop_on_sigterm(signum, _frame) -> None:
    raise SystemExit(128 + signum)  # unwinds through the finally below, which stops the children


def main() -> int:
    signal.signal(signal.SIGTERM, _stop_on_sigterm)
    signal.signal(signal.SIGINT, signal.default_int_handler)  # even when started in the background
    started = time.monotonic()
    tmp = Path(tempfile.mkdtemp(prefix="loudong-bench-"))
    children: list[procs.Child] = []
    failed = True
    try:
        run(tmp, children)
        failed = False
    finally:
        procs.stop_all(children)
        logs_to_keep = check_logs(tmp) or failed
        if logs_to_keep:
            note(f"logs kept in {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
        note(f"done in {time.monotonic() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
