"""Units act by answering their SMS: the reply code each (unit, assignment) is given, the facts a
unit's notice carries (code, link, claim deadline), and what becomes of a reply received —
unit.replied for dispatch when a contact of the code's unit sent it, an SMS back saying what
went wrong otherwise, and dispatch's answer (unit.reply_applied) passed on to the phone."""

from __future__ import annotations

import logging
import uuid
from datetime import datetime
from typing import TYPE_CHECKING

from district.links import SUPERVISION, link_code
from services.notify import delivery, metrics, model, store
from services.notify.events import UnitReplied
from services.notify.model import STRANGER, Notice, Recipient, ReplyCode
from shared.envelope import Envelope
from shared.outbox import UnitOfWork

if TYPE_CHECKING:
    from services.notify.main import Context

log = logging.getLogger(__name__)
_INBOUND_NAMESPACE = uuid.UUID("3b8f5f0e-8c1d-4d8e-a7a2-52c1f6f0d7b4")
_warned_no_secret = []
MAX_CODE_ATTEMPTS = 20


def code_for(conn, unit_id: str, issue_id: str, assignment: int, now: datetime) -> int:
    """The unit's reply code for this assignment: the one it has, else the lowest number free
    among its open codes. The unit's codes for earlier assignments of the issue close.

    On PostgreSQL the number is taken in a short transaction of its own, committed at once,
    as a sequence hands out its values. Taken in the event's transaction, it kept the number
    locked until that whole batch committed, and another replica numbering the same busy
    unit waited on it for every notice (6 ms a dispatch at saturation, two replicas). An
    event rolled back and applied again finds its code; one never applied leaves its code
    open until the assignment ends. SQLite has one writer: there it is the caller's."""
    known = store.reply_code(conn, unit_id, issue_id, assignment)
    if known is not None:
        return known.code
    store.close_codes(conn, issue_id, now, unit_id=unit_id, below=assignment)
    if conn.dialect.name != "postgresql":
        return _numbered(conn, unit_id, issue_id, assignment, now)
    with conn.engine.connect() as own:
        number = _numbered(own, unit_id, issue_id, assignment, now)
        own.commit()
    return number


def _numbered(conn, unit_id: str, issue_id: str, assignment: int, now: datetime) -> int:
    for _attempt in range(MAX_CODE_ATTEMPTS):
        code = ReplyCode(unit_id, store.lowest_free_code(conn, unit_id), issue_id, assignment, now)
        # Another replica numbering the same unit may take this number first: the insert
        # then waits for its (short) transaction and, once it committed, does nothing; this
        # one asks again at once (the next statement sees what committed).
        if store.add_code_unless_taken(conn, code):
            return code.code
        known = store.reply_code(conn, unit_id, issue_id, assignment)
        if known is not None:  # a twin of this very notice numbered it
            return known.code
    raise RuntimeError(f"no free reply code for {unit_id} after {MAX_CODE_ATTEMPTS} tries")


def link_for(context: Context, issue_id: str, unit_id: str, assignment: int | None) -> str | None:
    """`<LOUDONG_PUBLIC_URL>/u/<code>`; None without LOUDONG_LINK_SECRET (said once)."""
    secret = context.settings.link_secret
    if not secret or assignment is None:
        if not secret and not _warned_no_secret:
            _warned_no_secret.append(True)
            log.warning("LOUDONG_LINK_SECRET is not set: units' SMS carry no link")
        return None
    return f"{context.settings.public_url}/u/{link_code(secret, issue_id, unit_id, assignment)}"


def notice_facts(conn, context: Context, event: Envelope, deadline: datetime | None = None) -> dict:
    """A unit event's payload with what notify adds: the link, the reply code, and for a
    dispatch the claim deadline if escalation has armed it (`deadline`, when the caller has
    just stored it). A unit told of an escalation or a warning on an issue it does not hold
    (a supervisor) gets a supervision code and link."""
    p, issue_id, now = event.payload, event.issue_id, context.clock()
    if event.type in ("issue.dispatched", "issue.urged"):
        unit_id, assignment = p["unit_id"], p["assignment"]
        code = code_for(conn, unit_id, issue_id, assignment, now)
        link = link_for(context, issue_id, unit_id, assignment)
        facts = {**p, "code": code, "link": link}
        if event.type == "issue.urged":  # the supervisor's words are what an SMS may shorten
            return {**facts, "description": p["note"]}
        deadline = deadline or store.claim_deadline(conn, issue_id, assignment)
        return {**facts, "deadline": deadline}
    unit_id = p["to_unit_id"]
    held = [c for c in store.codes_of(conn, [unit_id], issue_id) if c.is_open]
    own = max(held, key=lambda c: c.assignment, default=None)
    assignment = own.assignment if own and own.assignment != SUPERVISION else SUPERVISION
    code = own.code if own else code_for(conn, unit_id, issue_id, SUPERVISION, now)
    return {
        **p,
        "code": code,
        "link": link_for(context, issue_id, unit_id, assignment),
        "supervising": assignment == SUPERVISION,
    }


