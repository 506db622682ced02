"""How intake shows an issue: to its gateway, in lists (reporter masked), never in logs."""

from __future__ import annotations

from services.intake.model import Issue
from shared.privacy import mask_name, mask_phones


def _iso(value):
    return value.isoformat() if value is not None else None


def issue_view(
    issue: Issue,
    timeline: list[dict] | None = None,
    reporter: dict | None = None,
    masked: bool = True,
) -> dict:
    """`masked=False` only for the gateway that sent the issue: it alone sees the reporter whole
    and the attributes of its own that the category does not ask for (they may hold addresses)."""
    view = {
        "id": issue.id,
        "status": issue.status,
        "channel": issue.channel,
        "title": issue.title,
        "description": issue.description,
        "category": issue.category,
        "tier": issue.tier,
        "external_id": issue.external_id,
        "location": issue.location,
        "media_urls": issue.media_urls,
        "attributes": issue.attributes,
        "assigned_unit": (
            {"id": issue.assigned_unit_id, "name": issue.assigned_unit_name}
            if issue.assigned_unit_id
            else None
        ),
        "escalation_level": issue.escalation_level,
        # co-handling parts (聯辦): each department, where its part stands, its own deadlines
        "parts": [
            {"assignment": int(n), **part}
            for n, part in sorted(issue.parts.items(), key=lambda item: int(item[0]))
        ],
        "deadlines": {"claim": _iso(issue.claim_deadline), "resolve": _iso(issue.resolve_deadline)},
        "status_note": issue.status_note,
        "submitted_at": _iso(issue.submitted_at),
        "updated_at": _iso(issue.updated_at),
    }
    if not masked:
        view["extra_attributes"] = issue.extra_attributes
    if reporter is not None:
        view["reporter"] = _reporter(reporter, masked)
    if timeline is not None:
        view["timeline"] = [
            {"at": _iso(issue.submitted_at), "type": "issue.submitted", "summary": "received"}
        ] + [
            {"at": _iso(t["occurred_at"]), "type": t["type"], "summary": t["summary"]}
            for t in timeline
        ]
    return view


def _reporter(reporter: dict, masked: bool) -> dict:
    if not masked:
        return {k: reporter.get(k) for k in ("name", "phone", "email", "consent")}
    return {
        "name": mask_name(reporter.get("name")),
        "phone": mask_phones(reporter.get("phone") or ""),
        "consent": reporter.get("consent"),
    }
