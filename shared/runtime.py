"""Running a service: migrate its store, start its bus, relay and loops, serve HTTP.

In production each service is its own process (`loudong intake`, …) served by gunicorn;
every gunicorn worker is a replica with its own consumer and relay, and more replicas
are more processes. Nothing here connects at import time.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from flask import Flask

from shared import config, http, metrics, rabbit
from shared.config import Settings
from shared.envelope import utcnow
from shared.logbus import LogBus
from shared.outbox import Store
from shared.publisher import ConfirmedPublisher
from shared.relay import run_relay
from shared.subscriber import Subscriber

log = logging.getLogger(__name__)
Loop = Callable[[threading.Event], None]


@dataclass
class Service:
    """What a service's bootstrap() hands back: its parts, wired, not yet running."""

    settings: Settings
    store: Store
    subscriber: Subscriber
    bus: LogBus | rabbit.RabbitConsumer
    app: Flask
    loops: dict[str, Loop] = field(default_factory=dict)
    context: object = None  # the service's own Context, as its handlers see it
    on_start: list[Callable[[], None]] = field(
        default_factory=list
    )  # after migration, once per process
    stop: threading.Event = field(default_factory=threading.Event)
    threads: list[threading.Thread] = field(default_factory=list)

    @property
    def name(self) -> str:
        return self.settings.service


def assemble(
    settings: Settings,
    service_store: Store,
    handlers: dict,
    readers: dict,
    context,
    create_app: Callable[..., Flask],
    loops: dict[str, Loop] | None = None,
    collectors: tuple = (),
    warnings: dict[str, Callable[[], str | None]] | None = None,
) -> Service:
    """The composition every service shares: store, subscriber, bus, HTTP app."""
    subscriber = Subscriber(service_store, handlers, readers, context)
    bus = make_bus(settings, subscriber)
    app = create_app(service_store, context)
    plumbing = metrics.PlumbingCollector(
        service_store, settings.service, bool(settings.broker_url), utcnow
    )
    http.install(
        app,
        settings.service,
        {"store": lambda: service_store.ping() is None, "bus": bus.is_ready},
        (plumbing, *collectors),
        warnings,
    )
    return Service(settings, service_store, subscriber, bus, app, loops or {}, context)


def make_bus(settings: Settings, subscriber: Subscriber):
    """RabbitMQ when LOUDONG_BROKER_URL is set, else the embedded outbox-log bus."""
    if settings.broker_url:
        return rabbit.RabbitConsumer(
            subscriber,
            settings.broker_url,
            settings.prefetch,
            settings.retry_delays,
            settings.queue_type,
        )
    if not subscriber.store.url.startswith("sqlite"):
        raise config.ConfigError(
            "the embedded bus reads the other services' SQLite outboxes; with a PostgreSQL store "
            "set LOUDONG_BROKER_URL too"
        )
    sources = {
        name: config.database_url(name, settings.env)
        for name in config.SERVICES
        if name != settings.service
    }
    return LogBus(
        subscriber,
        sources,
        settings.data_dir / f"{settings.service}.bus.lock",
        settings.poll_interval,
        settings.retry_delays,
    )


def start(service: Service) -> None:
    """Start the bus consumer, the relay (RabbitMQ only) and the service's own loops."""
    bus = service.bus
    targets: dict[str, Loop] = {}
    if isinstance(bus, LogBus):
        targets["bus"] = bus.run
    else:
        targets["bus"] = bus.run_until
        targets["relay"] = lambda stop: _relay(service, stop)
    targets.update(service.loops)
    for name, target in targets.items():
        thread = threading.Thread(
            target=_guarded(service.name, name, target, service.stop),
            name=f"{service.name}-{name}",
            daemon=True,
        )
        thread.start()
        service.threads.append(thread)


def stop(service: Service, timeout: float = 5) -> None:
    service.stop.set()
    for thread in service.threads:
        thread.join(timeout)
    service.store.dispose()


def _relay(service: Service, stop: threading.Event) -> None:
    while not stop.is_set():  # the queues must exist before the first event is routed
        try:
            rabbit.declare_topology(service.settings.broker_url, service.settings.queue_type)
            break
        except Exception as exc:
            log.warning("%s: cannot declare topology yet: %r", service.name, exc)
            stop.wait(2)
    publisher = ConfirmedPublisher(service.settings.broker_url)
    try:
        run_relay(service.store, publisher.publish_batch, stop, service.settings.poll_interval)
    finally:
        publisher.close()


def _guarded(service: str, name: str, target: Loop, stop: threading.Event) -> Callable[[], None]:
    """A background loop that dies is restarted: losing the consumer silently is worse."""

    def run():
        while not stop.is_set():
            try:
                target(stop)
                return
            except Exception:
                log.exception("%s: %s loop crashed; restarting in 1s", service, name)
                stop.wait(1)

    return run


def serve(settings: Settings, bootstrap: Callable[[Settings], Service]) -> None:
    """Serve one service with gunicorn; each worker process bootstraps and starts its own
    parts after the fork (connections must not be shared across processes)."""
    from gunicorn.app.base import BaseApplication
    from prometheus_client import multiprocess

    first = bootstrap(settings)  # migrate once, in the master, before any worker starts
    first.store.migrate()
    for hook in first.on_start:
        hook()
    first.store.dispose()
    running: list[Service] = []  # per worker process: its own copy after the fork

    class App(BaseApplication):
        def load_config(self):
            for key, value in {
                "bind": f"{settings.host}:{settings.port}",
                "workers": settings.web_workers,
                "worker_class": "sync",
                "accesslog": None,
                "graceful_timeout": 10,
                "worker_exit": lambda _arbiter, _worker: [stop(s) for s in running],
                "child_exit": lambda _arbiter, worker: multiprocess.mark_process_dead(worker.pid),
                "control_socket_disable": True,  # four services on one host would share one socket
            }.items():
                if key in self.cfg.settings:
                    self.cfg.set(key, value)

        def load(self):
            service = bootstrap(settings)
            running.append(service)
            start(service)
            return service.app

    App().run()
