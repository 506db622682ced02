"""What intake reads from the environment beyond the settings every service shares."""

from __future__ import annotations

from dataclasses import dataclass

from limits import RateLimitItem, parse

from shared import config
from shared.config import ConfigError

DEFAULT_RATE_LIMIT = "100/second"


@dataclass(frozen=True)
class IntakeSettings:
    rate_limit: RateLimitItem  # per API key and per replica
    key_cache_seconds: float  # a revoked key stops working within this long everywhere
    demo_api_key: str | None  # the embedded default's demo gateway; unset: none

    @classmethod
    def from_env(cls, env: dict) -> IntakeSettings:
        return cls(
            rate_limit=_rate_limit(env, "LOUDONG_RATE_LIMIT"),
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
