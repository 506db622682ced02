"""The SMS providers as their peers see them: Aliyun's signed SendSms against a local stand-in
that checks the signature, a timeout, a rejected number, and failover from one to the next."""

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl

import pytest
import requests

from services.notify.providers import (
    AliyunSmsProvider,
    Failover,
    GenericSmsProvider,
    PermanentError,
    TransientError,
    aliyun_signature,
)

SECRET = "test-secret"


def test_the_signature_matches_aliyuns_documented_example():
    params = {
        "TimeStamp": "2016-02-23T12:46:24Z",
        "Format": "XML",
        "AccessKeyId": "testid",
        "Action": "DescribeRegions",
        "SignatureMethod": "HMAC-SHA1",
        "SignatureVersion": "1.0",
        "SignatureNonce": "3ee8c1b8-83d3-44af-a94f-4e0ad82fd6cf",
        "Version": "2014-05-26",
    }

    assert aliyun_signature(params, "testsecret", "GET") == "CT9X0VtwR86fNWSnsc6v8YGOjuE="


@pytest.fixture
def aliyun():
    """A stand-in for dysmsapi: checks the signature, answers with the code the test sets."""
    state = {"code": "OK", "calls": []}

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_POST(self):
            params = dict(parse_qsl(self.rfile.read(int(self.headers["Content-Length"])).decode()))
            signature = params.pop("Signature")
            state["calls"].append(params)
            ok = signature == aliyun_signature(params, SECRET)
            code = state["code"] if ok else "SignatureDoesNotMatch"
            body = json.dumps(
                {"Code": code, "Message": code, "BizId": "biz-1" if code == "OK" else None}
            ).encode()
            self.send_response(200 if ok else 400)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    state["url"] = f"http://127.0.0.1:{server.server_port}/"
    yield state
    server.shutdown()


def _aliyun(state, secret=SECRET):
    return AliyunSmsProvider(state["url"], "key-id", secret, "万州区楼栋", "SMS_123", timeout=2)


def test_a_signed_request_with_template_code_and_parameters_is_accepted(aliyun):
    message_id = _aliyun(aliyun).send("+8613800000042", "【楼栋】新派单", "delivery-1")

    [call] = aliyun["calls"]
    assert message_id == "biz-1"
    assert call["PhoneNumbers"] == "13800000042" and call["TemplateCode"] == "SMS_123"
    assert (
        json.loads(call["TemplateParam"]) == {"content": "【楼栋】新派单"}
        and call["OutId"] == "delivery-1"
    )


@pytest.mark.parametrize(
    "code, error, anywhere",
    [
        ("isv.MOBILE_NUMBER_ILLEGAL", PermanentError, True),
        ("isv.AMOUNT_NOT_ENOUGH", PermanentError, False),
        ("isv.BUSINESS_LIMIT_CONTROL", TransientError, None),
        ("isp.SYSTEM_ERROR", TransientError, None),
    ],
)
def test_aliyuns_error_codes_say_whether_to_retry_or_try_elsewhere(aliyun, code, error, anywhere):
    aliyun["code"] = code

    with pytest.raises(error) as raised:
        _aliyun(aliyun).send("+8613800000042", "x", "d-1")

    assert raised.value.reason == code
    if anywhere is not None:
        assert raised.value.anywhere is anywhere


def test_a_wrong_secret_is_refused_by_the_signature_check(aliyun):
    with pytest.raises(PermanentError) as raised:
        _aliyun(aliyun, secret="wrong").send("+8613800000042", "x", "d-1")

    assert raised.value.reason == "SignatureDoesNotMatch"


def test_a_provider_that_does_not_answer_in_time_is_a_transient_failure(sms_provider):
    requests.post(sms_provider.url + "/faults", json={"delay_next": 1, "delay": 2})

    with pytest.raises(TransientError) as raised:
        GenericSmsProvider(sms_provider.url, timeout=0.5).send("+8613800000042", "x", "d-1")

    assert raised.value.reason == "timeout"


def test_when_one_provider_fails_the_next_is_tried(aliyun, sms_provider):
    aliyun["code"] = "isp.SYSTEM_ERROR"
    chain = Failover([_aliyun(aliyun), GenericSmsProvider(sms_provider.url, timeout=2)])

    provider, _message_id = chain.send("+8613800000042", "新派单", "d-1")

    assert provider == "generic" and len(sms_provider.messages) == 1


def test_a_rejected_number_is_not_offered_to_the_next_provider(aliyun, sms_provider):
    aliyun["code"] = "isv.MOBILE_NUMBER_ILLEGAL"
    chain = Failover([_aliyun(aliyun), GenericSmsProvider(sms_provider.url, timeout=2)])

    with pytest.raises(PermanentError):
        chain.send("+8613800000042", "新派单", "d-1")

    assert sms_provider.requests == 0
