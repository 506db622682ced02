"""Delivery receipts from a provider: signed (HMAC-SHA256 over timestamp and body), applied
once; a duplicate changes nothing, an unknown message or a bad signature is a counted rejection.
An undelivered message to a unit goes out as notification.failed, so escalation can act."""

from __future__ import annotations

import hashlib
import hmac
import time

from services.notify import metrics, store
from services.notify.events import NotificationFailed
from shared.outbox import UnitOfWork

MAX_SKEW_SECONDS = 300


class Rejected(Exception):
    def __init__(self, status: int, reason: str, detail: str):
        super().__init__(detail)
        self.status, self.reason = status, reason


def verify(secret: str | None, timestamp: str | None, signature: str | None, body: bytes) -> None:
    if not secret:
        raise Rejected(
            503, "not_configured", "receipts are not configured (LOUDONG_SMS_RECEIPT_SECRET)"
        )
    try:
        skew = abs(time.time() - int(timestamp or ""))
    except ValueError:
        raise Rejected(401, "bad_signature", "X-Loudong-Timestamp must be Unix seconds") from None
    expected = hmac.new(
        secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256
    ).hexdigest()
    if skew > MAX_SKEW_SECONDS or not hmac.compare_digest(expected, signature or ""):
        raise Rejected(401, "bad_signature", "the receipt's signature or timestamp does not verify")


def apply(uow: UnitOfWork, provider: str, receipt: dict, now) -> bool:
    """True if the receipt changed the delivery, False for a duplicate."""
    delivery = store.by_provider_message(uow.conn, provider, receipt["message_id"])
    if delivery is None:
        raise Rejected(
            404, "unknown_message", f"no message {receipt['message_id']} sent through {provider}"
        )
    if delivery["receipt_status"] is not None:
        return False
    store.change(uow.conn, delivery["id"], receipt_status=receipt["status"], receipt_at=now)
    if receipt["status"] == "undelivered":
        uow.emit(
            NotificationFailed(
                issue_id=delivery["issue_id"],
                delivery_id=delivery["id"],
                channel=delivery["channel"],
                recipient_unit_id=delivery["recipient_unit_id"],
                cause_type=delivery["cause_type"],
                reason=f"undelivered:{receipt.get('error_code') or 'unknown'}",
                attempts=delivery["attempts"],
                final=True,
                failed_at=now,
            )
        )
    seconds = (now - (delivery["event_at"] or delivery["created_at"])).total_seconds()
    uow.on_commit(
        lambda: (
            metrics.RECEIPTS.labels(provider, receipt["status"]).inc(),
            metrics.RECEIPT_SECONDS.labels(delivery["channel"]).observe(seconds),
        )
    )
    return True
