"""Delivery receipts from a provider: signed (HMAC-SHA256 over timestamp and body) by a provider
notify sends through. Every refusal is counted by its reason. Applying one is commands.py's."""

from __future__ import annotations

import hashlib
import hmac
import time
from typing import TYPE_CHECKING

from services.notify import metrics
from shared.errors import NotFound
from shared.http import Problem

if TYPE_CHECKING:
    from services.notify.main import Context

MAX_SKEW_SECONDS = 300


def refused(reason: str, error: Exception) -> Exception:
    """`error`, counted as a receipt refused for `reason`: raise refused(...)."""
    metrics.RECEIPTS_REJECTED.labels(reason).inc()
    return error


def admit(
    context: Context, provider: str, timestamp: str | None, signature: str | None, body: bytes
) -> None:
    """A receipt from a provider notify sends through, signed with the receipt secret. The
    signature is the receipt's credential, so a bad one is the HTTP edge's 401, as for a bad
    bearer token; unconfigured receipts are unavailable (503)."""
    if provider not in {p.name for p in context.channels["sms"].providers}:
        raise refused("unknown_provider", NotFound(f"no provider {provider}"))
    secret = context.settings.receipt_secret
    if not secret:
        detail = "receipts are not configured (LOUDONG_SMS_RECEIPT_SECRET)"
        raise refused("not_configured", Problem(503, "Receipt refused", detail))
    fault = _signature_fault(secret, timestamp, signature, body)
    if fault:
        raise refused("bad_signature", Problem(401, "Receipt refused", fault))


def _signature_fault(
    secret: str, timestamp: str | None, signature: str | None, body: bytes
) -> str | None:
    """What is wrong with the signature, or None when it verifies."""
    try:
        skew = abs(time.time() - int(timestamp or ""))
    except ValueError:
        return "X-Loudong-Timestamp must be Unix seconds"
    signed = f"{timestamp}.".encode() + body
    expected = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    if skew > MAX_SKEW_SECONDS or not hmac.compare_digest(expected, signature or ""):
        return "the receipt's signature or timestamp does not verify"
    return None
