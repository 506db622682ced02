"""Units' API tokens: one or more per unit, kept only as hashes (`loudong units token UNIT`),
listed and revoked by id (`loudong units tokens list UNIT`, `... revoke TOKEN_ID`). A token's
id is the start of its hash; every request looks the token up, so a revocation stops it at
once on every replica."""

from __future__ import annotations

import secrets

from sqlalchemy import Connection, insert, select, update

from services.dispatch.events import UnitTokenIssued, UnitTokenRevoked
from services.dispatch.store import unit_tokens
from shared.envelope import utcnow
from shared.errors import Conflict, Invalid, NotFound
from shared.outbox import UnitOfWork
from shared.tokens import token_hash

ID_LENGTH = 12  # hex characters of the hash: enough to name one token among a unit's
PREFIX_LENGTH = 7  # "lu_" and four random characters: recognisable, not guessable


def issue_token(uow: UnitOfWork, unit_id: str) -> str:
    """A new token; its hash goes out as unit.token_issued so escalation accepts it too."""
    token, now = "lu_" + secrets.token_urlsafe(32), utcnow()
    hashed = token_hash(token)
    uow.conn.execute(
        insert(unit_tokens).values(
            token_hash=hashed, unit_id=unit_id, prefix=token[:PREFIX_LENGTH], created_at=now
        )
    )
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


def tokens_of(conn: Connection, unit_id: str) -> list[dict]:
    """The unit's tokens, oldest first: id, prefix, created_at, revoked_at."""
    rows = conn.execute(
        select(unit_tokens)
        .where(unit_tokens.c.unit_id == unit_id)
        .order_by(unit_tokens.c.created_at)
    ).mappings()
    return [
        {
            "id": r["token_hash"][:ID_LENGTH],
            "prefix": r["prefix"],
            "created_at": r["created_at"],
            "revoked_at": r["revoked_at"],
        }
        for r in rows
    ]


def revoke_token(uow: UnitOfWork, token_id: str) -> str:
    """Stop the token named by its id (or a longer start of its hash) here at once, and in
    escalation through unit.token_revoked. The unit it belonged to."""
    row = _token(uow.conn, token_id)
    if row.revoked_at is not None:
        raise Conflict(f"token {token_id} was revoked already", "revoked")
    now = utcnow()
    uow.conn.execute(
        update(unit_tokens).where(unit_tokens.c.token_hash == row.token_hash).values(revoked_at=now)
    )
    uow.emit(
        UnitTokenRevoked(
            issue_id=f"unit:{row.unit_id}",
            unit_id=row.unit_id,
            token_hash=row.token_hash,
            revoked_at=now,
        )
    )
    return row.unit_id


def _token(conn: Connection, token_id: str):
    token_id = token_id.strip().lower()
    if len(token_id) < 8 or any(c not in "0123456789abcdef" for c in token_id):
        raise Invalid(f"{token_id!r} is not a token id (hex, at least 8 characters)")
    rows = conn.execute(
        select(unit_tokens.c.token_hash, unit_tokens.c.unit_id, unit_tokens.c.revoked_at)
        .where(unit_tokens.c.token_hash.startswith(token_id, autoescape=True))
        .limit(2)
        .with_for_update()
    ).all()
    if not rows:
        raise NotFound(f"no token {token_id}")
    if len(rows) > 1:
        raise Invalid(f"token id {token_id} names more than one token; give more of it")
    return rows[0]
