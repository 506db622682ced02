"""Time-limit policies from YAML, checked at start: a bad file names its key and stops the service."""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import isodate
import yaml

from shared.directory import TIERS

CLOCKS = ("claim", "resolve")


class PolicyError(Exception):
    """The policies file is invalid; the message names the file and the key."""


@dataclass(frozen=True)
class TierPolicy:
    claim_within: timedelta
    resolve_within: timedelta

    def limit(self, clock: str) -> timedelta:
        return self.claim_within if clock == "claim" else self.resolve_within


@dataclass(frozen=True)
class Policies:
    version: str
    tiers: dict[str, TierPolicy]


def parse_duration(text: str, where: str) -> timedelta:
    try:
        value = isodate.parse_duration(str(text))
    except (isodate.ISO8601Error, ValueError) as exc:
        raise PolicyError(f"{where}: {text!r} is not an ISO-8601 duration ({exc})") from None
    if not isinstance(value, timedelta):
        raise PolicyError(f"{where}: {text!r} uses months or years, which have no fixed length")
    if value <= timedelta(0):
        raise PolicyError(f"{where}: {text!r} must be positive")
    return value


def load(path: Path) -> Policies:
    try:
        text = Path(path).read_text(encoding="utf-8")
        raw = yaml.safe_load(text) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise PolicyError(f"{path}: cannot read: {exc}") from None
    tiers_raw = raw.get("tiers")
    if not isinstance(tiers_raw, dict) or not tiers_raw:
        raise PolicyError(f"{path}: tiers: missing")
    tiers = {}
    for tier, entry in tiers_raw.items():
        if tier not in TIERS:
            raise PolicyError(f"{path}: tiers.{tier}: unknown tier (expected one of {', '.join(TIERS)})")
        if not isinstance(entry, dict):
            raise PolicyError(f"{path}: tiers.{tier}: expected claim_within and resolve_within")
        limits = {}
        for clock in CLOCKS:
            key = f"{clock}_within"
            if key not in entry:
                raise PolicyError(f"{path}: tiers.{tier}.{key}: missing")
            limits[key] = parse_duration(entry[key], f"{path}: tiers.{tier}.{key}")
        tiers[tier] = TierPolicy(**limits)
    missing = [t for t in TIERS if t not in tiers]
    if missing:
        raise PolicyError(f"{path}: tiers: no policy for {', '.join(missing)}")
    digest = hashlib.sha256(text.encode()).hexdigest()[:8]
    return Policies(version=f"{raw.get('version', 1)}-{digest}", tiers=tiers)
