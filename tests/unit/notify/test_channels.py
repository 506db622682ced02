"""Email over SMTP as the fallback when SMS fails (a real local SMTP server, down then up), and
the signed webhook for units with their own systems."""

import hashlib
import hmac
import json
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests
from aiosmtpd.controller import Controller

from services.notify.loops import send_due
from tests.helpers import FakeClock, build, emitted, event
from tests.unit.notify.test_delivery import DISPATCHED

UNIT = DISPATCHED["unit_id"]
# The property company's front desk has an email address too (deploy/directory.yaml gives none).
WITH_EMAIL = {
    UNIT: {
        "contacts": [
            {"name": "物业前台", "phone": "+8613800000042", "email": "front@baian-xincun.example"}
        ]
    }
}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Inbox:
    def __init__(self):
        self.messages = []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append((envelope.rcpt_tos, envelope.content.decode("utf-8", "replace")))
        return "250 OK"


def test_when_sms_fails_the_email_goes_and_waits_out_an_smtp_server_that_is_down(
    tmp_path, sms_provider, directory_with
):
    clock, port = FakeClock(), _free_port()
    notify = build(
        "notify",
        tmp_path,
        clock,
        LOUDONG_SMS_URL=sms_provider.url,
        LOUDONG_SMTP_HOST="127.0.0.1",
        LOUDONG_SMTP_PORT=port,
        LOUDONG_SMS_MAX_ATTEMPTS=5,
        LOUDONG_SMS_TIMEOUT=2,
        LOUDONG_DIRECTORY=directory_with(WITH_EMAIL),
    )
    requests.post(sms_provider.url + "/faults", json={"fail_next": 1, "status": 400})
    notify.subscriber.apply(
        event("issue.dispatched", "5f0c2a9e-0000-0000-0000-000000000000", DISPATCHED).to_json()
    )

    send_due(notify.store, notify.context)  # SMS refused: the email is planned
    send_due(notify.store, notify.context)  # ...and the SMTP server is down
    inbox = Inbox()
    smtp = Controller(inbox, hostname="127.0.0.1", port=port)
    smtp.start()
    try:
        clock.advance(minutes=5)
        send_due(notify.store, notify.context)
    finally:
        smtp.stop()

    [(to, content)] = inbox.messages
    assert to == ["front@baian-xincun.example"] and "5f0c2a9e" in content
    failed = emitted(notify.store, "notification.failed")
    assert [f.payload["final"] for f in failed] == [
        False
    ]  # escalation waits: the email was still trying
    assert [s.payload["channel"] for s in emitted(notify.store, "notification.sent")] == ["email"]
    notify.store.dispose()


def test_with_no_fallback_left_the_failure_is_final(tmp_path, sms_provider, directory_with):
    notify = build(
        "notify",
        tmp_path,
        FakeClock(),
        LOUDONG_SMS_URL=sms_provider.url,  # no SMTP configured
        LOUDONG_DIRECTORY=directory_with(WITH_EMAIL),
    )
    requests.post(sms_provider.url + "/faults", json={"fail_next": 1, "status": 400})
    notify.subscriber.apply(event("issue.dispatched", "i1", DISPATCHED).to_json())

    send_due(notify.store, notify.context)

    [failed] = emitted(notify.store, "notification.failed")
    assert failed.payload["final"] is True
    notify.store.dispose()


@pytest.fixture
def unit_system():
    """A unit's own system receiving webhooks; it checks nothing, the test does."""
    received = []

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_POST(self):
            received.append(
                (dict(self.headers), self.rfile.read(int(self.headers["Content-Length"])))
            )
            self.send_response(204)
            self.end_headers()

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}/loudong", received
    server.shutdown()


def test_a_unit_with_its_own_system_gets_a_signed_webhook_too(
    tmp_path, sms_provider, unit_system, directory_with
):
    url, received = unit_system
    notify = build(
        "notify",
        tmp_path,
        FakeClock(),
        LOUDONG_SMS_URL=sms_provider.url,
        LOUDONG_WEBHOOK_SECRET="s3cret",
        LOUDONG_DIRECTORY=directory_with({UNIT: {"webhook_url": url}}),
    )
    assert "unit_webhook" not in DISPATCHED  # the webhook is the directory's, like the contacts
    notify.subscriber.apply(event("issue.dispatched", "i1", DISPATCHED).to_json())

    send_due(notify.store, notify.context)

    [(headers, body)] = received
    expected = hmac.new(
        b"s3cret", headers["X-Loudong-Timestamp"].encode() + b"." + body, hashlib.sha256
    ).hexdigest()
    assert headers["X-Loudong-Signature"] == expected
    posted = json.loads(body)
    assert (
        posted["text"].startswith("【楼栋】新派单")
        and headers["Idempotency-Key"] == posted["delivery_id"]
    )
    assert posted["event"]["type"] == "issue.dispatched" and posted["event"]["issue_id"] == "i1"
    assert len(sms_provider.messages) == 1  # and the SMS as well
    notify.store.dispose()


def test_a_delivery_for_a_channel_no_longer_configured_fails_counted_not_stuck(
    tmp_path, sms_provider, directory_with
):
    clock, port, directory = FakeClock(), _free_port(), directory_with(WITH_EMAIL)
    with_smtp = build(
        "notify",
        tmp_path,
        clock,
        LOUDONG_SMS_URL=sms_provider.url,
        LOUDONG_SMTP_HOST="127.0.0.1",
        LOUDONG_SMTP_PORT=port,
        LOUDONG_DIRECTORY=directory,
    )
    requests.post(sms_provider.url + "/faults", json={"fail_next": 1, "status": 400})
    with_smtp.subscriber.apply(event("issue.dispatched", "i1", DISPATCHED).to_json())
    send_due(with_smtp.store, with_smtp.context)  # SMS refused: an email is planned
    with_smtp.store.dispose()
    without = build(
        "notify",
        tmp_path,
        clock,
        LOUDONG_SMS_URL=sms_provider.url,  # restarted without SMTP
        LOUDONG_DIRECTORY=directory,
    )

    send_due(without.store, without.context)

    reasons = [f.payload["reason"] for f in emitted(without.store, "notification.failed")]
    assert reasons == ["http_400", "unknown_channel"]
    without.store.dispose()
