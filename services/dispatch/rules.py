"""Dispatch's rules, read from deploy/dispatch.yaml and the directory: how an issue is
classified, which tier it is, and which units may lead it. Pure functions, no I/O."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta
from functools import lru_cache
from pathlib import Path

import isodate
import yaml

from district.directory import TIERS, Directory, Unit
from services.dispatch import folding

SMALL_HANDLERS = ("building_group", "property_company")


class RulesError(Exception):
    """The dispatch rules file is invalid; the message names the file and the key."""


@dataclass(frozen=True)
class TierRule:
    when: str
    value: int = 0
    tier_at_least: str | None = None
    raise_by: int = 0


@dataclass(frozen=True)
class Rules:
    max_returns: int
    feedback_within: timedelta
    tier_rules: tuple[TierRule, ...]


CONDITIONS = ("households_affected_at_least", "needs_several_departments", "repeated_complaint")


def load(path: Path) -> Rules:
    try:
        raw = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise RulesError(f"{path}: cannot read: {exc}") from None
    try:
        feedback = isodate.parse_duration(str(raw.get("feedback_within", "P3D")))
    except (isodate.ISO8601Error, ValueError):
        raise RulesError(f"{path}: feedback_within: not an ISO-8601 duration") from None
    if not isinstance(feedback, timedelta) or feedback <= timedelta(0):
        raise RulesError(
            f"{path}: feedback_within: must be a positive duration in days, hours or seconds"
        )
    max_returns = raw.get("max_returns", 2)
    if not isinstance(max_returns, int) or max_returns < 0:
        raise RulesError(f"{path}: max_returns: must be a whole number ≥ 0")
    rules = []
    for i, entry in enumerate(raw.get("tier_rules") or []):
        rule = TierRule(**entry)
        if rule.when not in CONDITIONS:
            raise RulesError(f"{path}: tier_rules[{i}].when: unknown condition {rule.when!r}")
        if rule.tier_at_least is not None and rule.tier_at_least not in TIERS:
            raise RulesError(
                f"{path}: tier_rules[{i}].tier_at_least: unknown tier {rule.tier_at_least!r}"
            )
        rules.append(rule)
    return Rules(max_returns, feedback, tuple(rules))


def classify(directory: Directory, description: str) -> str | None:
    """The category whose keywords the description mentions most (a tie goes to the one listed
    first); None sends it to triage. Both sides are folded alike, so "路燈壞了" finds 路灯."""
    text = folding.fold(description)
    scores = {
        category: sum(_mentions(text, keyword, as_word) for keyword, as_word in keywords)
        for category, keywords in _folded_keywords(directory).items()
    }
    best = max(scores, key=scores.get, default=None)
    return best if best is not None and scores[best] > 0 else None


@lru_cache(maxsize=8)
def _folded_keywords(directory: Directory) -> dict[str, tuple[tuple[str, re.Pattern | None], ...]]:
    """Each category's keywords, folded and compiled once per loaded directory (reference data,
    never changed once loaded), not once per issue."""
    return {
        c.id: tuple((k, _as_word(k)) for k in map(folding.fold, c.keywords) if k.strip())
        for c in directory.categories.values()
    }


def _as_word(keyword: str) -> re.Pattern | None:
    # Chinese is written without spaces, so a Chinese keyword matches anywhere. An English one
    # matches a whole word or its plural: "light" is not in "flight", nor "neighbour" in
    # "neighbourhood", while "sewer" finds "sewers".
    return (
        re.compile(rf"(?<![a-z0-9]){re.escape(keyword)}s?(?![a-z0-9])")
        if keyword.isascii()
        else None
    )


def _mentions(text: str, keyword: str, as_word: re.Pattern | None) -> bool:
    # The plain substring test first: it is cheap and rules out almost every keyword.
    return keyword in text and (as_word is None or as_word.search(text) is not None)


def tier_for(directory: Directory, rules: Rules, category: str, flags: dict) -> str:
    tier = TIERS.index(directory.categories[category].default_tier)
    for rule in rules.tier_rules:
        if _holds(rule, flags):
            if rule.tier_at_least:
                tier = max(tier, TIERS.index(rule.tier_at_least))
            tier = min(len(TIERS) - 1, tier + rule.raise_by)
    return TIERS[tier]


def _holds(rule: TierRule, flags: dict) -> bool:
    if rule.when == "households_affected_at_least":
        return int(flags.get("households_affected") or 0) >= rule.value
    if rule.when == "needs_several_departments":
        return bool(flags.get("needs_several_departments"))
    return bool(flags.get("repeated_complaint"))


def higher(tier: str) -> str:
    return TIERS[min(len(TIERS) - 1, TIERS.index(tier) + 1)]


def _nearest(
    directory: Directory, place_id: str, types: tuple[str, ...], category: str | None
) -> list[Unit]:
    found = []
    for place in directory.lineage(place_id):
        found += [
            u
            for u in directory.units.values()
            if place in u.covers
            and u.type in types
            and (category is None or category in u.handles)
            and u not in found
        ]
    return found


def street_office(directory: Directory, street: str) -> Unit:
    return _nearest(directory, street, ("street_office",), None)[0]


def leader_in_charge(directory: Directory, street: str) -> Unit | None:
    leaders = _nearest(directory, street, ("district_leader",), None)
    return leaders[0] if leaders else None


def lead_candidates(
    directory: Directory, tier: str, category: str, place_id: str, street: str
) -> list[Unit]:
    """Who may lead, best first (梯度上移): private → the community committee, small → the building
    group or property company, then the committee, big → the street office, hard → the district
    department. Each list ends with the street office, which handles every category; returns
    walk down this list."""
    if tier == "private":
        first = _nearest(directory, place_id, ("community_committee",), None)
    elif tier == "small":  # then the community committee, which knows the building
        first = _nearest(directory, place_id, SMALL_HANDLERS, category) + _nearest(
            directory, place_id, ("community_committee",), None
        )
    elif tier == "big":
        first = []
    else:
        first = _nearest(directory, place_id, ("district_department",), category)
    office = street_office(directory, street)
    return [u for u in first if u != office] + [office]


def co_units(directory: Directory, tier: str, category: str, place_id: str) -> list[Unit]:
    """Big matters are handled jointly (聯辦): each district department for the category
    claims a part."""
    if tier != "big":
        return []
    return _nearest(directory, place_id, ("district_department",), category)
