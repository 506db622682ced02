"""The four services as replicas, each its own process group started through `loudong`,
with the harm a chaos run does to them: SIGKILL a replica, restart the broker, cut the
databases' connections. Everything here acts on real processes and servers; nothing of our
own code is replaced."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
import requests

from shared.config import REPO_ROOT
from tests.helpers import SERVICES, wait_for

PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Replica:
    service: str
    number: int
    port: int
    process: subprocess.Popen | None = None

    @property
    def name(self) -> str:
        return f"{self.service}-{self.number}"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@dataclass
class Cluster:
    """`replicas` of each service on one set of stores and one bus (the environment's)."""

    workdir: Path
    env: dict
    replicas: int = 1
    members: list[Replica] = field(default_factory=list)
    kills: int = 0

    def __post_init__(self):
        self.env = {
            **os.environ,
            **self.env,
            "LOUDONG_DATA_DIR": str(self.workdir / "data"),
            "LOUDONG_POLL_INTERVAL": "0.05",
        }
        self.env.pop("PROMETHEUS_MULTIPROC_DIR", None)
        self.members = [
            Replica(service, n, free_port())
            for service in SERVICES
            for n in range(1, self.replicas + 1)
        ]

    def of(self, service: str) -> list[Replica]:
        return [r for r in self.members if r.service == service]

    def url(self, service: str) -> str:
        return self.of(service)[0].url

    def start_all(self) -> None:
        for replica in self.members:  # in SERVICES order: each finds its sources migrated
            self.start(replica)

    def start(self, replica: Replica) -> None:
        log = open(self.workdir / f"{replica.name}.log", "ab")  # noqa: SIM115 - the child keeps it
        env = {**self.env, f"LOUDONG_{replica.service.upper()}_PORT": str(replica.port)}
        replica.process = subprocess.Popen(
            [sys.executable, "-m", "services.cli", replica.service],
            env=env,
            cwd=REPO_ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        wait_for(lambda: self._ready(replica), timeout=90, interval=0.2, what=f"{replica.name}")

    def _ready(self, replica: Replica) -> bool:
        if replica.process.poll() is not None:
            raise AssertionError(f"{replica.name} exited:\n{self.log(replica)[-3000:]}")
        try:
            return requests.get(replica.url + "/readyz", timeout=1).status_code == 200
        except requests.RequestException:
            return False

    def kill(self, replica: Replica) -> None:
        """SIGKILL to the replica's whole process group: master and workers die mid-whatever."""
        os.killpg(replica.process.pid, signal.SIGKILL)
        replica.process.wait()
        self.kills += 1

    def restart(self, replica: Replica) -> None:
        self.kill(replica)
        self.start(replica)

    def stop(self) -> None:
        for replica in self.members:
            if replica.process and replica.process.poll() is None:
                os.killpg(replica.process.pid, signal.SIGTERM)
        for replica in self.members:
            if replica.process is None:
                continue
            with contextlib.suppress(subprocess.TimeoutExpired):
                replica.process.wait(timeout=20)
            # Whatever of the group outlived its master goes too: after stop(), nothing writes.
            with contextlib.suppress(ProcessLookupError):
                os.killpg(replica.process.pid, signal.SIGKILL)

    def log(self, replica: Replica) -> str:
        return (self.workdir / f"{replica.name}.log").read_text(errors="replace")

    def logs(self) -> dict[str, str]:
        return {r.name: self.log(r) for r in self.members}


def restart_broker(down_for: float = 1.0) -> None:
    """The RabbitMQ application stopped and started again in its node: every connection
    drops, durable queues and their persistent messages survive, as after a broker restart.
    Started again whatever happens, so that nothing after the test finds the broker down."""
    try:
        subprocess.run(["rabbitmqctl", "-q", "stop_app"], check=True, capture_output=True)
        time.sleep(down_for)
    finally:
        subprocess.run(["rabbitmqctl", "-q", "start_app"], check=True, capture_output=True)
        subprocess.run(
            ["rabbitmqctl", "-q", "await_startup"], check=False, capture_output=True, timeout=60
        )


def cut_database_connections(database_urls: dict[str, str]) -> int:
    """Every server backend of the services' databases terminated, as a failover or an
    administrator would: the number cut."""
    names = [url.rsplit("/", 1)[1] for url in database_urls.values()]
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = ANY(%s) AND pid <> pg_backend_pid()",
            (names,),
        ).fetchall()
    return len(rows)
