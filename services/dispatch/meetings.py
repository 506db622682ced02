"""The building work day (樓棟工作日): a street's meeting, its agenda and its record."""

from __future__ import annotations

import json
import uuid
from datetime import datetime
from zoneinfo import ZoneInfo

from district.directory import TIERS
from services.dispatch import model, store

LOCAL = ZoneInfo("Asia/Shanghai")


def create(conn, context, street: str, held_on, place: str, attending: list[str]) -> str:
    d = context.directory
    problems = {}
    if street not in d.streets:
        problems["street"] = [f"unknown street {street!r}"]
    unknown = [u for u in attending if u not in d.units]
    if unknown:
        problems["attending_units"] = [f"unknown units: {', '.join(unknown)}"]
    if problems:
        raise model.Invalid(problems)
    meeting_id = str(uuid.uuid4())
    store.add_meeting(
        conn,
        id=meeting_id,
        street=street,
        held_on=held_on.isoformat(),
        place=place,
        attending=json.dumps(attending),
        created_at=context.clock(),
    )
    return meeting_id


def _meeting(conn, meeting_id: str) -> dict:
    meeting = store.get_meeting(conn, meeting_id)
    if meeting is None:
        raise model.NotFound(f"no meeting {meeting_id}")
    return meeting


def _item(context, case: dict, now: datetime) -> dict:
    unit = context.directory.units.get(case["lead_unit_id"] or "")
    overdue = (
        case["state"] in ("triage", "arbitration", "dispatched")
        and case["claim_due"]
        and case["claim_due"] < now
    ) or (case["state"] == "claimed" and case["resolve_due"] and case["resolve_due"] < now)
    return {
        "issue_id": case["issue_id"],
        "state": case["state"],
        "category": case["category"],
        "tier": case["tier"],
        "unit": {"id": unit.id, "name": unit.name} if unit else None,
        "escalation_level": case["escalation_level"],
        "overdue": bool(overdue),
        "promised_by": case["promised_by"].isoformat() if case["promised_by"] else None,
        "description": case["description"][:200],
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
            datetime.fromisoformat(item["promised_by"]).astimezone(LOCAL).strftime("%Y-%m-%d %H:%M")
            if item["promised_by"]
            else "—"
        )
        summary = item["description"].replace("|", "/").replace("\n", " ")[:60]
        unit = item["unit"]["name"] if item["unit"] else "待分派"
        lines.append(
            f"| {summary} | {item['category'] or '待分类'} | {unit} | {promised} | {item['state']} |"
        )
    return "\n".join(lines) + "\n"


def _header(meeting: dict) -> dict:
    return {
        "id": meeting["id"],
        "street": meeting["street"],
        "held_on": meeting["held_on"],
        "place": meeting["place"],
        "attending_units": meeting["attending"],
    }
