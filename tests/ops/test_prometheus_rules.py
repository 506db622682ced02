"""The operators' files hold: promtool accepts both Prometheus configurations and the rules,
every alert's unit tests pass (deploy/prometheus/tests: each alert fires when it should and
stays quiet when it should not), every alert links a runbook section that exists, and every
service's /metrics passes `promtool check metrics` (names and units by the conventions)."""

from __future__ import annotations

import shutil
import subprocess

import pytest
import yaml

from shared.config import REPO_ROOT
from tests.conftest import IN_CI
from tests.helpers import SERVICES, build

PROMETHEUS_DIR = REPO_ROOT / "deploy" / "prometheus"
RULES = PROMETHEUS_DIR / "rules" / "loudong.yml"


@pytest.fixture(scope="module")
def promtool():
    found = shutil.which("promtool")
    if found is None:
        if IN_CI:
            pytest.fail("promtool is missing (CI=true: `make test` installs prometheus)")
        pytest.skip("promtool is missing (apt-get install prometheus)")
    return found


def _run(*args) -> subprocess.CompletedProcess:
    return subprocess.run(args, capture_output=True, text=True, cwd=PROMETHEUS_DIR, check=False)


@pytest.mark.parametrize("config", ["prometheus.yml", "local.yml"])
def test_promtool_accepts_the_configuration_and_its_rules(promtool, config):
    checked = _run(promtool, "check", "config", config)

    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "SUCCESS" in checked.stdout + checked.stderr


def test_every_alert_fires_and_stays_quiet_as_its_unit_tests_say(promtool):
    tested = _run(promtool, "test", "rules", "tests/alerts.test.yml")

    assert tested.returncode == 0, tested.stdout + tested.stderr


def test_every_alert_has_unit_tests_a_runbook_and_routing_labels():
    rules = yaml.safe_load(RULES.read_text())
    alerts = [r for g in rules["groups"] for r in g["rules"] if "alert" in r]
    tests = (PROMETHEUS_DIR / "tests" / "alerts.test.yml").read_text()
    runbook = (REPO_ROOT / "docs" / "runbook.md").read_text()

    assert len(alerts) >= 13
    for alert in alerts:
        name = alert["alert"]
        assert f"alertname: {name}\n" in tests, f"{name} has no promtool test"
        assert tests.count(f"alertname: {name}\n") >= 2, f"{name}: firing and quiet both"
        assert alert["annotations"]["runbook_url"] == f"docs/runbook.md#{name.lower()}"
        assert f"\n## {name}\n" in runbook, f"{name} has no runbook section"
        assert alert["labels"]["severity"] in ("page", "ticket") and alert["labels"]["team"]


@pytest.mark.parametrize("service", SERVICES)
def test_each_services_metrics_pass_promtool_check_metrics(promtool, service, tmp_path):
    built = build(service, tmp_path)
    client = built.app.test_client()
    client.get("/readyz")  # a request or two, so that request metrics have samples
    exposition = client.get("/metrics").get_data()

    checked = subprocess.run(
        [promtool, "check", "metrics"], input=exposition, capture_output=True, check=False
    )

    assert checked.returncode == 0, (checked.stdout + checked.stderr).decode()
    assert b"loudong_ready" in exposition and b"loudong_dead_letters" in exposition
    built.store.dispose()
