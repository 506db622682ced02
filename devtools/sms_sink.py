"""A local SMS provider speaking the generic protocol, for `make run` and the tests.

`POST /messages` {to, text, idempotency_key} answers 201 {message_id}; a repeated key gets
the first message's id and is not counted again, as a well-behaved provider does.
`GET /messages` lists what was accepted, with the time each arrived. `POST /faults`
{"fail_next": N, "status": 503} makes the next N requests fail, {"delay_next": N, "delay": 3}
makes the next N wait that long before answering (a timeout), and {"hold_next": N, "hold": 3}
accepts the next N and only then waits before answering (the caller may die meanwhile).
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class SmsSink:
    def __init__(self, host: str = "127.0.0.1", port: int = 0, journal: str | None = None):
        self.messages: list[dict] = []
        self.requests = 0
        self._by_key: dict[str, str] = {}
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
        self._server = ThreadingHTTPServer((host, port), self._handler())
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
                return 200, {"message_id": self._by_key[key], "duplicate": True}
            message_id = str(uuid.uuid4())
            self._by_key[key] = message_id
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
                elif self.path == "/faults":
                    with sink._lock:
                        sink._faults.update(self._body())
                    self._reply(200, sink._faults)
                else:
                    self._reply(404, {"error": "not found"})

            def do_GET(self):
                if self.path == "/messages":
                    with sink._lock:
                        self._reply(
                            200, {"messages": list(sink.messages), "requests": sink.requests}
                        )
                else:
                    self._reply(404, {"error": "not found"})

        return Handler
