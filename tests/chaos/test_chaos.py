"""Chaos: issues submitted at a steady rate while the services are SIGKILLed (notify on
purpose while the provider holds its answer, so that a notice is accepted and not yet
recorded), and, on RabbitMQ and PostgreSQL, the broker restarted and the databases'
connections cut; every service runs as two replicas there, one on the embedded default.
A property company claims every third issue; the others climb the ladder during the run.
Afterwards, once everything has settled, the invariants (tests/chaos/invariants.py) are
read from every store and from the provider: 0 lost, 0 SMS doubled or lost, 0 escalations
missed or doubled, every issue in its expected state.

`make test` runs it small (LOUDONG_CHAOS_ISSUES, 60 by default); `make chaos` with
thousands. LOUDONG_CHAOS_SEED replays a run's choice of harm."""

from __future__ import annotations

import os
import random
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime

import pytest
import requests

from shared import dlq
from shared.config import REPO_ROOT
from tests.chaos import invariants
from tests.chaos.cluster import Cluster, cut_database_connections, restart_broker
from tests.chaos.conftest import size
from tests.chaos.workload import UNIT, Outcomes, claim_every_third, submit
from tests.helpers import ADMIN_TOKEN, DEMO_KEY, LINK_SECRET, SERVICES

CLAIM_WITHIN = 10  # seconds of calendar time, at every rung of the ladder
LADDER = 4  # rungs above the property company: committee, street office, leader, executive
HARM_EVERY = 2.5  # seconds between two harms


def _policies(path):
    path.write_text(
        "tiers:\n"
        + "".join(
            f"  {tier}: {{claim_within: PT{CLAIM_WITHIN}S, resolve_within: P1D, time: calendar}}\n"
            for tier in ("private", "small", "big", "hard")
        )
    )
    return path


@pytest.fixture(params=["embedded", "rabbitmq_postgres"])
def backend(request):
    if request.param == "embedded":
        return request.param, {}, {}
    broker = request.getfixturevalue("rabbitmq_url")
    databases = request.getfixturevalue("postgres_urls")
    env = {
        "LOUDONG_BROKER_URL": broker,
        **{f"LOUDONG_{name.upper()}_DATABASE_URL": url for name, url in databases.items()},
    }
    return request.param, env, databases


class Harm:
    """Chooses and does one harm at a time until stopped, counting what it did."""

    def __init__(self, cluster: Cluster, provider, databases: dict, seed: int):
        self.cluster, self.provider, self.databases = cluster, provider, databases
        self.random = random.Random(seed)
        self.done: dict[str, int] = {}
        self.errors: list[str] = []

    def run(self, stop: threading.Event) -> None:
        while not stop.wait(HARM_EVERY):
            try:
                self.once()
            except Exception as exc:  # recorded: the test fails on it after the run
                self.errors.append(repr(exc))
                return

    def once(self) -> None:
        harms = [self.kill_any, self.kill_notify_mid_send]
        if self.databases:
            harms += [self.restart_broker, self.cut_connections]
        harm = self.random.choice(harms)
        harm()
        self.done[harm.__name__] = self.done.get(harm.__name__, 0) + 1

    def kill_any(self) -> None:
        self.cluster.restart(self.random.choice(self.cluster.members))

    def kill_notify_mid_send(self) -> None:
        """The provider accepts the next message and holds its answer; notify dies before it
        can record the send (and, on PostgreSQL, its connections are cut as well)."""
        requests.post(self.provider.url + "/faults", json={"hold_next": 1, "hold": 3}, timeout=5)
        time.sleep(0.5)
        if self.databases:
            cut_database_connections({"notify": self.databases["notify"]})
        self.cluster.restart(self.random.choice(self.cluster.of("notify")))

    def restart_broker(self) -> None:
        restart_broker(down_for=1.0)

    def cut_connections(self) -> None:
        cut_database_connections(self.databases)


