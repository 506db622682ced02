"""What dispatch reads from the environment beyond the settings every service shares."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from shared import config
from shared.config import REPO_ROOT


@dataclass(frozen=True)
class DispatchSettings:
    rules_path: Path  # tier rules, returns before arbitration, time to wait for feedback

    @classmethod
    def from_env(cls, env: dict) -> DispatchSettings:
        return cls(
            rules_path=config.path(
                env, "LOUDONG_DISPATCH_RULES", REPO_ROOT / "deploy" / "dispatch.yaml"
            )
        )
