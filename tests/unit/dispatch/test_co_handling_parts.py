"""A co-handling department's part runs on its own clocks (escalation's claim@N / resolve@N):
the department's page and inbox show its own deadline, and the lead's page lists the parts
with where each stands and its deadline."""

from __future__ import annotations

from datetime import timedelta

from district.local_time import local
from tests.helpers import emitted, event
from tests.unit.dispatch.test_unit_pages import opened


def _big_issue(submit, dispatch):
    issue_id = submit(
        category="urban_management", location={"street": "wuqiao", "community": "lianhua"}
    )
    sent = [e.payload for e in emitted(dispatch.store, "issue.dispatched")]
    lead = next(p for p in sent if p["role"] == "lead")
    part = next(p for p in sent if p["role"] == "co")
    return issue_id, lead, part


def _armed(dispatch, issue_id, clock, assignment, due):
    payload = {"clock": clock, "assignment": assignment, "level": 0, "due_at": due.isoformat()}
    dispatch.subscriber.apply(
        event("issue.clock_armed", issue_id, payload, producer="escalation").to_json()
    )


def test_a_part_shows_its_own_deadline_and_the_lead_sees_every_part(dispatch, submit, clock, phone):
    issue_id, lead, part = _big_issue(submit, dispatch)
    lead_due, part_due = clock.now + timedelta(hours=4), clock.now + timedelta(hours=2)
    _armed(dispatch, issue_id, "claim", lead["assignment"], lead_due)
    _armed(dispatch, issue_id, f"claim@{part['assignment']}", part["assignment"], part_due)

    department = opened(phone, dispatch, issue_id, part["unit_id"]).get_data(as_text=True)
    lead_phone = dispatch.app.test_client()
    lead_phone.environ_base["HTTP_ACCEPT_LANGUAGE"] = "zh-CN"
    leads = opened(lead_phone, dispatch, issue_id, lead["unit_id"]).get_data(as_text=True)

    part_time, lead_time = f"{local(part_due):%H:%M}", f"{local(lead_due):%H:%M}"
    assert part_time in department and lead_time not in department
    assert "协办部门（联办）" in leads and part_time in leads and lead_time in leads
