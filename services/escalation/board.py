"""What the district leader's supervision board shows, read from escalation's own tables: the
issues under supervision (督办) of the leader's streets, each with its clocks, the ladder it
climbed and why, and the extensions made. Words come from board_texts through `text`."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import Connection

from district.directory import Directory, Unit
from district.links import reference
from district.local_time import local
from services.escalation import ladder, store
from services.escalation.model import RUNNING, Clock
from shared.pages import deadline, language, moment, text

CLOCK_ORDER = ("claim", "resolve", "supervision")
SHOWN_DUE = (*RUNNING, "exhausted")  # states whose deadline still means something


def streets_of(directory: Directory, leader: Unit) -> tuple[str, ...]:
    """The streets a leader is in charge of: those it covers itself, and those of the street
    offices it supervises."""
    own = [p for p in leader.covers if _is_street(directory, p)]
    offices = [
        street
        for unit in directory.units.values()
        if unit.type == "street_office" and unit.supervisor == leader.id
        for street in unit.covers
    ]
    return tuple(dict.fromkeys(own + offices))


def on_board(directory: Directory, leader: Unit, supervision: Clock) -> bool:
    """The leader holds this supervision, or it is on one of the leader's streets."""
    return supervision.unit_id == leader.id or supervision.street in streets_of(directory, leader)


def issues(conn: Connection, directory: Directory, leader: Unit, now: datetime) -> list[dict]:
    """The leader's supervised issues, overdue first, then by the supervision deadline."""
    supervised = store.supervised(conn, leader.id, streets_of(directory, leader))
    ids = [c.issue_id for c in supervised]
    if not ids:
        return []
    summaries = store.summaries(conn, ids)
    clocks, steps, extensions = (
        _by_issue(store.clocks_of(conn, ids), lambda c: c.issue_id),
        _by_issue(store.escalations_of(conn, ids), lambda s: s["issue_id"]),
        _by_issue(store.extensions_of(conn, ids), lambda e: e["issue_id"]),
    )
    shown = [
        _issue(directory, c, summaries.get(c.issue_id), clocks, steps, extensions, now)
        for c in supervised
    ]
    return sorted(shown, key=lambda i: (not i["overdue"], i["supervision_due"]))


def _issue(d: Directory, supervision: Clock, summary, clocks, steps, extensions, now) -> dict:
    issue_id = supervision.issue_id
    own = sorted(clocks.get(issue_id, []), key=lambda c: CLOCK_ORDER.index(c.name))
    shown_clocks = [_clock(d, c, now) for c in own if c.name in CLOCK_ORDER]
    return {
        "issue_id": issue_id,
        "ref": reference(issue_id),
        "tier": text(f"tier_{supervision.tier}"),
        "category": _category(d, supervision, summary),
        "place": _place(d, summary) if summary else "",
        "description": summary["description"] if summary else text("no_summary"),
        "clocks": shown_clocks,
        "ladder": [_step(d, s) for s in steps.get(issue_id, [])],
        "extensions": [_extension(d, e) for e in extensions.get(issue_id, [])],
        "extendable": [
            (c.name, text(f"clock_{c.name}")) for c in reversed(own) if c.state in _EXTENDABLE
        ],  # supervision first: the leader's own deadline is the one it most often moves
        "escalatable": _escalatable(d, own),
        "overdue": any(c["deadline"] and c["deadline"]["overdue"] for c in shown_clocks),
        "supervision_due": supervision.due_at,
        # what the extension form offers: a day after the supervision deadline, or from now
        "suggested_until": _form_moment(max(supervision.due_at, now) + timedelta(days=1)),
    }


_EXTENDABLE = ("armed", "overdue")  # commands.extend refuses a paused clock


def _escalatable(d: Directory, own: list[Clock]) -> bool:
    """The clock commands.escalate would move (claim, else resolve) runs and has a rung above."""
    running = [c for c in own if c.name in ("claim", "resolve") and c.running]
    return bool(running) and ladder.unit_above(d, running[0].unit_id) is not None


def _clock(d: Directory, clock: Clock, now: datetime) -> dict:
    running = clock.state in SHOWN_DUE
    return {
        "name": clock.name,
        "label": text(f"clock_{clock.name}"),
        "unit": _unit_name(d, clock.unit_id),
        "level": clock.level,
        "state": clock.state,
        "state_text": text(f"clock_state_{clock.state}"),
        "deadline": deadline(local(clock.due_at), now) if running else None,
    }


def _step(d: Directory, step: dict) -> dict:
    """A ladder step as the shared timeline macro shows it."""
    return {
        "kind": "escalated",
        "photos": (),
        "what": text(
            "ladder_step",
            level=step["level"],
            source=_unit_name(d, step["from_unit_id"]),
            target=_unit_name(d, step["to_unit_id"]),
        ),
        "text": text(f"reason_{step['reason']}"),
        "at": moment(local(step["fired_at"])),
    }


def _extension(d: Directory, extension: dict) -> dict:
    return {
        "kind": "extended",
        "photos": (),
        "what": text(
            "extension_step",
            unit=_unit_name(d, extension["by_unit_id"]),
            clock=text(f"clock_{extension['clock']}"),
            old=moment(local(extension["from_due"])),
            new=moment(local(extension["to_due"])),
        ),
        "text": extension["reason"],
        "at": moment(local(extension["at"])),
    }


def _category(d: Directory, clock: Clock, summary: dict | None) -> str:
    category = (summary or {}).get("category") or clock.category
    if category in d.categories:
        return d.categories[category].name_in(language())
    return (summary or {}).get("category_name") or category or ""


def _place(d: Directory, summary: dict) -> str:
    """Street to compound as the directory names them, then the building the resident said."""
    place_id, building = summary["place_id"], summary["building"]
    if place_id not in d.places:
        names = [summary["place_name"] or ""]
    else:
        names = [d.places[p].name for p in reversed(d.lineage(place_id)) if d.places[p].parent]
    if building and building not in d.places:
        names.append(text("building", building=building))
    return " › ".join(n for n in names if n)


def _form_moment(at: datetime) -> str:
    """A moment as a browser's date-time field holds it: Beijing wall-clock time."""
    return f"{local(at):%Y-%m-%dT%H:%M}"


def _unit_name(d: Directory, unit_id: str) -> str:
    return d.units[unit_id].name if unit_id in d.units else unit_id


def _is_street(d: Directory, place_id: str) -> bool:
    return place_id in d.places and d.places[place_id].kind == "street"


def _by_issue(rows, key) -> dict[str, list]:
    grouped: dict[str, list] = {}
    for row in rows:
        grouped.setdefault(key(row), []).append(row)
    return grouped
