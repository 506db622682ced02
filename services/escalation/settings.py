"""Escalation's own settings, beyond the common ones (LOUDONG_POLICIES is among those)."""

from __future__ import annotations

from dataclasses import dataclass

from shared import config


@dataclass(frozen=True)
class EscalationSettings:
    sweep_interval: float  # seconds between sweeps when nothing is due

    @classmethod
    def from_env(cls, env: dict) -> EscalationSettings:
        return cls(sweep_interval=config.number(env, "LOUDONG_SWEEP_INTERVAL", 0.25, minimum=0.001))
