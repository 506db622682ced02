"""Gateway systems and their API keys: stored only as hashes, scoped, revocable."""

from __future__ import annotations

import secrets
from datetime import datetime

from sqlalchemy import (
    Column,
    Connection,
    MetaData,
    String,
    Table,
    bindparam,
    insert,
    select,
    update,
)

from shared.db import UTCDateTime
from shared.tokens import token_hash

SCOPES = ("submit", "read", "read:all", "feedback")
DEFAULT_SCOPES = ("submit", "read", "feedback")
DEMO_KEY_ID = "demo"

metadata = MetaData()
api_keys = Table(
    "api_keys",
    metadata,
    Column("id", String(16), primary_key=True),
    Column("gateway", String(100), nullable=False),
    Column("key_hash", String(64), nullable=False, unique=True),
    Column("scopes", String(200), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("revoked_at", UTCDateTime),
)


class UnknownScope(ValueError):
    pass


def _checked(scopes) -> str:
    unknown = [s for s in scopes if s not in SCOPES]
    if unknown:
        raise UnknownScope(
            f"unknown scope {', '.join(unknown)}; expected some of {', '.join(SCOPES)}"
        )
    return " ".join(dict.fromkeys(scopes))


def create(conn: Connection, gateway: str, scopes, created_at: datetime) -> tuple[str, str]:
    """A new key for `gateway`: (key id, the key itself, shown this once)."""
    key_id, key = secrets.token_hex(6), "ld_" + secrets.token_urlsafe(32)
    conn.execute(
        insert(api_keys).values(
            id=key_id,
            gateway=gateway,
            key_hash=token_hash(key),
            scopes=_checked(scopes),
            created_at=created_at,
        )
    )
    return key_id, key


def ensure_demo_key(conn: Connection, key: str, now: datetime) -> None:
    """The embedded default's demo gateway, with every scope, using the key it was given."""
    existing = conn.execute(select(api_keys.c.id).where(api_keys.c.id == DEMO_KEY_ID)).first()
    values = {
        "gateway": "demo",
        "key_hash": token_hash(key),
        "scopes": " ".join(SCOPES),
        "revoked_at": None,
    }
    if existing:
        conn.execute(update(api_keys).where(api_keys.c.id == DEMO_KEY_ID).values(**values))
    else:
        conn.execute(insert(api_keys).values(id=DEMO_KEY_ID, created_at=now, **values))


_KEY = select(api_keys).where(api_keys.c.key_hash == bindparam("b_key_hash"))  # every request


def find(conn: Connection, key: str) -> dict | None:
    """The live key record for a presented key, or None (unknown or revoked)."""
    row = conn.execute(_KEY, {"b_key_hash": token_hash(key)}).mappings().first()
    if row is None or row["revoked_at"] is not None:
        return None
    return {"id": row["id"], "gateway": row["gateway"], "scopes": frozenset(row["scopes"].split())}


def listing(conn: Connection) -> list[dict]:
    rows = conn.execute(
        select(
            api_keys.c.id,
            api_keys.c.gateway,
            api_keys.c.scopes,
            api_keys.c.created_at,
            api_keys.c.revoked_at,
        ).order_by(api_keys.c.created_at)
    ).mappings()
    return [dict(r) for r in rows]


def revoke(conn: Connection, key_id: str, revoked_at: datetime) -> bool:
    result = conn.execute(
        update(api_keys)
        .where(api_keys.c.id == key_id, api_keys.c.revoked_at.is_(None))
        .values(revoked_at=revoked_at)
    )
    return result.rowcount == 1
