"""What providers push to notify — delivery receipts and units' SMS replies — signed with the
receipt secret (HMAC-SHA256 over timestamp and body). Aliyun's pushes cannot sign: the URL
configured in its console carries the secret instead (`?token=`, over HTTPS). Every refusal is
counted by its reason. Applying them is commands.py's."""

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
MAX_TIMESTAMP_DIGITS = 12  # Unix seconds until the year 33658


def refused(reason: str, error: Exception) -> Exception:
    """`error`, counted as a receipt refused for `reason`: raise refused(...)."""
    metrics.RECEIPTS_REJECTED.labels(reason).inc()
    return error


def admit(
    context: Context,
    provider: str,
    timestamp: str | None,
    signature: str | None,
    body: bytes,
    token: str | None = None,
) -> None:
    """A receipt from a provider notify sends through, signed with the receipt secret. The
    signature is the receipt's credential, so a bad one is the HTTP edge's 401, as for a bad
    bearer token; unconfigured receipts are unavailable (503)."""
    if provider not in {p.name for p in context.channels["sms"].providers}:
        raise refused("unknown_provider", NotFound(f"no provider {provider}"))
    fault = verify(context.settings.receipt_secret, timestamp, signature, body, token)
    if fault is not None:
        status, reason, detail = fault
        raise refused(reason, Problem(status, "Receipt refused", detail))


def admit_reply(
    context: Context,
    provider: str,
    timestamp: str | None,
    signature: str | None,
    body: bytes,
    token: str | None = None,
) -> None:
    """A unit's SMS reply pushed by a provider, with the same credential as receipts."""
    fault = verify(context.settings.receipt_secret, timestamp, signature, body, token)
    if fault is not None:
        status, reason, detail = fault
        metrics.INBOUND.labels(provider, reason).inc()
        raise Problem(status, "Reply refused", detail)


def verify(
    secret: str | None, timestamp: str | None, signature: str | None, body: bytes, token=None
) -> tuple[int, str, str] | None:
    """(HTTP status, reason, detail) of what is wrong with a push's credential; None if good."""
    if not secret:
        return 503, "not_configured", "pushes are not configured (LOUDONG_SMS_RECEIPT_SECRET)"
    if token is not None:
        if hmac.compare_digest(token.encode("utf-8", "surrogateescape"), secret.encode()):
            return None
        return 401, "bad_signature", "the push's token does not verify"
    fault = _signature_fault(secret, timestamp, signature, body)
    return (401, "bad_signature", fault) if fault else None


def _signature_fault(
    secret: str, timestamp: str | None, signature: str | None, body: bytes
) -> str | None:
    """What is wrong with the signature, or None when it verifies."""
    stamp = timestamp or ""
    if not (stamp.isascii() and stamp.isdigit() and len(stamp) <= MAX_TIMESTAMP_DIGITS):
        return "X-Loudong-Timestamp must be Unix seconds"
    skew = abs(time.time() - int(stamp))
    signed = f"{stamp}.".encode() + body
    expected = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    given = (signature or "").encode("utf-8", "surrogateescape")  # headers may hold any bytes
    if skew > MAX_SKEW_SECONDS or not hmac.compare_digest(expected.encode(), given):
        return "the receipt's signature or timestamp does not verify"
    return None
