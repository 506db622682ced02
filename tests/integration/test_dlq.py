"""`loudong dlq` on RabbitMQ with PostgreSQL stores, for real: a submission intake accepts but
dispatch cannot apply (intake's directory knows a category dispatch's does not yet), published
twice as a relay does after a crash between confirm and mark, ends as two dead letters in
`loudong.dispatch.dead` while the next issue goes on; once dispatch knows the category, one
replay applies it once (the second copy is a duplicate to the inbox), a second replay changes
nothing, and discard drops a malformed message, saying what it dropped."""

import pytest
from kombu import Connection, Exchange, Producer
from prometheus_client import REGISTRY

from services import cli
from shared import runtime, topology
from tests.helpers import AUTH, SUBMISSION, build, emitted, wait_for
from tests.unit.shared.test_dlq import LIFT, PHONE, newer_directory

pytestmark = [pytest.mark.rabbitmq, pytest.mark.postgres]


@pytest.fixture
def env(tmp_path, monkeypatch, rabbitmq_url, postgres_urls):
    """The environment `loudong dlq` and the services share: RabbitMQ and PostgreSQL."""
    settings = {
        "LOUDONG_BROKER_URL": rabbitmq_url,
        "LOUDONG_DATA_DIR": str(tmp_path / "data"),
        "LOUDONG_RETRY_DELAYS": "0.2,0.2",
        "LOUDONG_POLL_INTERVAL": "0.05",
        **{f"LOUDONG_{s.upper()}_DATABASE_URL": url for s, url in postgres_urls.items()},
    }
    for name, value in settings.items():
        monkeypatch.setenv(name, value)
    return settings


@pytest.fixture
def started(tmp_path, env):
    running = []

    def start(name, **extra):
        service = build(name, tmp_path, **env, **extra)
        runtime.start(service)
        wait_for(service.bus.is_ready, what=f"{name} consuming")
        running.append(service)
        return service

    def stop(service):
        running.remove(service)
        runtime.stop(service)

    start.stop = stop
    yield start
    for service in running:
        runtime.stop(service)


def loudong(capsys, *argv) -> tuple[int, str]:
    code = cli.main(["dlq", *argv])
    captured = capsys.readouterr()
    return code, captured.out + captured.err


def _publish_raw(url, body, routing_key):
    with Connection(url, transport_options={"confirm_publish": True}) as conn:
        Producer(
            conn.default_channel,
            exchange=Exchange(topology.EXCHANGE_NAME, type="topic"),
            auto_declare=False,
        ).publish(body, routing_key=routing_key, content_type="application/json", delivery_mode=2)


def _dead(url) -> int:
    with Connection(url) as conn:
        queue = topology.dead_queue_name("dispatch")
        return conn.default_channel.queue_declare(queue, passive=True).message_count


def _duplicates() -> float:
    labels = {"service": "dispatch", "type": "issue.submitted", "outcome": "duplicate"}
    return REGISTRY.get_sample_value("loudong_events_consumed_total", labels) or 0


def _dispatched(store, issue_id):
    return [e for e in emitted(store, "issue.dispatched") if e.issue_id == issue_id]


def test_dead_letters_are_listed_replayed_once_and_discarded_on_rabbitmq(
    started, env, tmp_path, capsys
):
    url, newer = env["LOUDONG_BROKER_URL"], newer_directory(tmp_path / "directory.yaml")
    intake = started("intake", LOUDONG_DIRECTORY=newer)
    dispatch = started("dispatch")
    client = intake.app.test_client()
    poison_id = client.post("/v1/issues", headers=AUTH, json=LIFT).json["id"]
    [poison] = emitted(intake.store, "issue.submitted")
    _publish_raw(url, poison.to_json(), poison.type)  # the relay's second copy after a crash
    ordinary = client.post("/v1/issues", headers=AUTH, json=SUBMISSION).json["id"]

    wait_for(lambda: _dispatched(dispatch.store, ordinary), what="the ordinary issue dispatched")
    wait_for(lambda: _dead(url) == 2, what="both copies dead-lettered")

    code, listing = loudong(capsys, "list", "dispatch")
    assert code == 0 and "dispatch: 2 dead letters" in listing
    lines = [line for line in listing.splitlines() if poison_id in line]
    assert len(lines) == 2 and all(line.split()[0] == poison.id[:8] for line in lines)
    assert all("handler_failed: KeyError('lift_repair')" in line for line in lines)
    assert all(line.split()[5] == "3" and "?" not in line.split()[3] for line in lines)
    code, shown = loudong(capsys, "show", "dispatch", poison.id[:8])
    assert code == 0 and "(2 copies)" in shown and PHONE not in shown
    assert _dead(url) == 2  # reading took nothing away

    started.stop(dispatch)  # dispatch gets the newer directory: the cause is gone
    dispatch = started("dispatch", LOUDONG_DIRECTORY=newer)
    duplicates = _duplicates()
    code, replayed = loudong(capsys, "replay", "dispatch", poison.id[:8])

    assert code == 0 and replayed.count(f"replayed to dispatch: {poison.id}") == 2
    wait_for(lambda: _duplicates() == duplicates + 1, what="the second copy seen as a duplicate")
    assert len(_dispatched(dispatch.store, poison_id)) == 1
    assert _dead(url) == 0
    events = len(emitted(dispatch.store))

    code, again = loudong(capsys, "replay", "dispatch", "--all")
    assert code == 1 and "no dead letters" in again
    assert len(emitted(dispatch.store)) == events

    _publish_raw(url, b"\x00 not an envelope " + PHONE.encode(), "issue.submitted")
    wait_for(lambda: _dead(url) == 1, what="the malformed message dead-lettered")
    code, listing = loudong(capsys, "list", "dispatch")
    assert "malformed" in listing and PHONE not in listing

    code, dropped = loudong(capsys, "discard", "dispatch", "--all")

    assert code == 0 and "discarded from dispatch: m-" in dropped and "malformed" in dropped
    assert _dead(url) == 0
    assert len(emitted(dispatch.store)) == events
