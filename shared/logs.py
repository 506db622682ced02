"""Logging that never prints a phone number, whoever formats the message."""

from __future__ import annotations

import logging

from shared.privacy import mask_phones


class PhoneMaskingFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = mask_phones(record.getMessage())
        record.args = ()
        return True


def configure(service: str, level: str = "INFO") -> None:
    handler = logging.StreamHandler()
    handler.setFormatter(
        logging.Formatter(f"%(asctime)s {service} %(levelname)s %(name)s: %(message)s")
    )
    handler.addFilter(PhoneMaskingFilter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for chatty in ("alembic", "pika"):
        logging.getLogger(chatty).setLevel(logging.WARNING)
