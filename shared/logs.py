"""Logging that never prints a phone number, whoever formats the message."""
from __future__ import annotations

import logging
import re

_PHONE = re.compile(r"(?<!\d)(\+?86)?1[3-9]\d{9}(?!\d)|\+[1-9]\d{7,14}")


def mask(text: str) -> str:
    return _PHONE.sub(lambda m: m.group(0)[:4] + "****" + m.group(0)[-2:], text)


class PhoneMaskingFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = mask(record.getMessage())
        record.args = ()
        return True


def configure(service: str, level: str = "INFO") -> None:
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter(f"%(asctime)s {service} %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(PhoneMaskingFilter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for chatty in ("alembic", "pika"):
        logging.getLogger(chatty).setLevel(logging.WARNING)
