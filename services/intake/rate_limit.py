"""Requests per gateway key: in this replica's memory, or in a store every replica shares.

With LOUDONG_RATE_LIMIT_STORAGE unset (the embedded default) each replica, and each web worker,
keeps its own moving window, so N of them together let a key make N times the limit. Naming a
`limits` storage (`redis://127.0.0.1:6379/0`) makes the window one for all of them.
"""

from __future__ import annotations

import logging
import math
import time
import urllib.parse

from limits import RateLimitItem
from limits.errors import ConfigurationError, StorageError
from limits.storage import MemoryStorage, Storage, storage_from_string
from limits.strategies import MovingWindowRateLimiter
from prometheus_client import Counter

log = logging.getLogger(__name__)

NAMESPACE = "loudong:intake"  # Redis keys: loudong:intake:LIMITER/<key id>/<rate>; never the key
SHARED_TIMEOUT = 0.25  # seconds a request may wait on the shared store before it is given up
SHARED_RETRY_AFTER = 5.0  # seconds an unreachable store is left alone before it is tried again

LOCAL_FALLBACKS = Counter(
    "loudong_intake_rate_limit_local_fallbacks_total",
    "Rate-limit checks made in the replica's memory because the shared store was unreachable",
)

_REDIS_SCHEMES = {"redis", "rediss", "valkey", "valkeys"}


def open_storage(uri: str) -> Storage:
    """A synchronous `limits` storage for `uri`; ValueError saying why when it cannot be one.

    Nothing is connected here (redis-py connects on first use): a store that is down at start
    is the same as one that goes down later, see KeyRateLimit."""
    scheme = urllib.parse.urlparse(uri).scheme
    if scheme.startswith("async+"):
        raise ValueError("intake checks limits synchronously; drop the async+ prefix")
    options: dict = {}
    if scheme.split("+")[0] in _REDIS_SCHEMES:
        options = {
            "key_prefix": NAMESPACE,
            "socket_timeout": SHARED_TIMEOUT,
            "socket_connect_timeout": SHARED_TIMEOUT,
        }
    try:
        return storage_from_string(uri, wrap_exceptions=True, **options)
    except ConfigurationError as exc:  # an unknown scheme, or its client library missing
        raise ValueError(str(exc).replace(uri, f"{scheme}://…")) from None  # no password shown


class KeyRateLimit:
    """A moving window of `limit` per gateway key id.

    When the shared store cannot be reached we fail open to this replica's own memory rather
    than answer 503: a gateway relays residents' reports, and losing the rate limit's store
    must not stop them being taken in. The limit still holds per replica (today's guarantee
    without a shared store), a warning is logged once per outage and
    loudong_intake_rate_limit_local_fallbacks_total counts each check made that way. Never 500.
    """

    def __init__(self, limit: RateLimitItem, storage_uri: str | None = None):
        self.limit = limit
        self._shared = MovingWindowRateLimiter(open_storage(storage_uri)) if storage_uri else None
        self._local = MovingWindowRateLimiter(MemoryStorage())
        self._shared_down_until = 0.0  # time.monotonic() before which the shared store is skipped

    def retry_after(self, key_id: str) -> int | None:
        """Count one request of `key_id`: None when allowed, else seconds until the next one is."""
        if self._shared is not None and time.monotonic() >= self._shared_down_until:
            try:
                verdict = _verdict(self._shared, self.limit, key_id)
            except StorageError as exc:
                self._shared_unreachable(exc)
            else:
                if self._shared_down_until:
                    self._shared_down_until = 0.0
                    log.warning("rate-limit store reachable again; limits shared across replicas")
                return verdict
        if self._shared is not None:
            LOCAL_FALLBACKS.inc()
        return _verdict(self._local, self.limit, key_id)

    def _shared_unreachable(self, exc: StorageError) -> None:
        if not self._shared_down_until:
            log.warning(
                "rate-limit store unreachable (%s); limiting per replica until it answers",
                type(exc.storage_error).__name__,  # not the message: it may carry the URI
            )
        self._shared_down_until = time.monotonic() + SHARED_RETRY_AFTER


def _verdict(limiter: MovingWindowRateLimiter, limit: RateLimitItem, key_id: str) -> int | None:
    if limiter.hit(limit, key_id):
        return None
    reset_at, _remaining = limiter.get_window_stats(limit, key_id)
    return max(1, math.ceil(reset_at - time.time()))  # `limits` counts in time.time
