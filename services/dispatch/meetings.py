"""The building work day (樓棟工作日): a street's meeting, its agenda and its record."""

from __future__ import annotations

import json
import uuid
from datetime import date, datetime

from district.directory import TIERS, Unit
from district.local_time import local
from services.dispatch import model, store
from services.dispatch.model import Case, UnknownReference
from shared.errors import Forbidden, NotFound
from shared.outbox import UnitOfWork


def create(
    uow: UnitOfWork,
    context,
    unit: Unit,
    street: str,
    held_on: date,
    place: str,
    attending_units: list[str],
) -> str:
    """A street's work-day meeting, called by its own street office only."""
    d = context.directory
    if model.office_street(unit, d) != street:
        raise Forbidden(f"only the street office of {street} calls its work day")
    problems = {}
    if street not in d.streets:
        problems["street"] = [f"unknown street {street!r}"]
    unknown = [u for u in attending_units if u not in d.units]
    if unknown:
        problems["attending_units"] = [f"unknown units: {', '.join(unknown)}"]
    if problems:
        raise UnknownReference(problems)
    meeting_id = str(uuid.uuid4())
    store.add_meeting(
        uow.conn,
        id=meeting_id,
        street=street,
        held_on=held_on.isoformat(),
        place=place,
        attending=json.dumps(attending_units),
        created_at=context.clock(),
    )
    return meeting_id


def _meeting(conn, meeting_id: str) -> dict:
    meeting = store.get_meeting(conn, meeting_id)
    if meeting is None:
        raise NotFound(f"no meeting {meeting_id}")
    return meeting


def _item(context, case: Case, now: datetime) -> dict:
    unit = context.directory.units.get(case.lead_unit_id or "")
    return {
        "issue_id": case.issue_id,
        "state": case.state,
        "category": case.category,
        "tier": case.tier,
        "unit": {"id": unit.id, "name": unit.name} if unit else None,
        "escalation_level": case.escalation_level,
        "overdue": case.is_overdue(now),
        "promised_by": case.promised_by.isoformat() if case.promised_by else None,
        "description": case.description[:200],
    }


def agenda(conn, context, meeting_id: str) -> dict:
    """The street's open issues grouped by tier, the overdue and escalated ones first."""
    meeting, now = _meeting(conn, meeting_id), context.clock()
    items = [
        _item(context, c, now)
        for c in store.street_queue(conn, meeting["street"], model.OPEN_CASE_STATES)
    ]
    items.sort(key=lambda i: (not i["overdue"], -i["escalation_level"]))
    by_tier = {tier: [i for i in items if i["tier"] == tier] for tier in (*TIERS, None)}
    return {
        "meeting": _header(meeting),
        "counts": {
            "open": len(items),
            "overdue": sum(i["overdue"] for i in items),
            "escalated": sum(i["escalation_level"] > 0 for i in items),
        },
        "by_tier": {tier or "untriaged": listed for tier, listed in by_tier.items()},
    }


def record(conn, context, meeting_id: str) -> dict:
    """What was raised at the meeting, who took it, what was promised."""
    meeting, now = _meeting(conn, meeting_id), context.clock()
    return {
        "meeting": _header(meeting),
        "raised": [_item(context, c, now) for c in store.raised_at(conn, meeting_id)],
    }


def record_markdown(rec: dict, directory) -> str:
    """The record as the street office files it: a table of what was raised, in Chinese."""
    m = rec["meeting"]
    lines = [
        f"# 樓棟工作日 {m['held_on']} · {directory.places[m['street']].name}",
        "",
        f"地点：{m['place']}  ",
        "参加单位：" + "、".join(directory.units[u].name for u in m["attending_units"]),
        "",
        "| 问题 | 类别 | 承办单位 | 承诺时限 | 状态 |",
        "| --- | --- | --- | --- | --- |",
    ]
    for item in rec["raised"]:
        promised = (
            local(datetime.fromisoformat(item["promised_by"])).strftime("%Y-%m-%d %H:%M")
            if item["promised_by"]
            else "—"
        )
        summary = item["description"].replace("|", "/").replace("\n", " ")[:60]
        unit = item["unit"]["name"] if item["unit"] else "待分派"
        category = item["category"] or "待分类"
        lines.append(f"| {summary} | {category} | {unit} | {promised} | {item['state']} |")
    return "\n".join(lines) + "\n"


def _header(meeting: dict) -> dict:
    return {
        "id": meeting["id"],
        "street": meeting["street"],
        "held_on": meeting["held_on"],
        "place": meeting["place"],
        "attending_units": meeting["attending"],
    }
