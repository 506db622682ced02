"""The directory: places, units and categories of one district, read from YAML.

It is reference data, read by several services and written by none. Every reference is
checked at load: an unknown place, unit or category is an error naming the file and the
entry, and the service refuses to start.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import yaml

PLACE_KINDS = ("district", "street", "community", "compound", "building")
TIERS = ("private", "small", "big", "hard")


class DirectoryError(Exception):
    """The directory file is invalid; the message names the file and the entry."""


@dataclass(frozen=True)
class Contact:
    name: str
    phone: str
    email: str | None = None  # where notify falls back when SMS cannot reach them


@dataclass(frozen=True)
class Place:
    id: str
    name: str
    kind: str
    parent: str | None
    centroid: tuple[float, float] | None = None  # (lat, lon), for locating by coordinates


@dataclass(frozen=True)
class Unit:
    id: str
    name: str
    type: str
    covers: tuple[str, ...]
    handles: tuple[str, ...]
    supervisor: str | None
    contacts: tuple[Contact, ...]
    webhook_url: str | None = None  # a unit with its own system is also told by a signed POST


@dataclass(frozen=True)
class Attribute:
    """An extra question a category asks (Open311's service attributes)."""

    code: str
    description: str
    datatype: str
    required: bool = False
    values: tuple[tuple[str, str], ...] = ()  # (key, name) for single/multivaluelist


@dataclass(frozen=True)
class Category:
    id: str
    name: str
    default_tier: str
    description: str = ""
    group: str = ""
    keywords: tuple[str, ...] = ()
    attributes: tuple[Attribute, ...] = ()
    name_en: str = ""  # for pages read in English; the Chinese name where none is given

    def name_in(self, language: str) -> str:
        return self.name_en if language == "en" and self.name_en else self.name


class Directory:
    def __init__(
        self, places: dict[str, Place], units: dict[str, Unit], categories: dict[str, Category]
    ):
        self.places, self.units, self.categories = places, units, categories

    @property
    def district(self) -> str:
        return next(p.id for p in self.places.values() if p.kind == "district")

    @property
    def streets(self) -> tuple[str, ...]:
        return tuple(p.id for p in self.places.values() if p.kind == "street")

    def lineage(self, place_id: str) -> list[str]:
        """The place and its ancestors, most specific first."""
        chain = []
        while place_id is not None:
            chain.append(place_id)
            place_id = self.places[place_id].parent
        return chain

    def units_for(self, place_id: str, category: str) -> list[Unit]:
        """Units that handle `category` somewhere on the place's lineage, nearest first."""
        found = []
        for place in self.lineage(place_id):
            found += [u for u in self.units.values() if place in u.covers and category in u.handles]
        return found

    def supervisor_of(self, unit_id: str) -> Unit | None:
        supervisor = self.units[unit_id].supervisor
        return self.units[supervisor] if supervisor else None

    def chain_above(self, unit_id: str) -> Iterator[Unit]:
        """The units above `unit_id`, nearest first, up to the top of its ladder. The chain
        is checked for loops when the directory is loaded, so this always ends."""
        current = self.units.get(unit_id)
        while current is not None and current.supervisor in self.units:
            current = self.units[current.supervisor]
            yield current

    def is_above(self, unit_id: str, other_id: str) -> bool:
        """`unit_id` supervises `other_id`, directly or further up."""
        return any(u.id == unit_id for u in self.chain_above(other_id))


def load(path: Path) -> Directory:
    try:
        raw = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
        return _build(raw, path)
    except (OSError, yaml.YAMLError) as exc:
        raise DirectoryError(f"{path}: cannot read: {exc}") from None
    except (KeyError, TypeError, AttributeError) as exc:
        raise DirectoryError(
            f"{path}: an entry is malformed ({type(exc).__name__}: {exc})"
        ) from None


def _build(raw: dict, path: Path) -> Directory:
    categories = {cid: _category(cid, c) for cid, c in (raw.get("categories") or {}).items()}
    places = {}
    for entry in raw.get("places") or []:
        centroid = tuple(float(x) for x in entry["centroid"]) if entry.get("centroid") else None
        places[entry["id"]] = Place(
            entry["id"],
            entry.get("name", entry["id"]),
            entry.get("kind", ""),
            entry.get("parent"),
            centroid,
        )
    units = {}
    for entry in raw.get("units") or []:
        contacts = tuple(
            Contact(c.get("name", ""), str(c["phone"]), c.get("email"))
            for c in entry.get("contacts") or []
        )
        units[entry["id"]] = Unit(
            entry["id"],
            entry.get("name", entry["id"]),
            entry.get("type", ""),
            tuple(entry.get("covers") or ()),
            tuple(entry.get("handles") or ()),
            entry.get("supervisor"),
            contacts,
            entry.get("webhook_url"),
        )
    directory = Directory(places, units, categories)
    _check(directory, path)
    return directory


def _category(cid: str, c: dict) -> Category:
    attributes = tuple(
        Attribute(
            a["code"],
            a.get("description", a["code"]),
            a.get("datatype", "string"),
            bool(a.get("required", False)),
            tuple((str(v["key"]), v.get("name", str(v["key"]))) for v in a.get("values") or ()),
        )
        for a in c.get("attributes") or ()
    )
    return Category(
        cid,
        c.get("name", cid),
        c.get("default_tier", "small"),
        c.get("description", ""),
        c.get("group", ""),
        tuple(c.get("keywords") or ()),
        attributes,
        c.get("name_en", ""),
    )


ATTRIBUTE_TYPES = ("string", "number", "datetime", "text", "singlevaluelist", "multivaluelist")


def _check(d: Directory, path: Path) -> None:
    problems = []
    for c in d.categories.values():
        if c.default_tier not in TIERS:
            problems.append(f"category {c.id}: unknown default_tier {c.default_tier!r}")
        for a in c.attributes:
            if a.datatype not in ATTRIBUTE_TYPES:
                problems.append(
                    f"category {c.id}: attribute {a.code}: unknown datatype {a.datatype!r}"
                )
            if a.datatype.endswith("valuelist") and not a.values:
                problems.append(f"category {c.id}: attribute {a.code}: a value list needs values")
    for p in d.places.values():
        if p.kind not in PLACE_KINDS:
            problems.append(f"place {p.id}: unknown kind {p.kind!r}")
        if p.parent is not None and p.parent not in d.places:
            problems.append(f"place {p.id}: unknown parent {p.parent!r}")
    for u in d.units.values():
        problems += [
            f"unit {u.id}: covers unknown place {x!r}" for x in u.covers if x not in d.places
        ]
        problems += [
            f"unit {u.id}: handles unknown category {x!r}"
            for x in u.handles
            if x not in d.categories
        ]
        if u.supervisor is not None and u.supervisor not in d.units:
            problems.append(f"unit {u.id}: unknown supervisor {u.supervisor!r}")
        if not u.contacts:
            problems.append(f"unit {u.id}: has no contacts to notify")
        problems += [
            f"unit {u.id}: contact {c.name}: {c.phone!r} is not an E.164 phone number"
            for c in u.contacts
            if not re.fullmatch(r"\+[1-9]\d{7,14}", c.phone)
        ]
        problems += [
            f"unit {u.id}: contact {c.name}: {c.email!r} is not an email address"
            for c in u.contacts
            if c.email and not re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", c.email)
        ]
        if u.webhook_url and not re.match(r"https?://", u.webhook_url):
            problems.append(f"unit {u.id}: webhook_url must be http or https")
    if sum(p.kind == "district" for p in d.places.values()) != 1:
        problems.append("places: exactly one place of kind district is expected")
    problems += _cycles(d)
    if problems:
        raise DirectoryError(f"{path}: " + "; ".join(problems))


def _cycles(d: Directory) -> list[str]:
    found = []
    for start in d.units:
        seen, current = set(), start
        while current is not None and current in d.units:
            if current in seen:
                found.append(f"unit {start}: supervisor chain loops at {current!r}")
                break
            seen.add(current)
            current = d.units[current].supervisor
    return found