def _unit_headers(cluster: Cluster) -> dict:
    token = subprocess.run(
        [sys.executable, "-m", "services.cli", "units", "token", UNIT],
        env=cluster.env,
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()[0]
    return {"Authorization": f"Bearer {token}"}


def _settle(stores: dict[str, str], broker_url: str | None, timeout: float) -> dict[str, int]:
    """Wait until nothing is pending anywhere; what was still pending when it stopped."""
    deadline = time.monotonic() + timeout
    while (
        any((left := invariants.pending(stores, broker_url)).values())
        and time.monotonic() < deadline
    ):
        time.sleep(1)
    return left


def _stores(cluster: Cluster, databases: dict) -> dict[str, str]:
    data = cluster.workdir / "data"
    return {s: databases.get(s) or f"sqlite:///{data / f'{s}.db'}" for s in SERVICES}


def test_nothing_is_lost_doubled_or_missed_under_chaos(backend, tmp_path, sms_provider, figures):
    name, env, databases = backend
    issues, rate = size("issues", 60), float(os.environ.get("LOUDONG_CHAOS_RATE", "10"))
    seed = int(os.environ.get("LOUDONG_CHAOS_SEED", random.randrange(10**6)))
    cluster = Cluster(
        tmp_path,
        {
            "LOUDONG_SMS_URL": sms_provider.url,
            "LOUDONG_WEB_WORKERS": "2",
            "LOUDONG_SMS_TIMEOUT": "2",  # a held answer outlives it: the lease runs out
            "LOUDONG_DEMO_API_KEY": DEMO_KEY,
            "LOUDONG_LINK_SECRET": LINK_SECRET,
            "LOUDONG_ADMIN_TOKEN": ADMIN_TOKEN,
            "LOUDONG_RATE_LIMIT": "100000/second",
            # Thousands of issues reach one property company within minutes here; its 600 an
            # hour would hold most of their SMS for later (the limit has tests of its own).
            "LOUDONG_UNIT_RECIPIENT_LIMIT": "1000000/hour",
            "LOUDONG_POLICIES": str(_policies(tmp_path / "policies.yaml")),
            **env,
        },
        replicas=2 if databases else 1,
    )
    outcomes, stop = Outcomes(), threading.Event()
    harm = Harm(cluster, sms_provider, databases, seed)
    try:
        cluster.start_all()
        unit = _unit_headers(cluster)
        dispatch_urls = [r.url for r in cluster.of("dispatch")]
        claimer = threading.Thread(
            target=claim_every_third, args=(dispatch_urls, unit, outcomes, stop)
        )
        harming = threading.Thread(target=harm.run, args=(stop,))
        claimer.start()
        harming.start()
        started = time.monotonic()
        submit([r.url for r in cluster.of("intake")], issues, rate, f"{name[:1]}{seed}-", outcomes)
        # Harm goes on while the last issues climb their ladder, then everything settles.
        time.sleep(CLAIM_WITHIN * 2)
        stop.set()
        claimer.join()
        harming.join()
        for replica in cluster.members:  # whatever harm left dead comes back
            if replica.process.poll() is not None:
                cluster.start(replica)
        stores = _stores(cluster, databases)
        settled = _settle(
            stores,
            env.get("LOUDONG_BROKER_URL"),
            timeout=CLAIM_WITHIN * (LADDER + 2) + 60 + issues / 5,
        )
        held = invariants.held(stores)
        elapsed = time.monotonic() - started
        # Stopped before anything is read: the ladder of the last issues may still be climbing,
        # and a store read while a message is on its way to the provider would see half of it.
        stopped_at = datetime.now(UTC)
        cluster.stop()
        verdict = invariants.check(
            stores,
            list(sms_provider.messages),
            sms_provider.conflicts,
            outcomes,
            {s: dlq.dead_letters(s, cluster.env).list() for s in SERVICES},
            stopped_at,
        )
    finally:
        stop.set()
        cluster.stop()

    figures("seed", seed)
    figures("issues accepted", f"{len(outcomes.accepted)} of {issues} at {rate:g}/s")
    figures("claimed in time", len(outcomes.claimed))
    figures("harm", ", ".join(f"{k} {v}" for k, v in sorted(harm.done.items())) or "none")
    figures(
        "SMS at the provider", f"{len(sms_provider.messages)} ({sms_provider.requests} requests)"
    )
    figures("seconds", f"{elapsed:.0f}")
    for check, count in verdict.counts.items():
        figures(check, count)
    assert not harm.errors, harm.errors
    assert not any(settled.values()), f"not settled: {settled}; held: {held}\n{verdict}"
    assert not outcomes.refused, outcomes.refused[:5]
    assert verdict.failures == 0, f"seed {seed}:\n{verdict}"
    for replica_name, log in cluster.logs().items():
        assert "Traceback" not in log, f"{replica_name} logged a traceback:\n{log[-5000:]}"
