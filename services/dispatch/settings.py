"""What dispatch reads from the environment beyond the settings every service shares."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from shared import config
from shared.config import REPO_ROOT


@dataclass(frozen=True)
class DispatchSettings:
    rules_path: Path  # tier rules, returns before arbitration, time to wait for feedback
    link_secret: str | None  # units' links and page sessions; None: no links, no unit pages
    public_url: str  # where units' phones reach dispatch, for the links it lists
    link_grace: timedelta  # how long a link works after its issue is closed
    desk_refresh: timedelta  # how often a street office's open board reloads its rows

    @classmethod
    def from_env(cls, env: dict) -> DispatchSettings:
        port = config.integer(env, "LOUDONG_DISPATCH_PORT", config.DEFAULT_PORTS["dispatch"])
        return cls(
            rules_path=config.path(
                env, "LOUDONG_DISPATCH_RULES", REPO_ROOT / "deploy" / "dispatch.yaml"
            ),
            link_secret=config.text(env, "LOUDONG_LINK_SECRET"),
            public_url=config.text(env, "LOUDONG_PUBLIC_URL", f"http://127.0.0.1:{port}").rstrip(
                "/"
            ),
            link_grace=config.duration(env, "LOUDONG_LINK_GRACE", "P7D"),
            # at least a second: below that, every open board would ask without pause
            desk_refresh=config.duration(
                env, "LOUDONG_DESK_REFRESH", "PT20S", minimum=timedelta(seconds=1)
            ),
        )
