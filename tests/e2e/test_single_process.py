"""`loudong run` serves each service from one process (`--single-process`): no gunicorn master
beside it, an issue goes through as it does under gunicorn, and SIGTERM stops it cleanly."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from shared.config import REPO_ROOT
from tests.e2e.conftest import _free_port
from tests.helpers import AUTH, DEMO_KEY, SUBMISSION, wait_for


@pytest.fixture
def intake_alone(tmp_path, sms_provider):
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LOUDONG_", "PROMETHEUS_"))}
    env.update(
        LOUDONG_DATA_DIR=str(tmp_path / "data"),
        LOUDONG_SMS_URL=sms_provider.url,
        LOUDONG_DEMO_API_KEY=DEMO_KEY,
        LOUDONG_INTAKE_PORT=str(port),
    )
    log_path = tmp_path / "intake.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "services.cli", "intake", "--single-process"],
            env=env,
            cwd=REPO_ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    url = f"http://127.0.0.1:{port}"
    wait_for(lambda: _ready(url), timeout=60, interval=0.2, what="intake ready")
    yield process, url, log_path
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def _ready(url: str) -> bool:
    try:
        return requests.get(f"{url}/readyz", timeout=1).status_code == 200
    except requests.RequestException:
        return False


def test_a_service_alone_is_one_process_that_takes_an_issue(intake_alone):
    process, url, _log = intake_alone

    created = requests.post(f"{url}/v1/issues", headers=AUTH, json=SUBMISSION, timeout=10)
    read = requests.get(f"{url}/v1/issues/{created.json()['id']}", headers=AUTH, timeout=10)

    assert created.status_code == 201
    assert read.json()["status"] == "received"
    children = Path(f"/proc/{process.pid}/task/{process.pid}/children").read_text().split()
    assert children == []  # no gunicorn worker; the migration's child has exited


def test_sigterm_stops_a_service_alone_cleanly(intake_alone):
    process, _url, log_path = intake_alone

    process.send_signal(signal.SIGTERM)

    assert process.wait(timeout=20) == 0
    assert "Traceback" not in log_path.read_text(errors="replace")
