"""deploy/rabbitmq/definitions.json is the topology the services declare: the file is what
shared.topology.definitions() says; on the real broker, what the services declare exports as
that document, and importing the document with `rabbitmqctl import_definitions` gives a vhost
the services then start on without a single argument in conflict."""

from __future__ import annotations

import json
import os
import subprocess
import tempfile

import pytest
from kombu import Connection

from shared import topology
from shared.config import REPO_ROOT
from tests.helpers import wait_for

FILE = REPO_ROOT / "deploy" / "rabbitmq" / "definitions.json"
pytestmark = pytest.mark.rabbitmq


def _vhost(url: str) -> str:
    return url.rsplit("/", 1)[1]


def _exported(vhost: str) -> dict:
    out = subprocess.run(
        ["rabbitmqctl", "-q", "export_definitions", "-"], capture_output=True, check=True
    ).stdout
    document = json.loads(out)
    return {
        "exchanges": sorted(
            (e["name"], e["type"], e["durable"])
            for e in document["exchanges"]
            if e["vhost"] == vhost and e["name"].startswith("loudong")
        ),
        "queues": sorted(
            (q["name"], q["durable"], json.dumps(q["arguments"], sort_keys=True))
            for q in document["queues"]
            if q["vhost"] == vhost
        ),
        "bindings": sorted(
            (b["source"], b["destination"], b["routing_key"])
            for b in document["bindings"]
            if b["vhost"] == vhost and b["source"]
        ),
    }


def _expected(vhost: str) -> dict:
    document = topology.definitions(vhost)
    return {
        "exchanges": sorted((e["name"], e["type"], e["durable"]) for e in document["exchanges"]),
        "queues": sorted(
            (q["name"], q["durable"], json.dumps(q["arguments"], sort_keys=True))
            for q in document["queues"]
        ),
        "bindings": sorted(
            (b["source"], b["destination"], b["routing_key"]) for b in document["bindings"]
        ),
    }


def test_the_file_is_the_topology_the_code_declares():
    assert json.loads(FILE.read_text()) == topology.definitions("/")


def test_what_the_services_declare_exports_as_the_definitions(rabbitmq_url):
    with Connection(rabbitmq_url) as conn:
        topology.declare_all(conn.default_channel)

    assert _exported(_vhost(rabbitmq_url)) == _expected(_vhost(rabbitmq_url))


def test_the_imported_definitions_are_what_the_services_start_on(rabbitmq_url):
    vhost = _vhost(rabbitmq_url)
    document = json.loads(FILE.read_text().replace('"vhost": "/"', f'"vhost": "{vhost}"'))
    document["vhosts"] = [{"name": vhost}]

    # the broker reads the file as its own user: a file it may read, outside pytest's own dirs
    with tempfile.NamedTemporaryFile("w", suffix=".json", dir="/tmp") as imported:
        imported.write(json.dumps(document))
        imported.flush()
        os.chmod(imported.name, 0o644)
        done = subprocess.run(
            ["rabbitmqctl", "import_definitions", imported.name], capture_output=True, text=True
        )
        assert done.returncode == 0, done.stdout + done.stderr
        # the import runs in the background: the broker holds the whole topology once done
        wait_for(lambda: _exported(vhost) == _expected(vhost), timeout=20, what="the import")
    with Connection(rabbitmq_url) as conn:  # a conflicting argument would fail here
        topology.declare_all(conn.default_channel)

    assert _exported(vhost) == _expected(vhost)
