"""Units' API tokens: one or more per unit, kept only as hashes (`loudong units token UNIT`)."""
from __future__ import annotations

import hashlib
import secrets

from sqlalchemy import Connection, insert, select

from services.dispatch.store import unit_tokens
from shared.envelope import utcnow


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def issue_token(conn: Connection, unit_id: str) -> str:
    token = "lu_" + secrets.token_urlsafe(32)
    conn.execute(insert(unit_tokens).values(token_hash=_hash(token), unit_id=unit_id, created_at=utcnow()))
    return token


def unit_of(conn: Connection, token: str) -> str | None:
    row = conn.execute(select(unit_tokens.c.unit_id, unit_tokens.c.revoked_at)
                       .where(unit_tokens.c.token_hash == _hash(token))).first()
    return row.unit_id if row and row.revoked_at is None else None
