"""Escalation's own settings, beyond the common ones (LOUDONG_POLICIES is among those)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from district.calendar import calendar_path
from shared import config


@dataclass(frozen=True)
class EscalationSettings:
    sweep_interval: float  # seconds between sweeps when nothing is due
    sweepers: int = 2  # sweeper threads on PostgreSQL: one fires while the other waits on it
    calendar_path: Path | None = None  # the operator's holiday calendar; None: the library alone
    link_secret: str | None = None  # the leader's board's session key; None: no board

    @classmethod
    def from_env(cls, env: dict) -> EscalationSettings:
        return cls(
            sweep_interval=config.number(env, "LOUDONG_SWEEP_INTERVAL", 0.25, minimum=0.001),
            sweepers=config.integer(env, "LOUDONG_SWEEPERS", 2, minimum=1),
            calendar_path=calendar_path(env),
            link_secret=config.text(env, "LOUDONG_LINK_SECRET"),
        )
