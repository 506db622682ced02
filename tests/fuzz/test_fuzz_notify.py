"""Notify's API fuzzed from its document: as the administrator for deliveries and resends,
and, for providers' pushes, with the receipt secret (each body signed as a provider signs it,
or the token a provider that cannot sign puts in the URL): no input yields a 5xx, every
answer is one the document declares."""

import hashlib
import hmac
import json
import time

from werkzeug.test import Client

from tests.fuzz.fuzzing import call_and_check, schema_of, service, sized
from tests.helpers import ADMIN, ADMIN_TOKEN

SECRET = "fuzz-receipt-secret-0123456789"
NOTIFY = service("notify", LOUDONG_ADMIN_TOKEN=ADMIN_TOKEN, LOUDONG_SMS_RECEIPT_SECRET=SECRET)
schema = schema_of(NOTIFY)
PUSHES = ("/v1/receipts", "/v1/inbound")


def signature(body: bytes) -> dict:
    """The headers a provider signs its push with (services.notify.receipts.verify)."""
    stamp = str(int(time.time()))
    mac = hmac.new(SECRET.encode(), f"{stamp}.".encode() + body, hashlib.sha256).hexdigest()
    return {"X-Loudong-Timestamp": stamp, "X-Loudong-Signature": mac}


def signed_push(case):
    """The push as a provider sends it: the body serialised here so that the signature is
    over the very bytes sent; where the URL may carry the token, the token instead."""
    kwargs = case.as_transport_kwargs()
    if "json" in kwargs:
        kwargs["data"] = json.dumps(kwargs.pop("json"), ensure_ascii=False).encode()
    query = kwargs.get("query_string") or {}
    if "token" in query:
        query["token"] = SECRET
    elif isinstance(kwargs.get("data"), bytes):
        kwargs["headers"] = {**kwargs.get("headers", {}), **signature(kwargs["data"])}
    return Client(NOTIFY.app).open(**kwargs)


@schema.parametrize()
@sized
def test_notify_answers_every_request_as_documented(case):
    if case.path.startswith(PUSHES):
        call_and_check("notify", case, send=signed_push)
    else:
        call_and_check("notify", case, ADMIN)
