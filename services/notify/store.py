"""Notify's own tables: exactly one delivery per (event, recipient, channel); the reply codes
units answer with; the SMS replies received; claim deadlines and the notices held for them."""

from __future__ import annotations

from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy import Connection, bindparam, delete, func, insert, select, update

from services.notify.model import Delivery, ReplyCode
from shared.db import UTCDateTime, insert_once

metadata = sa.MetaData()
deliveries = sa.Table(
    "deliveries",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("event_id", sa.String(36), nullable=False),
    sa.Column("cause_type", sa.String(64), nullable=False),
    sa.Column("issue_id", sa.String(36), nullable=False, index=True),
    sa.Column("recipient_key", sa.String(100), nullable=False),
    sa.Column("recipient_unit_id", sa.String(64), nullable=False),
    sa.Column("channel", sa.String(16), nullable=False),
    sa.Column("address", sa.String(320), nullable=False),
    sa.Column("text", sa.Text, nullable=False),
    sa.Column("status", sa.String(16), nullable=False),  # pending, sent, failed
    sa.Column("attempts", sa.Integer, nullable=False),
    sa.Column("next_attempt_at", UTCDateTime, nullable=False),
    sa.Column("provider", sa.String(32)),
    sa.Column("provider_message_id", sa.String(128)),
    sa.Column("last_error", sa.String(200)),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("finished_at", UTCDateTime),
    sa.Column("receipt_status", sa.String(16)),
    sa.Column("fallback_address", sa.String(320)),
    sa.Column("event_at", UTCDateTime),  # when the event behind it happened: latency starts there
    sa.Column("receipt_at", UTCDateTime),
    # the message it went in, pinned before the hand-over (its own id when it went alone)
    sa.Column("message_key", sa.String(36), index=True),
    sa.UniqueConstraint("event_id", "recipient_key", "channel", name="uq_delivery"),
)
messages = sa.Table(  # a bundle of several deliveries as it was handed to a provider
    "messages",
    metadata,
    sa.Column("key", sa.String(36), primary_key=True),
    sa.Column("channel", sa.String(16), nullable=False),
    sa.Column("address", sa.String(320), nullable=False),
    sa.Column("text", sa.Text, nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
)
sa.Index(
    "ix_deliveries_pending",
    deliveries.c.next_attempt_at,
    postgresql_where=deliveries.c.status == "pending",
    sqlite_where=deliveries.c.status == "pending",
)

reply_codes = sa.Table(
    "reply_codes",
    metadata,
    sa.Column("unit_id", sa.String(64), primary_key=True),
    sa.Column("issue_id", sa.String(36), primary_key=True),
    sa.Column("assignment", sa.Integer, primary_key=True),
    sa.Column("code", sa.Integer, nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("closed_at", UTCDateTime),
)
# Two replicas numbering one unit's notices at once cannot both take a number: one retries.
sa.Index(
    "uq_reply_codes_open",
    reply_codes.c.unit_id,
    reply_codes.c.code,
    unique=True,
    postgresql_where=reply_codes.c.closed_at.is_(None),
    sqlite_where=reply_codes.c.closed_at.is_(None),
)
sa.Index("ix_deliveries_address_created", deliveries.c.address, deliveries.c.created_at)
inbound_messages = sa.Table(
    "inbound_messages",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("provider", sa.String(32), nullable=False),
    sa.Column("message_id", sa.String(128), nullable=False),  # the provider's; once each
    sa.Column("phone", sa.String(32), nullable=False),  # answered there, whatever the outcome
    sa.Column("text", sa.Text, nullable=False),
    sa.Column("received_at", UTCDateTime, nullable=False),
    sa.Column("outcome", sa.String(32), nullable=False),
    sa.Column("unit_id", sa.String(64)),
    sa.Column("issue_id", sa.String(36)),
    sa.Column("assignment", sa.Integer),
    sa.Column("action", sa.String(16)),
    sa.Column("answered_at", UTCDateTime),  # when dispatch's answer came back
    sa.UniqueConstraint("provider", "message_id", name="uq_inbound_message"),
)
claim_deadlines = sa.Table(
    "claim_deadlines",
    metadata,
    sa.Column("issue_id", sa.String(36), primary_key=True),
    sa.Column("assignment", sa.Integer, primary_key=True),
    sa.Column("due_at", UTCDateTime, nullable=False),
)
held_notices = sa.Table(
    "held_notices",
    metadata,
    sa.Column("event_id", sa.String(36), primary_key=True),
    sa.Column("issue_id", sa.String(36), nullable=False),
    sa.Column("assignment", sa.Integer, nullable=False),
    sa.Column("event", sa.Text, nullable=False),  # the dispatch event, to render it again
    sa.Column("held_until", UTCDateTime, nullable=False),
    sa.Index("ix_held_notices_assignment", "issue_id", "assignment"),
)


# Every notice plans, every message is recorded: these are built once, values at execute
# time (built per call they were a seventh of notify's Python under load).
_DELIVERY_EXISTS = select(deliveries.c.id).where(deliveries.c.id == bindparam("b_id"))
_ADD_DELIVERY = insert(deliveries)
_SAVE_DELIVERY = update(deliveries).where(deliveries.c.id == bindparam("b_id"))


def exists(conn: Connection, delivery_id: str) -> bool:
    return conn.execute(_DELIVERY_EXISTS, {"b_id": delivery_id}).first() is not None


def add(conn: Connection, delivery: Delivery) -> None:
    conn.execute(_ADD_DELIVERY, delivery.as_row())


def save(conn: Connection, delivery: Delivery) -> None:
    """What an attempt or a receipt changed; a delivery's identity and text never change."""
    changed = {name: getattr(delivery, name) for name in _CHANGING}
    conn.execute(_SAVE_DELIVERY, {**changed, "b_id": delivery.id})


_CHANGING = (
    "status",
    "attempts",
    "next_attempt_at",
    "provider",
    "provider_message_id",
    "last_error",
    "finished_at",
    "receipt_status",
    "receipt_at",
)


_LEASE_DUE = (  # the sender asks it after every notice: built once
    select(deliveries)
    .where(deliveries.c.status == "pending", deliveries.c.next_attempt_at <= bindparam("b_now"))
    .order_by(deliveries.c.next_attempt_at, deliveries.c.created_at)
    .limit(bindparam("b_limit"))
    .with_for_update(skip_locked=True)
)


def lease_due(conn: Connection, now: datetime, lease: timedelta, limit: int) -> list[Delivery]:
    """Pending deliveries whose time has come, pushed `lease` into the future so that no other
    sender takes them while this one is talking to the provider. Ties go in the order they were
    planned: deliveries leased together and taken again after a crash are bundled as before, so
    each message keeps its idempotency key."""
    rows = conn.execute(_LEASE_DUE, {"b_now": now, "b_limit": limit}).mappings()
    due = [Delivery(**r) for r in rows]
    if due:
        conn.execute(
            update(deliveries)
            .where(deliveries.c.id.in_([d.id for d in due]))
            .values(next_attempt_at=now + lease)
        )
    return [d.leased(now, lease) for d in due]


def pin_alone(conn: Connection, delivery_ids: list[str]) -> None:
    """Deliveries going alone: each message is the delivery itself, under its own id."""
    if delivery_ids:
        conn.execute(
            update(deliveries)
            .where(deliveries.c.id.in_(delivery_ids))
            .values(message_key=deliveries.c.id)
        )


def pin_bundle(conn: Connection, key: str, members: list[str], text: str, first, now) -> None:
    """A bundle written down with its text before any provider sees it."""
    if conn.execute(select(messages.c.key).where(messages.c.key == key)).first() is None:
        conn.execute(
            insert(messages).values(
                key=key, channel=first.channel, address=first.address, text=text, created_at=now
            )
        )
    conn.execute(update(deliveries).where(deliveries.c.id.in_(members)).values(message_key=key))


def bundle_text(conn: Connection, key: str) -> str | None:
    row = conn.execute(select(messages.c.text).where(messages.c.key == key)).first()
    return row.text if row else None


def pending_in_message(
    conn: Connection, key: str, now: datetime, lease: timedelta
) -> list[Delivery]:
    """The message's deliveries still pending, leased together (whatever their own next
    attempt), in the order they were planned."""
    members = _deliveries(
        conn,
        select(deliveries)
        .where(deliveries.c.message_key == key, deliveries.c.status == "pending")
        .order_by(deliveries.c.created_at, deliveries.c.id)
        .with_for_update(),
    )
    if members:
        conn.execute(
            update(deliveries)
            .where(deliveries.c.id.in_([d.id for d in members]))
            .values(next_attempt_at=now + lease)
        )
    return [d.leased(now, lease) for d in members]


def get(conn: Connection, delivery_id: str) -> Delivery | None:
    return _delivery(conn, select(deliveries).where(deliveries.c.id == delivery_id))


_PENDING_LOCKED = (  # asked for every message the sender records: built once
    select(deliveries)
    .where(deliveries.c.id == bindparam("b_id"), deliveries.c.status == "pending")
    .with_for_update()
)


def get_pending(conn: Connection, delivery_id: str) -> Delivery | None:
    """The delivery, locked, if no sender has finished it yet."""
    row = conn.execute(_PENDING_LOCKED, {"b_id": delivery_id}).mappings().first()
    return Delivery(**row) if row else None


def by_provider_message(conn: Connection, provider: str, message_id: str) -> Delivery | None:
    return _delivery(
        conn,
        select(deliveries)
        .where(deliveries.c.provider == provider, deliveries.c.provider_message_id == message_id)
        .with_for_update(),
    )


def for_issue(conn: Connection, issue_id: str) -> list[Delivery]:
    return _deliveries(
        conn,
        select(deliveries)
        .where(deliveries.c.issue_id == issue_id)
        .order_by(deliveries.c.created_at),
    )


_NTH_LATEST_TO = (
    select(deliveries.c.created_at)
    .where(
        deliveries.c.address == bindparam("b_address"),
        deliveries.c.created_at > bindparam("b_since"),
    )
    .order_by(deliveries.c.created_at.desc())
    .offset(bindparam("b_skip"))
    .limit(1)
)


def nth_latest_to(conn: Connection, address: str, since: datetime, n: int) -> datetime | None:
    """When the n-th latest delivery to one address within the window was planned; None if
    fewer than n were. One row comes back; the index is walked for at most n entries (the
    window's, when fewer), so a limit of thousands costs that many on a busy address."""
    return conn.execute(
        _NTH_LATEST_TO, {"b_address": address, "b_since": since, "b_skip": n - 1}
    ).scalar()


def resends_of(conn: Connection, recipient_key: str, event_id: str) -> int:
    return conn.execute(
        select(func.count())
        .select_from(deliveries)
        .where(
            deliveries.c.event_id == event_id,
            deliveries.c.recipient_key.like(f"{recipient_key}#resend%"),
        )
    ).scalar_one()


def _delivery(conn: Connection, query) -> Delivery | None:
    row = conn.execute(query).mappings().first()
    return Delivery(**row) if row else None


def _deliveries(conn: Connection, query, values: dict | None = None) -> list[Delivery]:
    return [Delivery(**row) for row in conn.execute(query, values).mappings()]


_HELD_SINCE_PLANNED = (
    select(deliveries)
    .where(
        deliveries.c.event_id == bindparam("b_event_id"),
        deliveries.c.status == "pending",
        deliveries.c.attempts == 0,
        deliveries.c.message_key.is_(None),  # handed over already: it stays as it went
    )
    .with_for_update()
)
_RELEASE = (
    update(deliveries)
    .where(deliveries.c.id == bindparam("b_id"))
    .values(
        text=bindparam("b_text"),
        next_attempt_at=sa.case(
            (
                deliveries.c.next_attempt_at <= bindparam("b_held_until"),
                bindparam("b_now", type_=UTCDateTime()),
            ),
            else_=deliveries.c.next_attempt_at,
        ),
    )
)


def held_since_planned(conn: Connection, event_id: str) -> list[Delivery]:
    """An event's deliveries no sender has tried yet."""
    return _deliveries(conn, _HELD_SINCE_PLANNED, {"b_event_id": event_id})


def release(conn: Connection, delivery_id: str, text: str, now: datetime, held_until) -> None:
    """A held delivery with its final text, due now unless a rate limit holds it longer."""
    conn.execute(
        _RELEASE, {"b_id": delivery_id, "b_text": text, "b_now": now, "b_held_until": held_until}
    )


# --- reply codes


# Every unit's notice numbers its reply code: these are built once, values at execute time.
_REPLY_CODE = select(reply_codes).where(
    reply_codes.c.unit_id == bindparam("b_unit_id"),
    reply_codes.c.issue_id == bindparam("b_issue_id"),
    reply_codes.c.assignment == bindparam("b_assignment"),
)

# Numbered in code order, the unit's open codes run 1, 2, 3… up to the first free number:
# the first whose number is not its place is that place; with no gap, one past the last.
# One scan of the partial index of open codes, in the database, whatever the statistics say.
_numbered = (
    select(reply_codes.c.code, func.row_number().over(order_by=reply_codes.c.code).label("nth"))
    .where(reply_codes.c.unit_id == bindparam("b_unit_id"), reply_codes.c.closed_at.is_(None))
    .subquery()
)
_LOWEST_FREE_CODE = select(
    func.coalesce(
        func.min(sa.case((_numbered.c.code != _numbered.c.nth, _numbered.c.nth))),
        func.count() + 1,
    )
)


def reply_code(conn: Connection, unit_id: str, issue_id: str, assignment: int) -> ReplyCode | None:
    row = (
        conn.execute(
            _REPLY_CODE, {"b_unit_id": unit_id, "b_issue_id": issue_id, "b_assignment": assignment}
        )
        .mappings()
        .first()
    )
    return ReplyCode(**row) if row else None


def codes_of(conn: Connection, unit_ids, issue_id: str | None = None) -> list[ReplyCode]:
    """The units' codes, open and closed, optionally for one issue; latest first."""
    query = select(reply_codes).where(reply_codes.c.unit_id.in_(list(unit_ids)))
    if issue_id is not None:
        query = query.where(reply_codes.c.issue_id == issue_id)
    query = query.order_by(reply_codes.c.created_at.desc(), reply_codes.c.assignment.desc())
    return [ReplyCode(**row) for row in conn.execute(query).mappings()]


def lowest_free_code(conn: Connection, unit_id: str) -> int:
    """1, 2, 3…: the lowest number none of the unit's open codes holds. Asked of the
    database: a property company may have hundreds of open codes, and reading them all to
    number each notice made notify's cost grow with them."""
    return conn.execute(_LOWEST_FREE_CODE, {"b_unit_id": unit_id}).scalar_one()


def add_code_unless_taken(conn: Connection, code: ReplyCode) -> bool:
    """The code added; False when its number is open for the unit already, or the unit has
    a code for the assignment (committed by another transaction, which this one waited for)."""
    return insert_once(conn, reply_codes, dict(code.__dict__))


def _close_codes(of_unit: bool, below: bool):
    query = update(reply_codes).where(
        reply_codes.c.issue_id == bindparam("b_issue_id"), reply_codes.c.closed_at.is_(None)
    )
    if of_unit:
        query = query.where(reply_codes.c.unit_id == bindparam("b_unit_id"))
    if below:
        query = query.where(reply_codes.c.assignment < bindparam("b_below"))
    return query.values(closed_at=bindparam("b_now"))


# (one unit's?, below an assignment?): every dispatch notice closes the unit's earlier codes
_CLOSE_CODES = {(u, b): _close_codes(u, b) for u in (False, True) for b in (False, True)}


def close_codes(
    conn: Connection, issue_id: str, now: datetime, unit_id=None, below: int | None = None
) -> None:
    """An issue's open codes closed: all, one unit's, or one unit's earlier assignments'."""
    conn.execute(
        _CLOSE_CODES[unit_id is not None, below is not None],
        {"b_issue_id": issue_id, "b_now": now, "b_unit_id": unit_id, "b_below": below},
    )


def latest_assignment(conn: Connection, issue_id: str) -> int | None:
    """The issue's last assignment notify has numbered a code for."""
    return conn.execute(
        select(func.max(reply_codes.c.assignment)).where(reply_codes.c.issue_id == issue_id)
    ).scalar_one()


# --- inbound SMS


def inbound_exists(conn: Connection, provider: str, message_id: str) -> bool:
    found = conn.execute(
        select(inbound_messages.c.id).where(
            inbound_messages.c.provider == provider, inbound_messages.c.message_id == message_id
        )
    ).first()
    return found is not None


def add_inbound(conn: Connection, **row) -> None:
    conn.execute(insert(inbound_messages).values(**row))


def inbound(conn: Connection, inbound_id: str) -> dict | None:
    query = select(inbound_messages).where(inbound_messages.c.id == inbound_id).with_for_update()
    row = conn.execute(query).mappings().first()
    return dict(row) if row else None


def answer_inbound(conn: Connection, inbound_id: str, outcome: str, now: datetime) -> None:
    conn.execute(
        update(inbound_messages)
        .where(inbound_messages.c.id == inbound_id)
        .values(outcome=outcome, answered_at=now)
    )


# --- claim deadlines and the notices held for them


_CLAIM_DEADLINE = select(claim_deadlines.c.due_at).where(  # asked of every notice: built once
    claim_deadlines.c.issue_id == bindparam("b_issue_id"),
    claim_deadlines.c.assignment == bindparam("b_assignment"),
)


def claim_deadline(conn: Connection, issue_id: str, assignment: int) -> datetime | None:
    return conn.execute(
        _CLAIM_DEADLINE, {"b_issue_id": issue_id, "b_assignment": assignment}
    ).scalar_one_or_none()


def add_claim_deadline(conn: Connection, issue_id: str, assignment: int, due_at) -> bool:
    """The first claim deadline of an assignment (the unit's own, before any escalation)."""
    row = {"issue_id": issue_id, "assignment": assignment, "due_at": due_at}
    return insert_once(conn, claim_deadlines, row)


_LOCK_CLAIM_DEADLINE = sa.text("SELECT pg_advisory_xact_lock(hashtextextended(:key, 0))")


def lock_claim_deadline(conn: Connection, issue_id: str, assignment: int) -> None:
    """One transaction at a time per assignment between "hold the dispatch notice for its
    deadline" and "the deadline came: release what is held": two consumers taking the two
    events at once would otherwise each miss the other, and the notice wait its whole hold.
    PostgreSQL: a transaction-scoped advisory lock; SQLite's writers are one at a time anyway."""
    if conn.dialect.name == "postgresql":
        conn.execute(
            _LOCK_CLAIM_DEADLINE, {"key": f"notify-claim-deadline:{issue_id}:{assignment}"}
        )


_HOLD = insert(held_notices)
_HELD_FOR = (
    held_notices.c.issue_id == bindparam("b_issue_id"),
    held_notices.c.assignment == bindparam("b_assignment"),
)
_TAKE_HELD = delete(held_notices).where(*_HELD_FOR).returning(*held_notices.c)


def hold(conn: Connection, event_id: str, issue_id: str, assignment: int, event: str, until):
    conn.execute(
        _HOLD,
        {
            "event_id": event_id,
            "issue_id": issue_id,
            "assignment": assignment,
            "event": event,
            "held_until": until,
        },
    )


def drop_held(conn: Connection, issue_id: str, below: int | None = None) -> None:
    """Held notices of assignments that ended (or of an issue closed): no deadline will come
    for them, and a notice held past its wait has gone without one already."""
    where = [held_notices.c.issue_id == issue_id]
    if below is not None:
        where.append(held_notices.c.assignment < below)
    conn.execute(delete(held_notices).where(*where))


def take_held(conn: Connection, issue_id: str, assignment: int) -> list[dict]:
    """The notices held for this assignment's deadline, no longer held."""
    held_for = {"b_issue_id": issue_id, "b_assignment": assignment}
    return [dict(r) for r in conn.execute(_TAKE_HELD, held_for).mappings()]
