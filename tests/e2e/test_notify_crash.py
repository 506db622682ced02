"""notify killed (SIGKILL) after the provider accepted an SMS and before it recorded that:
after restart it sends again with the same idempotency key: the resident or unit gets one SMS."""

import requests

from services.notify.model import reference
from tests.helpers import ADMIN, AUTH, SUBMISSION, wait_for


def test_a_crash_between_sending_and_recording_still_makes_one_sms(deploy, sms_provider):
    deployment = deploy(LOUDONG_SMS_TIMEOUT=2)  # the lease: timeout + 5 s
    requests.post(sms_provider.url + "/faults", json={"hold_next": 1, "hold": 4})

    issue_id = requests.post(
        f"{deployment.url('intake')}/v1/issues", headers=AUTH, json=SUBMISSION, timeout=5
    ).json()["id"]
    wait_for(lambda: sms_provider.messages, what="the provider accepting the SMS")
    deployment.kill(
        "notify"
    )  # the provider holds its answer: notify dies before recording the send
    deployment.start("notify")

    sent = f"{deployment.url('notify')}/v1/notifications?issue_id={issue_id}"
    wait_for(
        lambda: (
            [
                n["status"]
                for n in requests.get(sent, headers=ADMIN, timeout=5).json()["notifications"]
            ]
            == ["sent"]
        ),
        timeout=30,
        what="the delivery recorded as sent after the restart",
    )
    assert sms_provider.requests >= 2  # it was sent again...
    assert (
        sum(reference(issue_id) in m["text"] for m in sms_provider.messages) == 1
    )  # ...and reached one phone once
