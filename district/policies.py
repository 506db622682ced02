"""Time-limit policies from YAML, checked at start: a bad file names its key and stops the service.

Per tier, optionally per category: `claim_within` and `resolve_within` (ISO-8601), whether
each counts working or calendar time, and warning points before each deadline. Supervision
(督办): `supervision_within`, and `supervision_escalation` (`to`: `supervisor`, `none` or a
unit's id; `within`; optional `time`), the step taken when supervision runs out.
Two services read the same file: dispatch names a lead's claim deadline by it when it
dispatches, and escalation runs every clock by it (and holds the lead to that deadline)."""

from __future__ import annotations

import dataclasses
import hashlib
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from pathlib import Path

import isodate
import yaml

from district.calendar import Schedule, WorkingCalendar, load_schedule
from district.directory import TIERS

CLOCKS = ("claim", "resolve")
RECIPIENTS = ("unit", "supervisor")
# supervision_escalation.to, besides a unit's id: the leader's supervisor in the directory, or
# nobody (the leader is only warned, as before this step existed)
SUPERVISION_TARGETS = ("supervisor", "none")


class PolicyError(Exception):
    """The policies file is invalid; the message names the file and the key."""


@dataclass(frozen=True)
class WarningPoint:
    at: float  # fraction of the limit, 0 < at < 1
    to: str  # unit or supervisor


@dataclass(frozen=True)
class ClockPolicy:
    within: timedelta
    working: bool
    warnings: tuple[WarningPoint, ...] = ()

    def describe(self) -> dict:
        return {
            "within": str(self.within),
            "time": "working" if self.working else "calendar",
            "warnings": [{"at": w.at, "to": w.to} for w in self.warnings],
        }


@dataclass(frozen=True)
class SupervisionEscalation:
    """Where supervision goes when it runs out: `to` is `supervisor` (the leader's own in the
    directory), `none` (the leader is only warned) or a unit's id; `clock` is the fresh
    deadline that unit gets."""

    to: str = "none"
    clock: ClockPolicy | None = None

    @property
    def enabled(self) -> bool:
        return self.to != "none"

    def describe(self) -> dict:
        return {"to": self.to, **(self.clock.describe() if self.clock else {})}


@dataclass(frozen=True)
class TierPolicy:
    claim: ClockPolicy
    resolve: ClockPolicy

    def limit(self, clock: str) -> ClockPolicy:
        return self.claim if clock == "claim" else self.resolve


@dataclass(frozen=True)
class Policies:
    version: str
    tiers: dict[str, TierPolicy]
    categories: dict[str, dict[str, TierPolicy]]
    supervision: ClockPolicy
    calendar: WorkingCalendar
    supervision_escalation: SupervisionEscalation = SupervisionEscalation()

    def policy_for(self, tier: str, category: str | None = None) -> TierPolicy:
        return self.categories.get(category or "", {}).get(tier) or self.tiers[tier]

    def deadline(self, start: datetime, clock: ClockPolicy, fraction: float = 1.0) -> datetime:
        if clock.working:
            return self.calendar.add(start, clock.within * fraction)
        return start + clock.within * fraction

    def remaining(self, now: datetime, due: datetime, clock: ClockPolicy) -> timedelta:
        """What is left of a clock, in its own measure (kept while paused)."""
        if clock.working:
            return timedelta(seconds=self.calendar.between(now, due))
        return max(due - now, timedelta(0))

    def claim_deadline(self, tier: str, category: str | None, start: datetime) -> datetime:
        """When a lead unit dispatched at `start` must have claimed: dispatch names it in
        issue.dispatched, and escalation holds the unit to it."""
        return self.deadline(start, self.policy_for(tier, category).claim)

    def describe(self) -> dict:
        """The policies in force, as GET /v1/policies shows them."""

        def tier(policy: TierPolicy) -> dict:
            return {"claim": policy.claim.describe(), "resolve": policy.resolve.describe()}

        return {
            "version": self.version,
            "supervision": self.supervision.describe(),
            "supervision_escalation": self.supervision_escalation.describe(),
            "tiers": {t: tier(p) for t, p in self.tiers.items()},
            "categories": {
                c: {t: tier(p) for t, p in tiers.items()} for c, tiers in self.categories.items()
            },
        }


def parse_duration(text, where: str) -> timedelta:
    try:
        value = isodate.parse_duration(str(text))
    except (isodate.ISO8601Error, ValueError) as exc:
        raise PolicyError(f"{where}: {text!r} is not an ISO-8601 duration ({exc})") from None
    if not isinstance(value, timedelta):
        raise PolicyError(f"{where}: {text!r} uses months or years, which have no fixed length")
    if value <= timedelta(0):
        raise PolicyError(f"{where}: {text!r} must be positive")
    return value


def _clock(entry: dict, name: str, where: str, default_working: bool) -> ClockPolicy:
    key = f"{name}_within"
    if key not in entry:
        raise PolicyError(f"{where}.{key}: missing")
    kind = entry.get(
        f"{name}_time", entry.get("time", "working" if default_working else "calendar")
    )
    if kind not in ("working", "calendar"):
        raise PolicyError(f"{where}.{name}_time: {kind!r} is neither working nor calendar")
    warnings = []
    for i, w in enumerate(entry.get(f"{name}_warnings", entry.get("warnings")) or []):
        at, to = w.get("at"), w.get("to", "unit")
        if not isinstance(at, (int, float)) or not 0 < at < 1:
            raise PolicyError(
                f"{where}.warnings[{i}].at: {at!r} must be a fraction between 0 and 1 "
                "(a warning past the deadline is no warning)"
            )
        if to not in RECIPIENTS:
            raise PolicyError(f"{where}.warnings[{i}].to: {to!r} is neither unit nor supervisor")
        warnings.append(WarningPoint(float(at), to))
    return ClockPolicy(
        parse_duration(entry[key], f"{where}.{key}"),
        kind == "working",
        tuple(sorted(warnings, key=lambda w: w.at)),
    )


