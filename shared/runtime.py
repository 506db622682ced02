"""Running a service: migrate its store, start its bus, relay and loops, serve HTTP.

In production each service is its own process (`loudong intake`, …) served by gunicorn;
every gunicorn worker is a replica with its own consumer and relay, and more replicas
are more processes. `loudong run` (one worker each) serves each service from one process
instead: a gunicorn master would only double the memory of the four. Nothing here connects
at import time, and the RabbitMQ clients are imported only when a broker is configured (the
embedded default never loads them).
"""

from __future__ import annotations

import logging
import os
import signal
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from flask import Flask
from werkzeug.serving import WSGIRequestHandler, make_server

from shared import config, http, metrics
from shared.config import Settings
from shared.db import connection_dropped
from shared.envelope import utcnow
from shared.logbus import LogBus
from shared.outbox import Store
from shared.relay import run_relay
from shared.retention import OutboxRetention
from shared.subscriber import Subscriber

if TYPE_CHECKING:
    from shared import rabbit

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
        from shared import rabbit  # kombu: loaded only for a broker

        return rabbit.RabbitConsumer(
            subscriber,
            settings.broker_url,
            settings.prefetch,
            settings.retry_delays,
            settings.queue_type,
            settings.consume_batch,
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
        batch=settings.consume_batch,
    )


def consumers_of(settings: Settings) -> dict[str, str]:
    """On the embedded bus every other service reads this one's outbox (make_bus gives each
    the other three as sources): their stores, where their cursors on it are kept."""
    return {
        name: config.database_url(name, settings.env)
        for name in config.SERVICES
        if name != settings.service
    }


def start(service: Service) -> None:
    """Start the bus consumer, the relay (RabbitMQ only) or the outbox's retention (embedded),
    and the service's own loops."""
    bus = service.bus
    targets: dict[str, Loop] = {}
    if isinstance(bus, LogBus):
        targets["bus"] = bus.run
        targets["retention"] = OutboxRetention(service.store, consumers_of(service.settings)).run
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
    from shared import rabbit
    from shared.publisher import ConfirmedPublisher  # pika: loaded only for a broker

    while not stop.is_set():  # the queues must exist before the first event is routed
        try:
            rabbit.declare_topology(service.settings.broker_url, service.settings.queue_type)
            break
        except Exception as exc:
            log.warning("%s: cannot declare topology yet: %r", service.name, exc)
            stop.wait(2)
    publisher = ConfirmedPublisher(service.settings.broker_url)
    try:
        run_relay(service.store, publisher.publish_batch, stop, service.settings.idle_poll)
    finally:
        publisher.close()


def _guarded(service: str, name: str, target: Loop, stop: threading.Event) -> Callable[[], None]:
    """A background loop that dies is restarted: losing the consumer silently is worse."""

    def run():
        while not stop.is_set():
            try:
                target(stop)
                return
            except Exception as exc:
                if connection_dropped(exc):  # the server ended it: expected, said in one line
                    log.warning(
                        "%s: %s loop lost its database connection (%s); restarting in 1s",
                        service,
                        name,
                        type(exc.orig if hasattr(exc, "orig") else exc).__name__,
                    )
                else:
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


def serve_alone(settings: Settings, bootstrap: Callable[[Settings], Service]) -> None:
    """Serve one service from this process alone, as `loudong run` does: migrate, start its
    parts, answer HTTP from a threaded server until SIGTERM or Ctrl-C. One gunicorn worker
    would cost a second process (its master) with the same imports, for each service."""
    service = bootstrap(settings)
    _migrate_in_child(service)
    for hook in service.on_start:
        hook()
    server = make_server(
        settings.host, settings.port, service.app, threaded=True, request_handler=_QuietHandler
    )
    # serve_forever() runs here; shutdown() waits for it, so it is asked from another thread
    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=server.shutdown).start())
    start(service)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
        stop(service)


def _migrate_in_child(service: Service) -> None:
    """Alembic's scripts, environment and what a migration allocates stay out of this
    long-lived process: a forked child migrates (no thread runs yet) and exits."""
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            service.store.migrate()
            code = 0
        except BaseException:
            log.exception("%s: migration failed", service.name)
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{service.name}: migration failed (see above)")


class _QuietHandler(WSGIRequestHandler):
    """Werkzeug's request handler without its access log (gunicorn's is off too), and with a
    timeout, so a client that connects and sends nothing holds its thread for a while only."""

    timeout = 30

    def log_request(self, *_args) -> None:
        pass
