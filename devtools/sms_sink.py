"""A local SMS provider speaking the generic protocol, for `make run` and the tests.

`POST /messages` {to, text, idempotency_key} answers 201 {message_id}; a repeated key gets
the first message's id and is not counted again, as a well-behaved provider does, and the
same key with another recipient or text is refused with 409, as a strict one does.
`GET /messages` lists what was accepted, with the time each arrived. `POST /faults`
{"fail_next": N, "status": 503} makes the next N requests fail, {"delay_next": N, "delay": 3}
makes the next N wait that long before answering (a timeout), and {"hold_next": N, "hold": 3}
accepts the next N and only then waits before answering (the caller may die meanwhile).

The inbound side: `POST /inbound` {from, text} is a reply from a phone, forwarded to notify's
generic inbound webhook (LOUDONG_NOTIFY_INBOUND_URL, which `loudong run` sets) as {message_id,
from, text, received_at}, signed with LOUDONG_SMS_RECEIPT_SECRET if set; answered with notify's
answer. `GET /messages` lists both ways: "messages" sent, "inbound" replies.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import sys
import threading
import time
import uuid
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import requests


class _Server(ThreadingHTTPServer):
    """A client that hung up before its answer (a sender killed mid-request, on purpose in
    the chaos tests) is no error of the provider's: said in nothing, not a traceback."""

    def handle_error(self, request, client_address) -> None:
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class SmsSink:
    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        journal: str | None = None,
        inbound_url: str | None = None,
        secret: str | None = None,
    ):
        self.messages: list[dict] = []
        self.inbound: list[dict] = []
        self.inbound_url = inbound_url or os.environ.get("LOUDONG_NOTIFY_INBOUND_URL")
        self.secret = secret or os.environ.get("LOUDONG_SMS_RECEIPT_SECRET")
        self.requests = 0
        self.conflicts = 0  # keys sent again with another message (refused, as strict ones do)
        self._by_key: dict[str, str] = {}
        self._texts: dict[str, tuple[str, str]] = {}
        self._faults = {
            "fail_next": 0,
            "status": 503,
            "delay_next": 0,
            "delay": 0,
            "hold_next": 0,
            "hold": 0,
        }
        self._lock = threading.Lock()
        # Open as long as the sink runs; closed by stop().
        self._journal = open(journal, "a", encoding="utf-8") if journal else None  # noqa: SIM115
        self._server = _Server((host, port), self._handler())
        self._server.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> SmsSink:
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        self._server.serve_forever()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def forward_inbound_to(self, url: str, secret: str | None = None) -> None:
        """Where replies go from now on (notify's /v1/inbound/generic), and what signs them."""
        self.inbound_url, self.secret = url, secret

    def receive(self, body: dict) -> tuple[int, dict]:
        """A reply from a phone, passed on to notify as the generic provider pushes it."""
        if not isinstance(body.get("from"), str) or not isinstance(body.get("text"), str):
            return 400, {"error": "from and text are required"}
        if not self.inbound_url:
            return 503, {"error": "no LOUDONG_NOTIFY_INBOUND_URL to forward replies to"}
        reply = {
            "message_id": str(uuid.uuid4()),
            "from": body["from"],
            "text": body["text"],
            "received_at": datetime.now(UTC).isoformat(),
        }
        with self._lock:
            self.inbound.append(reply)
        raw = json.dumps(reply, ensure_ascii=False).encode()
        headers = {"Content-Type": "application/json"}
        if self.secret:
            stamp = str(int(time.time()))
            signed = stamp.encode() + b"." + raw
            signature = hmac.new(self.secret.encode(), signed, hashlib.sha256).hexdigest()
            headers |= {"X-Loudong-Timestamp": stamp, "X-Loudong-Signature": signature}
        try:
            answer = requests.post(self.inbound_url, data=raw, headers=headers, timeout=10)
        except requests.RequestException as exc:
            return 502, {"error": f"notify did not answer: {exc}"}
        try:
            return answer.status_code, answer.json()
        except ValueError:
            return answer.status_code, {"error": answer.text[:200]}

    def accept(self, body: dict) -> tuple[int, dict]:
        with self._lock:
            delay = self._faults["delay"] if self._faults["delay_next"] > 0 else 0
            self._faults["delay_next"] = max(0, self._faults["delay_next"] - 1)
        if delay:
            time.sleep(delay)  # the caller has given up by now; a real provider may still send
            return 503, {"error": "too slow"}
        with self._lock:
            self.requests += 1
            if self._faults["fail_next"] > 0:
                self._faults["fail_next"] -= 1
                return self._faults["status"], {"error": "injected fault"}
            if not isinstance(body.get("to"), str) or not isinstance(body.get("text"), str):
                return 400, {"error": "to and text are required"}
            key = body.get("idempotency_key") or str(uuid.uuid4())
            if key in self._by_key:
                first = self._texts[key]
                if (body["to"], body["text"]) != first:  # a strict provider refuses this reuse
                    self.conflicts += 1
                    return 409, {"error": "idempotency key reused for another message"}
                return 200, {"message_id": self._by_key[key], "duplicate": True}
            message_id = str(uuid.uuid4())
            self._by_key[key] = message_id
            self._texts[key] = (body["to"], body["text"])
            record = {
                "message_id": message_id,
                "to": body["to"],
                "text": body["text"],
                "idempotency_key": key,
                "received_at": time.time(),
            }
            self.messages.append(record)
            if self._journal:
                self._journal.write(json.dumps(record, ensure_ascii=False) + "\n")
                self._journal.flush()
            hold = self._faults["hold"] if self._faults["hold_next"] > 0 else 0
            self._faults["hold_next"] = max(0, self._faults["hold_next"] - 1)
        if hold:
            time.sleep(hold)
        return 201, {"message_id": message_id}

    def _handler(self):
        sink = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # The headers and the body leave in two writes; with Nagle's algorithm the body
            # waits for the client's delayed ACK of the headers, 40 ms on Linux, on every
            # message of a kept-alive connection: a provider's stall, not the sender's.
            disable_nagle_algorithm = True

            def log_message(self, *args):  # quiet: the journal is the record
                pass

            def _reply(self, status: int, body) -> None:
                data = json.dumps(body, ensure_ascii=False).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _body(self) -> dict:
                length = int(self.headers.get("Content-Length") or 0)
                try:
                    data = json.loads(self.rfile.read(length) or b"{}")
                except ValueError:
                    return {}
                return data if isinstance(data, dict) else {}

            def do_POST(self):
                if self.path == "/messages":
                    self._reply(*sink.accept(self._body()))
                elif self.path == "/inbound":
                    self._reply(*sink.receive(self._body()))
                elif self.path == "/faults":
                    with sink._lock:
                        sink._faults.update(self._body())
                    self._reply(200, sink._faults)
                else:
                    self._reply(404, {"error": "not found"})

            def do_GET(self):
                if self.path == "/messages":
                    with sink._lock:
                        listed = {
                            "messages": list(sink.messages),
                            "inbound": list(sink.inbound),
                            "requests": sink.requests,
                        }
                    self._reply(200, listed)
                else:
                    self._reply(404, {"error": "not found"})

        return Handler