def _tier(entry, where: str, base: TierPolicy | None = None) -> TierPolicy:
    if not isinstance(entry, dict):
        raise PolicyError(f"{where}: expected claim_within and resolve_within")
    if base is not None:  # a category override only names what differs
        entry = {**_as_entry(base), **entry}
    return TierPolicy(_clock(entry, "claim", where, True), _clock(entry, "resolve", where, True))


def _as_entry(policy: TierPolicy) -> dict:
    out = {}
    for name in CLOCKS:
        c = policy.limit(name)
        out[f"{name}_within"] = isodate.duration_isoformat(c.within)
        out[f"{name}_time"] = "working" if c.working else "calendar"
        out[f"{name}_warnings"] = [{"at": w.at, "to": w.to} for w in c.warnings]
    return out


def _hours(raw, path) -> list[tuple[time, time]]:
    hours = []
    for span in raw or ["09:00-12:00", "14:00-18:00"]:
        try:
            start, end = (time.fromisoformat(x.strip()) for x in str(span).split("-"))
        except ValueError:
            raise PolicyError(f"{path}: working_hours: {span!r} is not HH:MM-HH:MM") from None
        if end <= start:
            raise PolicyError(f"{path}: working_hours: {span!r} ends before it starts")
        hours.append((start, end))
    return hours


def in_force(path: Path, calendar_path: Path | None) -> tuple[Policies, Schedule]:
    """The policies at `path` counting working time by the holiday calendar (the library's,
    and the operator's file at `calendar_path`); a bad file stops the service here."""
    schedule = load_schedule(calendar_path)
    loaded = load(path)
    return dataclasses.replace(loaded, calendar=loaded.calendar.with_workdays(schedule)), schedule


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
            raise PolicyError(
                f"{path}: tiers.{tier}: unknown tier (expected one of {', '.join(TIERS)})"
            )
        tiers[tier] = _tier(entry, f"{path}: tiers.{tier}")
    missing = [t for t in TIERS if t not in tiers]
    if missing:
        raise PolicyError(f"{path}: tiers: no policy for {', '.join(missing)}")
    categories = {}
    for category, entry in (raw.get("categories") or {}).items():
        categories[category] = {
            t: _tier(entry, f"{path}: categories.{category}", base) for t, base in tiers.items()
        }
    supervision_entry = {
        "claim_within": raw.get("supervision_within", "P5D"),
        "time": raw.get("supervision_time", "working"),
    }
    supervision = _clock(supervision_entry, "claim", f"{path}: supervision", True)
    escalation = _supervision_escalation(
        raw.get("supervision_escalation"), raw.get("supervision_time", "working"), path
    )
    calendar = WorkingCalendar(
        raw.get("timezone", "Asia/Shanghai"), _hours(raw.get("working_hours"), path)
    )
    digest = hashlib.sha256(text.encode()).hexdigest()[:8]
    return Policies(
        f"{raw.get('version', 1)}-{digest}", tiers, categories, supervision, calendar, escalation
    )


def _supervision_escalation(raw, default_time: str, path) -> SupervisionEscalation:
    """`supervision_escalation: {to: supervisor|none|<unit id>, within: P3D, time: working}`;
    absent means `to: none`. A unit's id is checked against the directory by check_units."""
    where = f"{path}: supervision_escalation"
    if raw is None:
        return SupervisionEscalation()
    if not isinstance(raw, dict):
        raise PolicyError(f"{where}: expected a mapping with to and within")
    unknown = sorted(set(raw) - {"to", "within", "time"})
    if unknown:
        raise PolicyError(f"{where}.{unknown[0]}: unknown key (expected to, within, time)")
    to = raw.get("to")
    if not isinstance(to, str) or not to.strip():
        raise PolicyError(
            f"{where}.to: {to!r} must be supervisor, none or a unit's id from the directory"
        )
    if to == "none":
        return SupervisionEscalation()
    if "within" not in raw:
        raise PolicyError(f"{where}.within: missing")
    entry = {"claim_within": raw["within"], "time": raw.get("time", default_time)}
    try:
        clock = _clock(entry, "claim", where, True)
    except PolicyError as exc:  # name the keys as the file spells them
        raise PolicyError(
            str(exc).replace(".claim_within", ".within").replace(".claim_time", ".time")
        ) from None
    return SupervisionEscalation(to, clock)


def check_units(loaded: Policies, units, path) -> None:
    """At start, with the directory: a `supervision_escalation.to` naming a unit names one the
    directory knows."""
    to = loaded.supervision_escalation.to
    if to not in SUPERVISION_TARGETS and to not in units:
        raise PolicyError(
            f"{path}: supervision_escalation.to: {to!r} is neither supervisor, none nor a "
            "unit of the directory"
        )


__all__ = [
    "ClockPolicy",
    "Policies",
    "PolicyError",
    "SupervisionEscalation",
    "TierPolicy",
    "WarningPoint",
    "check_units",
    "load",
]
