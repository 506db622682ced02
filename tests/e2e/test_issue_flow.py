"""An issue from submission to escalation and SMS, with every service its own process."""

import time

import requests

from services.notify.model import reference
from tests.helpers import AUTH, SUBMISSION, wait_for

UNIT_PHONE = "+8613800000042"  # 百安新村物业公司, the unit dispatch picks
SUPERVISOR_PHONE = "+8613800000032"  # 百安社区居委会, one level up its ladder


def _submit(deployment, body=SUBMISSION) -> str:
    response = requests.post(
        deployment.url("intake") + "/v1/issues", json=body, headers=AUTH, timeout=5
    )
    assert response.status_code == 201, response.text
    return response.json()["id"]


def _issue(deployment, issue_id) -> dict:
    return requests.get(
        f"{deployment.url('intake')}/v1/issues/{issue_id}", headers=AUTH, timeout=5
    ).json()


def test_an_unclaimed_issue_escalates_and_both_sms_reach_the_provider(
    deploy, fast_policies, sms_provider
):
    deployment = deploy(LOUDONG_POLICIES=fast_policies)

    issue_id = _submit(deployment)

    # Two deliveries in no fixed order: the unit's notice may wait for its claim deadline.
    wait_for(
        lambda: {UNIT_PHONE, SUPERVISOR_PHONE} <= {m["to"] for m in sms_provider.messages},
        timeout=30,
        what="an SMS to the unit and one to its supervisor",
    )
    first = next(m for m in sms_provider.messages if m["to"] == UNIT_PHONE)
    second = next(m for m in sms_provider.messages if m["to"] == SUPERVISOR_PHONE)
    assert "新派单" in first["text"]
    assert "超时未认领" in second["text"]
    assert reference(issue_id) in first["text"] and reference(issue_id) in second["text"]
    shown = wait_for(
        lambda: (lambda i: i if i["escalation_level"] >= 1 else None)(_issue(deployment, issue_id)),
        what="the escalation on the issue's status",
    )
    assert shown["status"] == "dispatched"
    assert shown["assigned_unit"]["id"] == "baian-xincun-property"
    assert {"issue.submitted", "issue.dispatched", "issue.escalated", "notification.sent"} <= {
        t["type"] for t in shown["timeline"]
    }


def test_a_claimed_issue_does_not_escalate(deploy, tmp_path, sms_provider):
    policies = tmp_path / "six-seconds.yaml"
    policies.write_text(
        "tiers:\n"
        + "".join(
            f"  {t}: {{claim_within: PT6S, resolve_within: PT60S, time: calendar}}\n"
            for t in ("private", "small", "big", "hard")
        )
    )
    deployment = deploy(LOUDONG_POLICIES=policies)
    unit = deployment.unit_tokens("baian-xincun-property")["baian-xincun-property"]
    issue_id = _submit(deployment)
    wait_for(lambda: sms_provider.messages, what="the dispatch SMS")

    claimed = requests.post(
        f"{deployment.url('dispatch')}/v1/assignments/{issue_id}/claim", headers=unit, timeout=5
    )

    assert claimed.status_code == 200
    clocks_url = f"{deployment.url('escalation')}/v1/issues/{issue_id}/clocks"
    states = wait_for(
        lambda: (lambda s: s if s.get("resolve") == "armed" else None)(
            {
                c["clock"]: c["state"]
                for c in requests.get(clocks_url, timeout=5).json().get("clocks", [])
            }
        ),
        what="clocks moved",
    )
    assert states["claim"] == "stopped"
    deadline_passed = time.monotonic() + 7  # the claim deadline would have passed by now
    wait_for(lambda: time.monotonic() > deadline_passed, what="the old claim deadline")
    assert _issue(deployment, issue_id)["escalation_level"] == 0
    assert [m["to"] for m in sms_provider.messages] == [UNIT_PHONE]


def test_a_service_killed_mid_flow_loses_and_doubles_nothing(deploy, sms_provider):
    deployment = deploy()  # the shipped policies: hours to claim, so no escalation interferes

    def another(n):  # a different building each time, so that none is linked as a duplicate
        return _submit(
            deployment, {**SUBMISSION, "location": {**SUBMISSION["location"], "building": str(n)}}
        )

    ids = [another(n) for n in range(15)]
    deployment.kill("dispatch")
    deployment.kill("notify")
    ids += [another(n) for n in range(15, 25)]  # intake keeps accepting meanwhile
    deployment.start("dispatch", "notify")

    def told():  # how often each issue reached the unit's phone, alone or bundled with others
        return {
            ref: sum(ref in m["text"] for m in sms_provider.messages) for ref in map(reference, ids)
        }

    wait_for(lambda: all(told().values()), timeout=60, what="every issue told to its unit")
    wait_for(
        lambda: all(_issue(deployment, i)["status"] == "dispatched" for i in ids),
        what="all dispatched",
    )
    assert set(told().values()) == {1}, told()
    for issue_id in ids:
        timeline = [t["type"] for t in _issue(deployment, issue_id)["timeline"]]
        assert timeline.count("issue.dispatched") == 1


def _applied(deployment, service: str, event_type: str = "") -> float:
    """Events (of one type, if given) the service has committed, from its /metrics (every
    worker's, summed)."""
    try:
        text = requests.get(deployment.url(service) + "/metrics", timeout=2).text
    except requests.RequestException:
        return 0
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith("loudong_events_consumed_total{")
        and 'outcome="applied"' in line
        and f'type="{event_type}' in line
    )


def test_consumers_killed_in_the_middle_of_a_batch_lose_and_double_nothing(deploy, sms_provider):
    """A backlog waits for dispatch and notify, so they take it in batches; each is killed
    (SIGKILL) just after its first batch committed, while it is applying the next ones."""
    # Batches of ten, not fifty: the embedded dispatch could take all 300 before the test,
    # polling from readiness on, saw it busy (1 run in 6 here).
    deployment = deploy(LOUDONG_RATE_LIMIT="10000/second", LOUDONG_CONSUME_BATCH=10)
    deployment.kill("dispatch")
    deployment.kill("notify")
    ids = [
        _submit(
            deployment, {**SUBMISSION, "location": {**SUBMISSION["location"], "building": str(n)}}
        )
        for n in range(300)
    ]
    applied_at_kill = {}
    # dispatch again before notify: its relay feeds notify. Each has one event of the backlog
    # per issue (and others, as the rest of the system answers): counted by that type.
    for name, backlog in (("dispatch", "issue.submitted"), ("notify", "issue.dispatched")):
        deployment.start(name)

        def busy(name=name, backlog=backlog):
            applied_at_kill[name] = _applied(deployment, name, backlog)
            return applied_at_kill[name] > 0

        wait_for(busy, interval=0.005, what=f"{name} busy")
        deployment.kill(name)
        deployment.start(name)

    def told():
        return {
            ref: sum(ref in m["text"] for m in sms_provider.messages) for ref in map(reference, ids)
        }

    wait_for(lambda: all(told().values()), timeout=120, what="every issue told to its unit")
    assert applied_at_kill["dispatch"] < len(ids), "dispatch was done before it was killed"
    assert applied_at_kill["notify"] < len(ids), "notify was done before it was killed"
    assert set(told().values()) == {1}
    for issue_id in ids:
        timeline = [t["type"] for t in _issue(deployment, issue_id)["timeline"]]
        assert timeline.count("issue.dispatched") == 1
