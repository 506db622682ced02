"""A real Prometheus (Debian's) scraping the four services on RabbitMQ and PostgreSQL, with the
project's rules: every target is up, the domain series move as the flow implies (submitted,
dispatched, escalated, claimed, resolved, answered, sent, retried, receipted), read back through
Prometheus's HTTP API; every query of the Grafana dashboard is valid PromQL that returns data;
and stopping notify fires LoudongServiceDown within a minute."""

from __future__ import annotations

import hashlib
import hmac
import json
import shutil
import socket
import subprocess
import time

import pytest
import requests
import yaml

from shared.config import REPO_ROOT
from tests.conftest import IN_CI
from tests.helpers import AUTH, SUBMISSION, wait_for

RULES = REPO_ROOT / "deploy" / "prometheus" / "rules"
DASHBOARD = REPO_ROOT / "deploy" / "grafana" / "dashboards" / "loudong.json"
RECEIPT_SECRET = "monitoring-receipts"
PROPERTY = "baian-xincun-property"


@pytest.fixture
def backend_env(rabbitmq_url, postgres_urls):
    """Production's shape only: RabbitMQ and PostgreSQL."""
    return {
        "LOUDONG_BROKER_URL": rabbitmq_url,
        **{f"LOUDONG_{name.upper()}_DATABASE_URL": url for name, url in postgres_urls.items()},
    }


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def prometheus(tmp_path):
    """start(deployment) -> Prometheus's base URL, scraping every second, with our rules."""
    binary = shutil.which("prometheus")
    if binary is None:
        if IN_CI:
            pytest.fail("prometheus is missing (CI=true: `make test` installs it)")
        pytest.skip("prometheus is missing (apt-get install prometheus)")
    started = []

    def start(deployment) -> str:
        shutil.copytree(RULES, tmp_path / "rules")
        _shorten_service_down(tmp_path / "rules" / "loudong.yml")
        config = {
            "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
            "rule_files": ["rules/*.yml"],
            "scrape_configs": [
                {
                    "job_name": "loudong",
                    "static_configs": [
                        {"targets": [deployment.url(n).removeprefix("http://") for n in NAMES]}
                    ],
                }
            ],
        }
        (tmp_path / "prometheus.yml").write_text(yaml.safe_dump(config))
        port = _free_port()
        process = subprocess.Popen(
            [
                binary,
                f"--config.file={tmp_path / 'prometheus.yml'}",
                f"--storage.tsdb.path={tmp_path / 'tsdb'}",
                f"--web.listen-address=127.0.0.1:{port}",
            ],
            stdout=subprocess.DEVNULL,
            stderr=(tmp_path / "prometheus.log").open("w"),
        )
        started.append(process)
        url = f"http://127.0.0.1:{port}"
        wait_for(lambda: _ready(url), timeout=30, what="Prometheus ready")
        return url

    yield start
    for process in started:
        process.terminate()
        process.wait(timeout=10)


NAMES = ("intake", "dispatch", "escalation", "notify")


def _shorten_service_down(rules_file) -> None:
    """LoudongServiceDown waits 30 s before it fires. When it fires is promtool's unit tests'
    to check (deploy/prometheus/tests, run by tests/ops); here the question is whether real
    scrapes of a stopped service fire it, with its labels, so the copy waits 2 s."""
    rules = yaml.safe_load(rules_file.read_text())
    alert = next(
        r for g in rules["groups"] for r in g["rules"] if r.get("alert") == "LoudongServiceDown"
    )
    alert["for"] = "2s"
    rules_file.write_text(yaml.safe_dump(rules, allow_unicode=True))


def _ready(url: str) -> bool:
    try:
        return requests.get(f"{url}/-/ready", timeout=1).ok
    except requests.RequestException:
        return False


def _query(url: str, promql: str) -> list[dict]:
    answer = requests.get(f"{url}/api/v1/query", params={"query": promql}, timeout=5).json()
    assert answer["status"] == "success", answer
    return answer["data"]["result"]


def _query_range(url: str, promql: str, seconds: int) -> list[dict]:
    end = time.time()
    params = {"query": promql, "start": end - seconds, "end": end, "step": 1}
    answer = requests.get(f"{url}/api/v1/query_range", params=params, timeout=5).json()
    assert answer["status"] == "success", answer
    return [series for series in answer["data"]["result"] if series["values"]]


def _value(url: str, promql: str) -> float:
    result = _query(url, promql)
    return float(result[0]["value"][1]) if result else 0.0


def _recorded() -> dict[str, str]:
    """Each recording rule's name and expression: the dashboard's queries evaluated at once,
    without waiting for the rule groups' own interval."""
    rules = yaml.safe_load((RULES / "loudong.yml").read_text())
    return {r["record"]: r["expr"] for g in rules["groups"] for r in g["rules"] if "record" in r}


def _expanded(expr: str, recorded: dict[str, str]) -> str:
    for name in sorted(recorded, key=len, reverse=True):
        expr = expr.replace(name, f"({recorded[name]})")
    return expr


