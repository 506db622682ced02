"""Logs that follow an issue and never print a phone number, whoever formats the message.

One JSON object a line by default (LOUDONG_LOG_FORMAT=json): time, level, service, logger,
message, and — while a request or an event is being handled — the event type, the issue id,
the correlation id (a gateway's `X-Request-Id`, carried by every event that follows from it, to
the SMS) and the causation id. `loudong run` writes the readable text form for a person at a
terminal (LOUDONG_LOG_FORMAT=text)."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime

from shared.privacy import mask_phones

FORMATS = ("json", "text")
_ABOUT: ContextVar[dict | None] = ContextVar("loudong_log_about", default=None)
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")


@contextmanager
def about(**facts) -> Iterator[None]:
    """What the lines logged inside are about: an event (type, issue, correlation, causation)
    or a request (its correlation id)."""
    token = _ABOUT.set({**(_ABOUT.get() or {}), **{k: v for k, v in facts.items() if v}})
    try:
        yield
    finally:
        _ABOUT.reset(token)


def about_event(envelope):
    return about(
        event_type=envelope.type,
        issue_id=envelope.issue_id,
        correlation_id=envelope.correlation_id,
        causation_id=envelope.id,
    )


def correlation_id() -> str | None:
    """The correlation id of the request or event being handled, if any."""
    return (_ABOUT.get() or {}).get("correlation_id")


def request_id(header: str | None) -> str | None:
    """A gateway's X-Request-Id if it can travel on the bus (1–64 plain characters)."""
    return header if header and _REQUEST_ID.match(header) else None


class PhoneMaskingFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = mask_phones(record.getMessage())
        record.args = ()
        return True


class ConnectionLostFilter(logging.Filter):
    """kombu says "Connection to broker lost" with the whole traceback each time the broker
    goes away, which it does on every restart; the line stays, with the error's own words."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info and record.exc_info[1] is not None:
            record.msg = f"{record.getMessage()} ({record.exc_info[1]!r})"
            record.args, record.exc_info, record.exc_text = (), None, None
        return True


class JsonFormatter(logging.Formatter):
    def __init__(self, service: str):
        super().__init__()
        self._service = service

    def format(self, record: logging.LogRecord) -> str:
        line = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "service": self._service,
            "logger": record.name,
            "message": record.getMessage(),
            **(_ABOUT.get() or {}),
        }
        if record.exc_info:
            line["exception"] = mask_phones(self.formatException(record.exc_info))
        return json.dumps(line, ensure_ascii=False)


def configure(service: str, level: str = "INFO", fmt: str = "json") -> None:
    handler = logging.StreamHandler()
    if fmt == "text":
        handler.setFormatter(
            logging.Formatter(f"%(asctime)s {service} %(levelname)s %(name)s: %(message)s")
        )
    else:
        handler.setFormatter(JsonFormatter(service))
    handler.addFilter(PhoneMaskingFilter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for chatty in ("alembic", "pika"):
        logging.getLogger(chatty).setLevel(logging.WARNING)
    # pika reports one refused connection as six ERROR lines from its adapters; the publisher
    # that asked says it once, as a warning, and tries again (shared.publisher, shared.relay).
    logging.getLogger("pika.adapters").setLevel(logging.CRITICAL)
    logging.getLogger("kombu.mixins").addFilter(ConnectionLostFilter())
