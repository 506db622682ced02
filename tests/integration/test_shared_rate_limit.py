"""A gateway key's rate limit holds across intake replicas when they share a Redis
(LOUDONG_RATE_LIMIT_STORAGE): two replicas together allow exactly the limit, then 429 with
Retry-After on either. Without it each replica counts on its own (the embedded default), and
with the Redis unreachable they fall back to that, never 500.

Each test makes its own gateway key, whose random id namespaces its Redis keys
(loudong:intake:LIMITER/<key id>/…), and deletes only those afterwards."""

from __future__ import annotations

import logging
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

import pytest
import redis
import requests

from services.intake import commands, rate_limit
from services.intake.rate_limit import LOCAL_FALLBACKS
from shared.config import ConfigError
from tests.e2e.conftest import Deployment
from tests.helpers import DEMO_KEY, SUBMISSION, build, wait_for

REDIS_URL = "redis://127.0.0.1:6379/0"


@pytest.fixture
def shared_redis():
    """Redis on this machine, and the keys each test made there removed afterwards."""
    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1)
    try:
        client.ping()
    except redis.ConnectionError:
        pytest.skip("needs Redis on 127.0.0.1:6379")
    made: list[str] = []
    yield client, made
    for key_id in made:
        for name in client.scan_iter(match=f"loudong:intake:*/{key_id}/*"):
            client.delete(name)
    client.close()


def _replicas(tmp_path, **env):
    """Two intake replicas in this process on one store (the same SQLite data folder)."""
    return build("intake", tmp_path, **env), build("intake", tmp_path, **env)


def _new_key(replica) -> tuple[str, dict]:
    """A gateway key of this test alone: (its id, the Authorization header)."""
    with replica.store.unit_of_work() as uow:
        key_id, key = commands.create_key(uow, replica.context, "rate-test", ["read", "submit"])
    return key_id, {"Authorization": f"Bearer {key}"}


def _dispose(*replicas) -> None:
    for replica in replicas:
        replica.store.dispose()


def test_two_replicas_sharing_redis_together_allow_exactly_the_limit(tmp_path, shared_redis):
    client, made = shared_redis
    a, b = _replicas(tmp_path, LOUDONG_RATE_LIMIT="5/minute", LOUDONG_RATE_LIMIT_STORAGE=REDIS_URL)
    key_id, auth = _new_key(a)
    made.append(key_id)
    first, second = a.app.test_client(), b.app.test_client()

    statuses = [c.get("/v1/issues", headers=auth).status_code for c in [first, second] * 3]

    assert statuses == [200, 200, 200, 200, 200, 429]
    for replica in (first, second):
        refused = replica.get("/v1/issues", headers=auth)
        assert refused.status_code == 429
        assert 0 < int(refused.headers["Retry-After"]) <= 60
        assert refused.content_type == "application/problem+json"
    names = [n.decode() for n in client.scan_iter(match="loudong:intake:*")]
    ours = [n for n in names if f"/{key_id}/" in n]
    assert ours, f"no namespaced key for {key_id} among {names[:5]}"
    secret = auth["Authorization"].removeprefix("Bearer ")
    assert not [n for n in names if secret in n]  # the key itself is never stored
    _dispose(a, b)


def test_the_shared_limit_counts_open311_posts_and_the_api_as_one(tmp_path, shared_redis):
    _client, made = shared_redis
    a, b = _replicas(tmp_path, LOUDONG_RATE_LIMIT="2/minute", LOUDONG_RATE_LIMIT_STORAGE=REDIS_URL)
    key_id, auth = _new_key(a)
    made.append(key_id)
    key = auth["Authorization"].removeprefix("Bearer ")

    assert a.app.test_client().post("/v1/issues", headers=auth, json=SUBMISSION).status_code == 201
    assert b.app.test_client().get("/v1/issues", headers=auth).status_code == 200
    refused = a.app.test_client().get("/v1/issues", headers=auth)
    assert refused.status_code == 429
    open311 = b.app.test_client().post("/open311/v2/requests.json", data={"api_key": key})
    assert open311.status_code == 429, open311.get_data(as_text=True)
    _dispose(a, b)


def test_with_memory_storage_each_replica_allows_the_limit_on_its_own(tmp_path):
    """Today's embedded default, kept as the documented behaviour without a shared store."""
    a, b = _replicas(tmp_path, LOUDONG_RATE_LIMIT="3/minute")
    _key_id, auth = _new_key(a)
    first, second = a.app.test_client(), b.app.test_client()

    on_a = [first.get("/v1/issues", headers=auth).status_code for _ in range(4)]
    on_b = [second.get("/v1/issues", headers=auth).status_code for _ in range(4)]

    assert on_a == on_b == [200, 200, 200, 429]
    _dispose(a, b)


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # nothing listens there once the socket is closed


