"""What the bench runs: the services as `loudong <service>` processes on PostgreSQL and
RabbitMQ (all four, or intake alone), and the ceiling apps under gunicorn with the services'
worker model."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from bench import infra, load, procs
from shared.config import SERVICES

SERVICE_PORTS = {"intake": 18081, "dispatch": 18082, "escalation": 18083, "notify": 18084}
WEB_WORKERS = 2  # LOUDONG_WEB_WORKERS for the services, --workers for the ceiling apps
WORKER_CLASS = "sync"  # as shared.runtime.serve runs the services


def base_env() -> dict:
    """This environment without any Loudong or Prometheus setting that would leak in."""
    return {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("LOUDONG_") and k != "PROMETHEUS_MULTIPROC_DIR"
    }


def fresh_stores_and_queues() -> dict[str, int]:
    """Empty databases loudong_bench_<service>, purged service queues; what was purged."""
    for service in SERVICES:
        infra.recreate_database(f"loudong_bench_{service}")
    with infra.broker() as conn:
        purged = {q: infra.purge_if_exists(conn, q) for q in (f"loudong.{s}" for s in SERVICES)}
    return {q: n for q, n in purged.items() if n}


def start_services(
    tmp: Path,
    children: list[procs.Child],
    services: tuple[str, ...] = SERVICES,
    workers: int = WEB_WORKERS,
    extra: dict | None = None,
) -> tuple[str, str]:
    """The SMS provider and `services`, each with `workers` replicas; (intake URL, SMS
    provider URL) once all are ready."""
    env = base_env()
    data_dir = Path(tempfile.mkdtemp(prefix="data-", dir=tmp))
    sms_port = procs.free_port()
    sms_url = f"http://127.0.0.1:{sms_port}"
    env.update(
        LOUDONG_BROKER_URL=infra.BROKER_URL,
        LOUDONG_SMS_URL=sms_url,
        LOUDONG_WEB_WORKERS=str(workers),
        LOUDONG_DATA_DIR=str(data_dir),
        LOUDONG_DEMO_API_KEY=load.API_KEY,
        LOUDONG_LINK_SECRET="bench-link-secret",  # units' SMS carry their links, as deployed
        LOUDONG_RATE_LIMIT="1000000/second",  # the bench is one gateway at full speed
        LOUDONG_UNIT_RECIPIENT_LIMIT="1000000/hour",  # ...and one unit takes every issue
    )
    env.update(extra or {})
    sink = procs.start(
        "sms-sink", ["-m", "services.cli", "sms-sink", "--port", str(sms_port)], env, tmp
    )
    started = [sink]
    children.append(sink)
    ports = {}
    for service in SERVICES:
        ports[service] = procs.free_port(SERVICE_PORTS[service])
        env[f"LOUDONG_{service.upper()}_PORT"] = str(ports[service])
        env[f"LOUDONG_{service.upper()}_DATABASE_URL"] = infra.database_url(
            f"loudong_bench_{service}"
        )
    for service in services:
        started.append(procs.start(service, ["-m", "services.cli", service], env, tmp))
        children.append(started[-1])
    procs.wait_http_ok(sink, f"{sms_url}/messages")
    for child in started[1:]:
        procs.wait_http_ok(child, f"http://127.0.0.1:{ports[child.name]}/readyz", timeout=60)
    return f"http://127.0.0.1:{ports['intake']}", sms_url


def start_ceiling(
    name: str, app: str, tmp: Path, env: dict | None = None
) -> tuple[procs.Child, str]:
    """`app` (module:attribute) under gunicorn as the services run; (child, its base URL)."""
    port = procs.free_port()
    child = procs.start(
        name,
        [
            "-m",
            "gunicorn",
            "--workers",
            str(WEB_WORKERS),
            "--worker-class",
            WORKER_CLASS,
            "--bind",
            f"127.0.0.1:{port}",
            "--graceful-timeout",
            "10",
            "--no-control-socket",
            app,
        ],
        {**base_env(), **(env or {})},
        tmp,
    )
    try:
        procs.wait_http_ok(child, f"http://127.0.0.1:{port}/healthz")
    except BaseException:
        procs.stop_all([child])
        raise
    return child, f"http://127.0.0.1:{port}"
