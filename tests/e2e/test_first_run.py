"""A first-time user: `make run` on a fresh data folder, then the README's "Try it" block as it
is. The start must be quiet and every command in the block must do what the README says."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys

import pytest
import requests

from shared.config import REPO_ROOT
from tests.e2e.conftest import _free_port
from tests.helpers import DEMO_KEY, SERVICES, wait_for

DEFAULT_PORTS = {"intake": 8081, "dispatch": 8082, "escalation": 8083, "notify": 8084}


@pytest.fixture
def first_run(tmp_path, sms_provider):
    """`loudong run` (what `make run` starts) on a fresh data folder, on free ports."""
    ports = {name: _free_port() for name in SERVICES}
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LOUDONG_", "PROMETHEUS_"))}
    env.update(
        {
            "LOUDONG_DATA_DIR": str(tmp_path / "data"),
            "LOUDONG_SMS_URL": sms_provider.url,
            "LOUDONG_DEMO_API_KEY": DEMO_KEY,
            **{f"LOUDONG_{n.upper()}_PORT": str(p) for n, p in ports.items()},
        }
    )
    output = tmp_path / "run.log"
    with open(output, "wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "services.cli", "run"],
            env=env,
            cwd=REPO_ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    for name, port in ports.items():
        wait_for(lambda p=port: _ready(p), timeout=60, interval=0.2, what=f"{name} ready")
    yield env, ports, sms_provider, output
    os.killpg(process.pid, signal.SIGTERM)
    process.wait(timeout=30)


def _ready(port: int) -> bool:
    try:
        return requests.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200
    except requests.RequestException:
        return False


def _try_it_block(ports: dict, sms_url: str) -> str:
    readme = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Try it", 1)[1]
    block = re.search(r"```sh\n(.*?)```", section, re.S).group(1)
    for name, default in DEFAULT_PORTS.items():
        block = block.replace(f"127.0.0.1:{default}", f"127.0.0.1:{ports[name]}")
    return block.replace("http://127.0.0.1:8089", sms_url)


def test_a_fresh_start_prints_no_warning(first_run):
    _env, _ports, _sms, output = first_run

    wait_for(lambda: "Ctrl-C stops everything" in output.read_text(), what="the banner")
    text = output.read_text(errors="replace")

    noisy = [line for line in text.splitlines() if re.search(r"WARNING|ERROR|Traceback", line)]
    # The one warning an operator must see: next year's working calendar is not loaded yet.
    noisy = [line for line in noisy if "holiday calendar is known only until" not in line]
    assert noisy == []


def test_the_readme_try_it_block_claims_the_issue_it_submits(first_run):
    env, ports, sms, _output = first_run
    block = _try_it_block(ports, sms.url)

    result = subprocess.run(
        ["bash", "-e", "-c", block],
        env={**env, "KEY": DEMO_KEY},
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert result.returncode == 0, result.stderr
    issue_id = re.search(r"^issue (\S+)$", result.stdout, re.M).group(1)
    assert "百安新村" in result.stdout  # the issue read back in UTF-8, not as \u escapes
    assert re.search(
        r'"claimed_at": ?"\d{4}-', result.stdout
    )  # the claim went through with the unit's token
    wait_for(lambda: _status(ports, issue_id) == "claimed", what="intake shows the issue claimed")


def _status(ports: dict, issue_id: str) -> str:
    return requests.get(
        f"http://127.0.0.1:{ports['intake']}/v1/issues/{issue_id}",
        headers={"Authorization": f"Bearer {DEMO_KEY}"},
        timeout=5,
    ).json()["status"]
