"""Units act by SMS: the dispatch notice carries a reply code; the unit's reply, through the local
provider's inbound side or in Aliyun's push shape, claims the issue through dispatch's commands,
and the phone that replied is told. A push Aliyun delivers twice is applied once."""

import re
import time
import uuid
from datetime import UTC, datetime

import requests

from tests.helpers import AUTH, SUBMISSION, wait_for

UNIT_PHONE = "+8613800000042"  # 百安新村物业公司, the unit dispatch picks
CLAIM_CODE = re.compile(r"“1 #?(\d+)”")  # 回复“1 37”认领
PUSH_SECRET = "e2e-pushes"  # LOUDONG_SMS_RECEIPT_SECRET: pushes and receipts are signed with it


def _submit(deployment) -> str:
    response = requests.post(
        deployment.url("intake") + "/v1/issues",
        json=SUBMISSION,
        headers={**AUTH, "Idempotency-Key": str(uuid.uuid4())},
        timeout=5,
    )
    assert response.status_code == 201, response.text
    return response.json()["id"]


def _status(deployment, issue_id) -> str:
    url = f"{deployment.url('intake')}/v1/issues/{issue_id}"
    return requests.get(url, headers=AUTH, timeout=5).json()["status"]


def _to_unit(sms_provider) -> list[dict]:
    return [m for m in sms_provider.messages if m["to"] == UNIT_PHONE]


def _reply_code(sms_provider) -> str:
    """The code the unit's dispatch notice tells it to reply with."""
    notice = wait_for(
        lambda: next((m for m in _to_unit(sms_provider) if CLAIM_CODE.search(m["text"])), None),
        timeout=30,
        what="the dispatch SMS with its reply code",
    )
    return CLAIM_CODE.search(notice["text"]).group(1)


def _claimed(deployment, issue_id) -> str:
    return wait_for(
        lambda: _status(deployment, issue_id) == "claimed" and "claimed",
        timeout=30,
        what="the issue claimed by the reply",
    )


def _confirmation(sms_provider, after: int) -> dict:
    return wait_for(
        lambda: next((m for m in _to_unit(sms_provider)[after:] if "已认领" in m["text"]), None),
        timeout=30,
        what="the confirmation SMS to the phone that replied",
    )


def test_a_reply_through_the_local_provider_claims_and_is_confirmed(deploy, sms_provider):
    deployment = deploy(LOUDONG_SMS_RECEIPT_SECRET=PUSH_SECRET)
    sms_provider.forward_inbound_to(deployment.url("notify") + "/v1/inbound/generic", PUSH_SECRET)
    issue_id = _submit(deployment)
    code = _reply_code(sms_provider)
    before = len(_to_unit(sms_provider))

    sent = requests.post(
        sms_provider.url + "/inbound", json={"from": UNIT_PHONE, "text": f"1 {code}"}, timeout=5
    )

    assert sent.status_code < 300, sent.text
    assert _claimed(deployment, issue_id) == "claimed"
    assert _confirmation(sms_provider, before)["to"] == UNIT_PHONE


def test_an_aliyun_push_delivered_twice_is_applied_once(deploy, sms_provider):
    deployment = deploy(LOUDONG_SMS_RECEIPT_SECRET=PUSH_SECRET)
    issue_id = _submit(deployment)
    code = _reply_code(sms_provider)
    before = len(_to_unit(sms_provider))
    push = [
        {
            "phone_number": UNIT_PHONE.removeprefix("+86"),
            "content": f"认领 {code}",
            "send_time": datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S"),
            "dest_code": "1069000",
            "sequence_id": 987654321,
        }
    ]

    url = f"{deployment.url('notify')}/v1/inbound/aliyun?token={PUSH_SECRET}"

    answers = [requests.post(url, json=push, timeout=5) for _ in range(2)]  # Aliyun retried

    assert [a.status_code for a in answers] == [200, 200]
    assert [a.json() for a in answers] == [{"code": 0, "msg": "接收成功"}] * 2
    assert _claimed(deployment, issue_id) == "claimed"
    _confirmation(sms_provider, before)
    timeline = requests.get(
        f"{deployment.url('intake')}/v1/issues/{issue_id}", headers=AUTH, timeout=5
    ).json()["timeline"]
    assert [t["type"] for t in timeline].count("issue.claimed") == 1
    time.sleep(1)  # a second application would answer the phone again ("该件已认领")
    assert len([m for m in _to_unit(sms_provider)[before:] if "认领" in m["text"]]) == 1
