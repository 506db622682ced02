"""Deadlines that fall due while escalation is dead (SIGKILL) fire after its restart, each once."""

import time

import requests

from services.notify.model import reference
from tests.helpers import AUTH, SUBMISSION, wait_for

SUPERVISOR_PHONE = "+8613800000032"  # 百安社区居委会, level 1 above the property company


def test_deadlines_due_during_a_crash_each_fire_once_after_restart(
    deploy, fast_policies, sms_provider
):
    deployment = deploy(LOUDONG_POLICIES=fast_policies)
    intake = deployment.url("intake")
    ids = [
        requests.post(
            f"{intake}/v1/issues",
            headers=AUTH,
            timeout=5,
            json={**SUBMISSION, "location": {**SUBMISSION["location"], "building": f"{n}"}},
        ).json()["id"]
        for n in range(8)
    ]
    wait_for(
        lambda: all(
            requests.get(f"{intake}/v1/issues/{i}", headers=AUTH, timeout=5).json()["deadlines"][
                "claim"
            ]
            for i in ids
        ),
        what="every claim clock armed",
    )

    deployment.kill("escalation")
    down_until = time.monotonic() + 3  # every 2-second claim deadline passes while it is dead
    wait_for(lambda: time.monotonic() > down_until, what="the deadlines passing")
    deployment.start("escalation")

    escalations_url = (
        f"{deployment.url('escalation')}/v1/escalations?level=1&reason=claim_overdue&limit=500"
    )
    wait_for(
        lambda: len(requests.get(escalations_url, timeout=5).json()["escalations"]) >= len(ids),
        timeout=30,
        what="every level-1 escalation",
    )
    first_level = [
        e["issue_id"] for e in requests.get(escalations_url, timeout=5).json()["escalations"]
    ]
    assert sorted(first_level) == sorted(ids)

    def told():  # how often the supervisor heard of each issue, alone or bundled with others
        texts = [m["text"] for m in sms_provider.messages if m["to"] == SUPERVISOR_PHONE]
        return [sum(reference(i) in text for text in texts) for i in ids]

    wait_for(lambda: all(told()), timeout=30, what="the supervisor told of every issue")
    assert told() == [1] * len(ids)
