"""End-to-end policy: each service runs as its own process through the `loudong` command,
exactly as deployed; the tests talk to them over HTTP only, and crash them with SIGKILL.
Every flow runs twice: on the embedded default (SQLite, no broker) and on the real
RabbitMQ and PostgreSQL."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from shared.config import REPO_ROOT
from tests.helpers import ADMIN_TOKEN, DEMO_KEY, LINK_SECRET, SERVICES, wait_for


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Deployment:
    """The four services as separate processes (each its own process group)."""

    def __init__(self, workdir: Path, env: dict):
        self.workdir = workdir
        self.ports = {name: _free_port() for name in SERVICES}
        self.env = {
            **os.environ,
            **env,
            "LOUDONG_DATA_DIR": str(workdir / "data"),
            "LOUDONG_POLL_INTERVAL": "0.05",
            **{f"LOUDONG_{n.upper()}_PORT": str(p) for n, p in self.ports.items()},
        }
        self.env.pop("PROMETHEUS_MULTIPROC_DIR", None)
        self.processes: dict[str, subprocess.Popen] = {}

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.ports[name]}"

    def start(self, *names: str) -> None:
        for name in names or SERVICES:
            log = open(self.workdir / f"{name}.log", "ab")  # noqa: SIM115 - the child process keeps it
            self.processes[name] = subprocess.Popen(
                [sys.executable, "-m", "services.cli", name],
                env=self.env,
                cwd=REPO_ROOT,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        for name in names or SERVICES:
            wait_for(lambda n=name: self._ready(n), timeout=60, interval=0.2, what=f"{name} ready")

    def _ready(self, name: str) -> bool:
        if self.processes[name].poll() is not None:
            raise AssertionError(f"{name} exited:\n{self.log(name)[-3000:]}")
        try:
            return requests.get(self.url(name) + "/readyz", timeout=1).status_code == 200
        except requests.RequestException:
            return False

    def kill(self, name: str) -> None:
        """SIGKILL to the whole service: gunicorn master and workers die mid-whatever."""
        os.killpg(self.processes[name].pid, signal.SIGKILL)
        self.processes[name].wait()

    def stop(self) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for process in self.processes.values():
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)

    def unit_tokens(self, *unit_ids: str) -> dict[str, dict]:
        """Each unit's Authorization header, made by `loudong units token` as an operator would."""
        out = subprocess.run(
            [sys.executable, "-m", "services.cli", "units", "token", *unit_ids],
            env=self.env,
            cwd=REPO_ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.split()
        return {u: {"Authorization": f"Bearer {t}"} for u, t in zip(unit_ids, out, strict=False)}

    def log(self, name: str) -> str:
        return (self.workdir / f"{name}.log").read_text(errors="replace")


@pytest.fixture(params=["embedded", "rabbitmq_postgres"])
def backend_env(request):
    """Environment variables selecting the bus and the stores."""
    if request.param == "embedded":
        return {}
    broker = request.getfixturevalue("rabbitmq_url")
    databases = request.getfixturevalue("postgres_urls")
    return {
        "LOUDONG_BROKER_URL": broker,
        **{f"LOUDONG_{name.upper()}_DATABASE_URL": url for name, url in databases.items()},
    }


@pytest.fixture
def deploy(tmp_path, backend_env, sms_provider):
    """A function that starts the four services with extra settings; all are stopped afterwards."""
    started = []

    def start(**extra) -> Deployment:
        env = {
            "LOUDONG_SMS_URL": sms_provider.url,
            "LOUDONG_WEB_WORKERS": "2",
            "LOUDONG_SMS_TIMEOUT": "2",
            "LOUDONG_DEMO_API_KEY": DEMO_KEY,
            "LOUDONG_LINK_SECRET": LINK_SECRET,
            "LOUDONG_ADMIN_TOKEN": ADMIN_TOKEN,
            **backend_env,
            **{k: str(v) for k, v in extra.items()},
        }
        deployment = Deployment(tmp_path, env)
        started.append(deployment)
        deployment.start()
        return deployment

    yield start
    for deployment in started:
        deployment.stop()
        for name in SERVICES:
            assert "Traceback" not in deployment.log(name), (
                f"{name} logged a traceback:\n{deployment.log(name)}"
            )
