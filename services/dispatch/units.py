"""Units' API tokens: one or more per unit, kept only as hashes (`loudong units token UNIT`)."""

from __future__ import annotations

import secrets

from sqlalchemy import Connection, insert, select

from services.dispatch.events import UnitTokenIssued
from services.dispatch.store import unit_tokens
from shared.envelope import utcnow
from shared.outbox import UnitOfWork
from shared.tokens import token_hash


def issue_token(uow: UnitOfWork, unit_id: str) -> str:
    """A new token; its hash goes out as unit.token_issued so escalation accepts it too."""
    token, now = "lu_" + secrets.token_urlsafe(32), utcnow()
    hashed = token_hash(token)
    uow.conn.execute(insert(unit_tokens).values(token_hash=hashed, unit_id=unit_id, created_at=now))
    uow.emit(
        UnitTokenIssued(
            issue_id=f"unit:{unit_id}", unit_id=unit_id, token_hash=hashed, issued_at=now
        )
    )
    return token


def unit_of(conn: Connection, token: str) -> str | None:
    """The unit a token acts for, or None if it is unknown or revoked."""
    row = conn.execute(
        select(unit_tokens.c.unit_id, unit_tokens.c.revoked_at).where(
            unit_tokens.c.token_hash == token_hash(token)
        )
    ).first()
    return row.unit_id if row and row.revoked_at is None else None