def _receipt(deployment, message_id: str) -> None:
    raw = json.dumps({"message_id": message_id, "status": "delivered"}).encode()
    stamp = str(int(time.time()))
    signature = hmac.new(RECEIPT_SECRET.encode(), stamp.encode() + b"." + raw, hashlib.sha256)
    answered = requests.post(
        f"{deployment.url('notify')}/v1/receipts/generic",
        data=raw,
        headers={
            "Content-Type": "application/json",
            "X-Loudong-Timestamp": stamp,
            "X-Loudong-Signature": signature.hexdigest(),
        },
        timeout=5,
    )
    assert answered.status_code == 200, answered.text


def test_prometheus_scrapes_the_services_sees_the_flow_and_alerts_when_notify_stops(
    deploy, prometheus, sms_provider, fast_policies
):
    deployment = deploy(LOUDONG_POLICIES=fast_policies, LOUDONG_SMS_RECEIPT_SECRET=RECEIPT_SECRET)
    url = prometheus(deployment)
    unit = deployment.unit_tokens(PROPERTY)[PROPERTY]
    requests.post(sms_provider.url + "/faults", json={"fail_next": 1, "status": 503}, timeout=5)

    wait_for(
        lambda: _value(url, 'count(up{job="loudong"} == 1)') == 4,
        timeout=30,
        what="all four targets up",
    )
    for n in range(3):
        body = {**SUBMISSION, "location": {**SUBMISSION["location"], "building": str(10 + n)}}
        created = requests.post(
            deployment.url("intake") + "/v1/issues", json=body, headers=AUTH, timeout=5
        )
        assert created.status_code == 201
    wait_for(
        lambda: _value(url, "sum(loudong_intake_issues_accepted_total)") >= 3,
        timeout=30,
        what="the submissions counted",
    )
    wait_for(
        lambda: _value(url, 'sum(loudong_dispatch_dispatched_total{role="lead"})') >= 3,
        timeout=30,
        what="the dispatches counted",
    )
    wait_for(
        lambda: _value(url, 'sum(loudong_notify_sent_total{channel="sms"})') >= 3,
        timeout=60,
        what="the units' SMS counted",
    )
    issue_ids = [
        i["id"]
        for i in requests.get(
            deployment.url("intake") + "/v1/issues?limit=3", headers=AUTH, timeout=5
        ).json()["issues"]
    ]
    dispatch = deployment.url("dispatch")
    first = issue_ids[0]
    requests.post(f"{dispatch}/v1/assignments/{first}/claim", headers=unit, timeout=5)
    wait_for(  # resolved once its limit is known, so that "within the limit" can be told
        lambda: requests.get(f"{dispatch}/v1/assignments/{first}", headers=unit, timeout=5).json()[
            "resolve_due"
        ],
        timeout=30,
        what="the resolve deadline at dispatch",
    )
    done = requests.post(
        f"{dispatch}/v1/assignments/{first}/resolve",
        headers=unit,
        json={"resolution": "已疏通"},
        timeout=5,
    )
    assert done.status_code == 200, done.text
    wait_for(
        lambda: (
            requests.post(
                f"{deployment.url('intake')}/v1/issues/{first}/feedback",
                headers=AUTH,
                json={"satisfied": True, "rating": 5},
                timeout=5,
            ).status_code
            == 201
        ),
        timeout=30,
        what="feedback taken",
    )
    _receipt(deployment, sms_provider.messages[0]["message_id"])
    wait_for(
        lambda: (
            _value(url, "sum(loudong_escalation_escalations_total)") >= 1
            and _value(url, 'sum(loudong_dispatch_closed_total{reason="satisfied"})') >= 1
            and _value(url, "sum(loudong_notify_receipts_total)") >= 1
            and _value(url, "sum(loudong_notify_retried_total)") >= 1
            and _value(url, "sum(loudong_dispatch_overdue_issues)") >= 1
        ),
        timeout=60,
        what="escalated, closed satisfied, receipted, retried and overdue, in Prometheus",
    )
    time.sleep(3)  # a few more scrapes: rate() and increase() need two samples in their range
    recorded = _recorded()
    dashboard = json.loads(DASHBOARD.read_text())
    queries = [t["expr"] for p in dashboard["panels"] for t in p.get("targets", [])]
    # a dashboard draws the last minutes, not an instant: a panel has data if any point has
    empty = [q for q in queries if not _query_range(url, _expanded(q, recorded), seconds=120)]
    assert len(queries) >= 20 and empty == [], empty
    assert _value(url, 'sum(loudong_ready{check="bus"})') == 4
    assert _value(url, "sum(loudong_outbox_unpublished)") >= 0  # the relays' own gauge is there
    assert _query(url, "loudong_outbox_oldest_unpublished_age_seconds")

    deployment.kill("notify")

    firing = wait_for(
        lambda: [
            a
            for a in requests.get(f"{url}/api/v1/alerts", timeout=5).json()["data"]["alerts"]
            if a["labels"]["alertname"] == "LoudongServiceDown" and a["state"] == "firing"
        ],
        timeout=60,
        what="LoudongServiceDown firing",
    )
    assert firing[0]["labels"]["instance"] == deployment.url("notify").removeprefix("http://")
    assert firing[0]["labels"]["severity"] == "page"