def inbound_id(provider: str, message_id: str) -> str:
    """Stable per (provider, message): a redelivered push is recognised."""
    return str(uuid.uuid5(_INBOUND_NAMESPACE, f"{provider}|{message_id}"))


def receive(
    uow: UnitOfWork,
    context: Context,
    provider: str,
    message_id: str,
    phone: str,
    text: str,
    received_at: datetime | None,
) -> str:
    """What became of one SMS reply: accepted (unit.replied goes to dispatch), duplicate, or
    refused — then the sender is told why by SMS, and nothing else changes."""
    conn, now = uow.conn, context.clock()
    if store.inbound_exists(conn, provider, message_id):
        uow.on_commit(lambda: metrics.INBOUND.labels(provider, "duplicate").inc())
        return "duplicate"
    reached = model.units_reached_at(context.directory.units, phone)
    reply = model.parse_reply(text)
    codes = store.codes_of(conn, reached) if reached else []
    code, outcome = _understood(reached, reply, codes)
    unit_id = code.unit_id if code else next(iter(reached), STRANGER)
    answer_to = reached.get(unit_id, phone)
    the_id = inbound_id(provider, message_id)
    store.add_inbound(
        conn,
        id=the_id,
        provider=provider,
        message_id=message_id,
        phone=answer_to,
        text=text,
        received_at=received_at or now,
        outcome=outcome,
        unit_id=None if unit_id == STRANGER else unit_id,
        issue_id=code.issue_id if code else None,
        assignment=code.assignment if code else None,
        action=reply.action if reply else None,
    )
    if code is not None:
        uow.emit(
            UnitReplied(code.issue_id, code.assignment, unit_id, reply.action, reply.text, the_id)
        )
    else:
        open_codes = sorted(c.code for c in codes if c.is_open)
        facts = {"reason": outcome, "code": reply.code if reply else None, "codes": open_codes}
        text = context.renderer.render("reply.refused", "", facts)
        answer(
            uow, context, Notice(the_id, "reply.refused", "", _to(unit_id, the_id, answer_to), text)
        )
    uow.on_commit(lambda: metrics.INBOUND.labels(provider, outcome).inc())
    return outcome


def _understood(reached: dict, reply, codes: list[ReplyCode]) -> tuple[ReplyCode | None, str]:
    if not reached:
        return None, "unknown_number"
    if reply is None:
        return None, "malformed"
    return model.answered_code(reply, codes)


def on_reply_applied(uow: UnitOfWork, event: Envelope, context: Context) -> None:
    """Dispatch applied or refused a reply: the phone that sent it is told which, and why."""
    p, now = event.payload, context.clock()
    received = store.inbound(uow.conn, p["inbound_id"])
    if received is None:
        log.warning("unit.reply_applied %s names no reply notify received", event.id)
        return
    store.answer_inbound(uow.conn, received["id"], "applied" if p["accepted"] else "refused", now)
    facts = {"accepted": p["accepted"], "detail": p["detail"]}
    text = context.renderer.render(event.type, model.reference(event.issue_id), facts)
    recipient = _to(p["unit_id"], received["id"], received["phone"])
    answer(uow, context, Notice(event.id, event.type, event.issue_id, recipient, text, now))


def _to(unit_id: str, the_id: str, phone: str) -> Recipient:
    return Recipient(unit_id, f"reply:{the_id}", phone, "sms")


def answer(uow: UnitOfWork, context: Context, notice: Notice) -> None:
    """An SMS back to the phone that replied, sent at once (no quiet hours for an answer)."""
    delivery.plan(uow, context, notice, context.clock())
    uow.on_commit(context.deliveries_planned.set)
