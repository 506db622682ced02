"""What intake reads from the environment beyond the settings every service shares."""

from __future__ import annotations

from dataclasses import dataclass

from limits import RateLimitItem, parse

from services.intake.rate_limit import open_storage
from shared import config
from shared.config import ConfigError

DEFAULT_RATE_LIMIT = "100/second"


@dataclass(frozen=True)
class IntakeSettings:
    rate_limit: RateLimitItem  # per API key: per replica, or for all with a shared storage
    rate_limit_storage: str | None  # a `limits` storage URI all replicas share; unset: memory
    key_cache_seconds: float  # a revoked key stops working within this long everywhere
    demo_api_key: str | None  # the embedded default's demo gateway; unset: none

    @classmethod
    def from_env(cls, env: dict) -> IntakeSettings:
        return cls(
            rate_limit=_rate_limit(env, "LOUDONG_RATE_LIMIT"),
            rate_limit_storage=_storage_uri(env, "LOUDONG_RATE_LIMIT_STORAGE"),
            key_cache_seconds=config.number(env, "LOUDONG_KEY_CACHE_SECONDS", 10.0, minimum=0),
            demo_api_key=config.text(env, "LOUDONG_DEMO_API_KEY"),
        )


def _rate_limit(env: dict, name: str) -> RateLimitItem:
    """A rate in `limits` notation, e.g. 100/second or 1000 per hour."""
    raw = config.text(env, name, DEFAULT_RATE_LIMIT)
    try:
        return parse(raw)
    except ValueError:
        raise ConfigError(
            f"{name}={raw!r}: expected a rate in `limits` notation, e.g. {DEFAULT_RATE_LIMIT}"
        ) from None


def _storage_uri(env: dict, name: str) -> str | None:
    """A `limits` storage URI, e.g. redis://127.0.0.1:6379/0, refused at start if malformed.

    Only its form is checked: whether the store answers is the limiter's concern at each request
    (services/intake/rate_limit.py), so that intake starts while Redis is still coming up."""
    raw = config.text(env, name)
    if raw is None:
        return None
    try:
        open_storage(raw)
    except ValueError as exc:
        scheme = raw.split("://", 1)[0]  # not the whole URI: it may carry a password
        raise ConfigError(
            f"{name} ({scheme}://…): {exc}; expected a `limits` storage URI, "
            "e.g. redis://127.0.0.1:6379/0"
        ) from None
    return raw
