"""Who is calling: the gateway behind an API key, its scopes, and its rate limit."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

from services.intake import gateways
from services.intake.model import Issue
from services.intake.rate_limit import KeyRateLimit
from shared.errors import Forbidden
from shared.http import Problem
from shared.tokens import token_hash
from shared.web import unauthorized


@dataclass(frozen=True)
class Principal:
    key_id: str
    gateway: str
    scopes: frozenset

    @property
    def reads_all(self) -> bool:
        return "read:all" in self.scopes

    def may_read(self, issue: Issue) -> bool:
        return self.reads_all or issue.gateway == self.gateway


class Authenticator:
    """Bearer keys checked against the store, remembered briefly so that a busy gateway costs
    one lookup per key every few seconds rather than one per request."""

    def __init__(self, service_store, rate_limit: KeyRateLimit, cache_seconds: float):
        self._store = service_store
        self._cache_seconds = cache_seconds  # a revoked key stops working within this long
        self._cache: dict[str, tuple[float, Principal | None]] = {}
        self._lock = threading.Lock()
        self._rate_limit = rate_limit

    def from_bearer(self, token: str | None) -> Principal:
        """The caller of `Authorization: Bearer <api key>` (shared.web.bearer_token)."""
        if token is None:
            raise _unauthorized("send Authorization: Bearer <api key>")
        return self.from_key(token)

    def from_key(self, key: str) -> Principal:
        principal = self._lookup(key)
        if principal is None:
            raise _unauthorized("the API key is unknown or revoked")
        return principal

    def check_rate(self, principal: Principal) -> None:
        """Per key id, never the key: per replica, or for all (LOUDONG_RATE_LIMIT_STORAGE)."""
        retry_after = self._rate_limit.retry_after(principal.key_id)
        if retry_after is None:
            return
        raise Problem(
            429,
            "Too Many Requests",
            f"this key may make {self._rate_limit.limit} requests",
            headers={"Retry-After": str(retry_after)},
        )

    def _lookup(self, key: str) -> Principal | None:
        now = time.monotonic()  # the cache's own time, not the domain's: it only measures ages
        digest = token_hash(key)
        with self._lock:
            cached = self._cache.get(digest)
        if cached and cached[0] > now:
            return cached[1]
        with self._store.read() as conn:
            record = gateways.find(conn, key)
        principal = Principal(record["id"], record["gateway"], record["scopes"]) if record else None
        with self._lock:
            if len(self._cache) > 10_000:
                self._cache.clear()
            self._cache[digest] = (now + self._cache_seconds, principal)
        return principal


def require_scope(principal: Principal, scope: str) -> None:
    if scope not in principal.scopes:
        raise Forbidden(f"this key lacks the {scope!r} scope")


def _unauthorized(detail: str) -> Problem:
    return unauthorized("loudong", detail)
