"""Test policy for every layer.

- Real parts: the SQLite stores, the local SMS provider (devtools.sms_sink) and, where marked,
  the real RabbitMQ on 127.0.0.1:5672 and PostgreSQL on 127.0.0.1:5432.
- A test that needs RabbitMQ or PostgreSQL skips when it does not answer on a laptop, and
  fails under CI=true: in CI the services are there, so a skip would hide a break.
- Each RabbitMQ test gets its own vhost and each PostgreSQL test its own databases, so
  tests never see each other's messages or rows, nor a developer's `make run`.
"""

from __future__ import annotations

import os
import socket
import subprocess
import uuid

import psycopg
import pytest

from tests import helpers

IN_CI = os.environ.get("CI") == "true"
RABBIT = ("127.0.0.1", 5672)
POSTGRES = ("127.0.0.1", 5432)


def _answers(address) -> bool:
    try:
        with socket.create_connection(address, timeout=1):
            return True
    except OSError:
        return False


def _require(address, what: str) -> None:
    if _answers(address):
        return
    message = f"{what} does not answer on {address[0]}:{address[1]}"
    if IN_CI:
        pytest.fail(message + " (CI=true: this must not be skipped)")
    pytest.skip(message)


@pytest.fixture
def rabbitmq_url():
    """A fresh vhost on the real broker, deleted afterwards."""
    _require(RABBIT, "RabbitMQ")
    vhost = f"loudong-test-{uuid.uuid4().hex[:8]}"
    subprocess.run(["rabbitmqctl", "-q", "add_vhost", vhost], check=True, capture_output=True)
    subprocess.run(
        ["rabbitmqctl", "-q", "set_permissions", "-p", vhost, "guest", ".*", ".*", ".*"],
        check=True,
        capture_output=True,
    )
    yield f"amqp://guest:guest@127.0.0.1:5672/{vhost}"
    # Deleted while the next test runs: each rabbitmqctl starts an Erlang VM (~0.4 s), and
    # no other test can see this vhost. pytest_sessionfinish waits for the last ones.
    _deleting[:] = [p for p in _deleting if p.poll() is None]
    _deleting.append(
        subprocess.Popen(
            ["rabbitmqctl", "-q", "delete_vhost", vhost],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
    )


_deleting: list[subprocess.Popen] = []


def pytest_sessionfinish(session, exitstatus):
    for process in _deleting:
        process.wait(timeout=60)


@pytest.fixture
def postgres_urls():
    """One fresh PostgreSQL database per service, dropped afterwards."""
    _require(POSTGRES, "PostgreSQL")
    suffix = uuid.uuid4().hex[:8]
    names = {service: f"loudong_t_{service}_{suffix}" for service in helpers.SERVICES}
    with psycopg.connect("postgresql://postgres@127.0.0.1:5432/postgres", autocommit=True) as conn:
        for name in names.values():
            conn.execute(f'CREATE DATABASE "{name}"')
    yield {
        service: f"postgresql://postgres@127.0.0.1:5432/{name}" for service, name in names.items()
    }
    with psycopg.connect("postgresql://postgres@127.0.0.1:5432/postgres", autocommit=True) as conn:
        for name in names.values():
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def sms_provider():
    """The local SMS provider, on a free port, in this process."""
    from devtools.sms_sink import SmsSink

    sink = SmsSink().start()
    yield sink
    sink.stop()


@pytest.fixture
def fast_policies(tmp_path):
    """Claim within 2 s of calendar time, so that an unclaimed issue escalates during a test."""
    path = tmp_path / "policies.yaml"
    path.write_text(
        "tiers:\n"
        + "".join(
            f"  {tier}: {{claim_within: PT2S, resolve_within: PT60S, time: calendar}}\n"
            for tier in ("private", "small", "big", "hard")
        )
    )
    return path
