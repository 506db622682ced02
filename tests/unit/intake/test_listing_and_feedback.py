"""Listing with filters and cursors; the resident's feedback once the issue is resolved."""

from tests.helpers import AUTH, SUBMISSION, emitted, event


def _submit(client, **changes):
    return client.post("/v1/issues", headers=AUTH, json={**SUBMISSION, **changes}).json["id"]


def test_pages_through_every_issue_newest_first_with_reporters_masked(intake):
    client = intake.app.test_client()
    ids = [_submit(client) for _ in range(5)]

    first = client.get("/v1/issues?limit=2", headers=AUTH).json
    second = client.get(f"/v1/issues?limit=2&cursor={first['next_cursor']}", headers=AUTH).json
    third = client.get(f"/v1/issues?limit=2&cursor={second['next_cursor']}", headers=AUTH).json

    listed = [i["id"] for page in (first, second, third) for i in page["issues"]]
    assert listed == list(reversed(ids))
    assert third["next_cursor"] is None
    assert first["issues"][0]["reporter"] == {
        "name": "张*",
        "phone": "+861****00",
        "consent": False,
    }


def test_filters_by_street_and_category(intake):
    client = intake.app.test_client()
    wuqiao = _submit(
        client, category="urban_management", location={"street": "wuqiao", "community": "lianhua"}
    )
    _submit(client)

    by_street = client.get("/v1/issues?street=wuqiao", headers=AUTH).json["issues"]
    by_category = client.get("/v1/issues?category=urban_management", headers=AUTH).json["issues"]

    assert [i["id"] for i in by_street] == [wuqiao] == [i["id"] for i in by_category]


def test_a_bad_filter_or_cursor_is_400_naming_it(intake):
    client = intake.app.test_client()

    bad_status = client.get("/v1/issues?status=lost", headers=AUTH)
    bad_cursor = client.get("/v1/issues?cursor=zzz", headers=AUTH)

    assert bad_status.status_code == 400 and "status" in bad_status.json["errors"]
    assert bad_cursor.status_code == 400 and "cursor" in bad_cursor.json["errors"]


def _resolved(intake, client):
    issue_id = _submit(client)
    intake.subscriber.apply(
        event(
            "issue.resolved", issue_id, {"unit_id": "baian-xincun-property", "resolution": "已疏通"}
        ).to_json()
    )
    return issue_id


def test_feedback_on_a_resolved_issue_is_recorded_and_published(intake):
    client = intake.app.test_client()
    issue_id = _resolved(intake, client)

    response = client.post(
        f"/v1/issues/{issue_id}/feedback",
        headers=AUTH,
        json={"satisfied": False, "rating": 2, "comment": "还是有味道"},
    )

    assert response.status_code == 201
    [given] = emitted(intake.store, "issue.feedback_given")
    assert given.payload["satisfied"] is False and given.payload["rating"] == 2
    assert "comment" not in given.payload  # the resident's words stay in intake
    shown = client.get(f"/v1/issues/{issue_id}", headers=AUTH).json
    assert shown["status_note"] == "已疏通"
    assert shown["timeline"][-1]["type"] == "issue.feedback_given"


def test_feedback_before_resolution_is_409_and_bad_feedback_422(intake):
    client = intake.app.test_client()
    open_issue = _submit(client)
    resolved = _resolved(intake, client)

    early = client.post(
        f"/v1/issues/{open_issue}/feedback", headers=AUTH, json={"satisfied": True, "rating": 5}
    )
    bad = client.post(
        f"/v1/issues/{resolved}/feedback", headers=AUTH, json={"satisfied": "yes", "rating": 9}
    )

    assert early.status_code == 409 and early.json["state"] == "received"
    assert bad.status_code == 422 and set(bad.json["errors"]) == {"satisfied", "rating"}
    assert emitted(intake.store, "issue.feedback_given") == []


def test_deadlines_come_from_the_clocks_escalation_arms(intake):
    client = intake.app.test_client()
    issue_id = _submit(client)

    intake.subscriber.apply(
        event(
            "issue.clock_armed",
            issue_id,
            {
                "clock": "claim",
                "assignment": 1,
                "level": 0,
                "unit_id": "u",
                "due_at": "2026-11-26T04:00:00+00:00",
            },
        ).to_json()
    )

    shown = client.get(f"/v1/issues/{issue_id}", headers=AUTH).json
    assert shown["deadlines"] == {"claim": "2026-11-26T04:00:00+00:00", "resolve": None}
    assert [t["type"] for t in shown["timeline"]] == ["issue.submitted"]


def test_on_resolve_the_resident_who_consented_is_asked_and_only_they(intake):
    client = intake.app.test_client()
    consenting = _submit(client, reporter={**SUBMISSION["reporter"], "consent": True})
    silent = _submit(client)

    for issue_id in (consenting, silent):
        intake.subscriber.apply(
            event("issue.resolved", issue_id, {"unit_id": "u", "resolution": "已疏通"}).to_json()
        )

    [asked] = emitted(intake.store, "resident.feedback_requested")
    assert asked.issue_id == consenting and asked.payload["phone"] == "+8613800000000"
    [acknowledged] = emitted(intake.store, "resident.acknowledged")
    assert acknowledged.issue_id == consenting
    assert all(
        "+8613800000000" not in e.to_json()
        for e in emitted(intake.store)
        if not e.type.startswith("resident.")
    )


def test_the_consenting_resident_hears_the_issue_closed(intake):
    client = intake.app.test_client()
    issue_id = _submit(client, reporter={**SUBMISSION["reporter"], "consent": True})

    intake.subscriber.apply(event("issue.closed", issue_id, {"reason": "satisfied"}).to_json())

    [closed] = emitted(intake.store, "resident.closed")
    assert closed.issue_id == issue_id and closed.payload["reason"] == "satisfied"
