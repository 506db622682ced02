"""Credentials kept only as hashes: gateways' API keys in intake, units' tokens in dispatch,
and the same hashes in escalation, which learns them from dispatch's unit.token_issued. The
hash is a contract between services, so it has one implementation."""

from __future__ import annotations

import hashlib


def token_hash(token: str) -> str:
    """SHA-256, hex: tokens are long random strings, so no salt or stretching is needed."""
    return hashlib.sha256(token.encode()).hexdigest()