def test_with_redis_unreachable_each_replica_limits_on_its_own_never_500(tmp_path, caplog):
    unreachable = f"redis://127.0.0.1:{_closed_port()}/0"
    env = {"LOUDONG_RATE_LIMIT": "3/minute", "LOUDONG_RATE_LIMIT_STORAGE": unreachable}
    a, b = _replicas(tmp_path, **env)
    _key_id, auth = _new_key(a)
    before = LOCAL_FALLBACKS._value.get()

    with caplog.at_level(logging.WARNING, logger="services.intake.rate_limit"):
        on_a = [a.app.test_client().get("/v1/issues", headers=auth).status_code for _ in range(4)]
        on_b = [b.app.test_client().get("/v1/issues", headers=auth).status_code for _ in range(4)]

    assert on_a == on_b == [200, 200, 200, 429]  # failed open to each replica's own window
    assert LOCAL_FALLBACKS._value.get() - before == 8
    warnings = [r.getMessage() for r in caplog.records if "unreachable" in r.getMessage()]
    assert len(warnings) == 2  # once per replica and outage, not once per request
    assert all(unreachable not in w for w in warnings)
    _dispose(a, b)


class OwnRedis:
    """A redis-server of this test alone, on a free port, that the test stops and starts."""

    def __init__(self):
        self.port = _closed_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--save", "", "--appendonly", "no"],
            stdout=subprocess.DEVNULL,
        )
        client = redis.Redis(port=self.port, socket_connect_timeout=0.2)
        wait_for(lambda: _answers(client), timeout=10, what="redis-server ready")
        client.close()

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.kill()
            self.process.wait()


def _answers(client) -> bool:
    try:
        return client.ping()
    except redis.ConnectionError:
        return False


@pytest.mark.skipif(shutil.which("redis-server") is None, reason="needs redis-server")
def test_redis_going_down_and_back_limits_per_replica_meanwhile_then_shared(
    tmp_path, caplog, monkeypatch
):
    monkeypatch.setattr(rate_limit, "SHARED_RETRY_AFTER", 0.2)  # try the store again sooner
    own = OwnRedis()
    own.start()
    try:
        env = {"LOUDONG_RATE_LIMIT": "3/minute", "LOUDONG_RATE_LIMIT_STORAGE": own.url}
        a, b = _replicas(tmp_path, **env)
        _key_id, auth = _new_key(a)
        first, second = a.app.test_client(), b.app.test_client()

        def statuses(*clients):
            return [c.get("/v1/issues", headers=auth).status_code for c in clients]

        assert statuses(first, second, first, second) == [200, 200, 200, 429]  # shared
        own.stop()
        with caplog.at_level(logging.WARNING, logger="services.intake.rate_limit"):
            assert statuses(first, first, first, first) == [200, 200, 200, 429]  # A on its own
            assert statuses(second) == [200]  # B's own window is fresh: limited per replica
            own.start()  # empty: a restarted Redis has forgotten the counts
            for n, replica in enumerate((first, second), start=1):  # each counts once there
                wait_for(lambda r=replica, n=n: _back(r, auth, caplog, n), timeout=5, what="Redis")
            assert statuses(first, second) == [200, 429]  # shared once more
        _dispose(a, b)
    finally:
        own.stop()


def _back(client, auth, caplog, replicas: int) -> bool:
    """One request more; True once `replicas` replicas have said the store answers again."""
    client.get("/v1/issues", headers=auth)
    return sum("reachable again" in r.getMessage() for r in caplog.records) == replicas


@pytest.mark.parametrize(
    "uri", ["nonsense://127.0.0.1", "redis://127.0.0.1:port/0", "async+redis://127.0.0.1"]
)
def test_a_malformed_storage_uri_stops_intake_naming_the_variable(tmp_path, uri):
    with pytest.raises(ConfigError, match="LOUDONG_RATE_LIMIT_STORAGE"):
        build("intake", tmp_path, LOUDONG_RATE_LIMIT_STORAGE=uri)


def test_two_intake_processes_sharing_redis_allow_exactly_the_limit(shared_redis):
    """As deployed: two `loudong intake` processes, each with two gunicorn workers."""
    _client, made = shared_redis
    # a short folder: gunicorn's control socket lives in it and sockets' paths are short
    with tempfile.TemporaryDirectory(prefix="ld-rl-") as folder:
        workdir = Path(folder)
        env = {
            "LOUDONG_DEMO_API_KEY": DEMO_KEY,
            "LOUDONG_SMS_URL": "http://127.0.0.1:9",
            "LOUDONG_WEB_WORKERS": "2",
            "LOUDONG_RATE_LIMIT": "6/minute",
            "LOUDONG_RATE_LIMIT_STORAGE": REDIS_URL,
        }
        replicas = [Deployment(workdir, env), Deployment(workdir, env)]
        try:
            replicas[0].start("intake")
            replicas[1].start("intake")
            local = build("intake", workdir)  # the same data folder: a key both replicas know
            key_id, auth = _new_key(local)
            made.append(key_id)
            local.store.dispose()
            urls = [r.url("intake") + "/v1/issues" for r in replicas]

            statuses = [requests.get(u, headers=auth, timeout=5).status_code for u in urls * 4]

            assert statuses == [200] * 6 + [429] * 2
        finally:
            for replica in replicas:
                replica.stop()
        assert "Traceback" not in replicas[0].log("intake")
