"""What HTTP asks of notify: an administrator's resend, a provider's delivery receipts, a unit's
SMS reply, and a template preview. Each raises shared.errors; the HTTP edge answers them."""

from __future__ import annotations

from typing import TYPE_CHECKING

from marshmallow import ValidationError

from services.notify import delivery, metrics, model, receipts, replies, store, templates
from services.notify.schemas import EVENT_READERS
from shared.errors import Invalid, NotFound
from shared.outbox import Store, UnitOfWork

if TYPE_CHECKING:
    from services.notify.main import Context


def resend(uow: UnitOfWork, context: Context, delivery_id: str) -> str:
    """A new delivery of the same text to the same address, under a new idempotency key."""
    original = store.get(uow.conn, delivery_id)
    if original is None:
        raise NotFound(f"no delivery {delivery_id}")
    notice = original.resent(store.resends_of(uow.conn, original.recipient_key, original.event_id))
    delivery.plan(uow, context, notice, context.clock())
    uow.on_commit(context.deliveries_planned.set)
    return notice.delivery_id


def record_receipt(uow: UnitOfWork, context: Context, provider: str, receipt: dict) -> bool:
    """Applied once: True if the receipt changed the delivery, False for a duplicate. An
    undelivered message goes out as notification.failed, so escalation can act."""
    now = context.clock()
    sent = store.by_provider_message(uow.conn, provider, receipt["message_id"])
    if sent is None:
        detail = f"no message {receipt['message_id']} sent through {provider}"
        raise receipts.refused("unknown_message", NotFound(detail))
    if sent.receipt_status is not None:
        uow.on_commit(lambda: metrics.RECEIPTS_REJECTED.labels("duplicate").inc())
        return False
    store.save(uow.conn, sent.with_receipt(receipt["status"], now))
    if receipt["status"] == "undelivered" and sent.announced:
        reason = f"undelivered:{receipt.get('error_code') or 'unknown'}"
        uow.emit(sent.failed_event(reason, final=True, now=now))
    seconds = sent.seconds_since_event(now)
    uow.on_commit(
        lambda: (
            metrics.RECEIPTS.labels(provider, receipt["status"]).inc(),
            metrics.RECEIPT_SECONDS.labels(sent.channel).observe(seconds),
        )
    )
    return True


def record_aliyun_receipts(service_store: Store, context: Context, reports: list[dict]) -> int:
    """Aliyun's SmsReport push, each receipt applied as a generic one is (its biz_id is the
    message id SendSms gave); an unknown one is counted, not refused, or Aliyun would push the
    whole batch again. How many changed a delivery."""
    applied = 0
    for report in reports:
        receipt = {
            "message_id": report["biz_id"],
            "status": "delivered" if report["success"] else "undelivered",
            "error_code": report.get("err_code"),
        }
        try:
            with service_store.unit_of_work() as uow:
                applied += record_receipt(uow, context, "aliyun", receipt)
        except NotFound:
            continue  # counted as unknown_message by record_receipt
    return applied


def receive_replies(
    service_store: Store, context: Context, provider: str, messages: list[dict]
) -> list[str]:
    """Units' SMS replies ({message_id, phone, text, received_at}), each applied once, each in
    its own transaction: what became of each."""
    outcomes = []
    for message in messages:
        with service_store.unit_of_work() as uow:
            outcomes.append(replies.receive(uow, context, provider, **message))
    return outcomes


def preview(
    context: Context, event_type: str, issue_id: str, payload: dict | None, language: str | None
) -> dict:
    """A template rendered for an event (its sample payload when none is given), with the SMS
    encoding and parts it takes."""
    try:
        loaded = (
            EVENT_READERS[event_type].load(payload) if payload else templates.SAMPLES[event_type]
        )
        text = context.renderer.render(event_type, model.reference(issue_id), loaded, language)
    except ValidationError as exc:
        errors = {"payload": exc.messages}
        raise Invalid("the payload does not fit the event", errors) from None
    except templates.TemplateError as exc:
        raise Invalid(str(exc)) from None
    encoding, units, parts = templates.sms_parts(text)
    fitted = templates.fit(text, context.settings.max_parts)
    return {
        "text": fitted,
        "encoding": encoding,
        "units": units,
        "parts": parts,
        "shortened": fitted != text,
    }
