"""The building work day: a street office calls it, its agenda is ready, its record kept."""

from datetime import UTC, datetime, timedelta

from tests.helpers import event

MEETING = {
    "street": "baianba",
    "held_on": "2026-11-28",
    "place": "百安新村活动室",
    "attending_units": ["baianba-office", "housing-bureau", "leader-north"],
}


def _meeting(dispatch, as_unit):
    response = dispatch.app.test_client().post(
        "/v1/meetings", headers=as_unit("baianba-office"), json=MEETING
    )
    assert response.status_code == 201, response.get_data(as_text=True)
    return response.json["id"]


def test_only_the_streets_own_office_calls_its_work_day(dispatch, as_unit):
    client = dispatch.app.test_client()

    assert (
        client.post("/v1/meetings", headers=as_unit("wuqiao-office"), json=MEETING).status_code
        == 403
    )
    assert (
        client.post(
            "/v1/meetings", headers=as_unit("baian-xincun-property"), json=MEETING
        ).status_code
        == 403
    )
    bad = client.post(
        "/v1/meetings",
        headers=as_unit("baianba-office"),
        json={**MEETING, "attending_units": ["x"]},
    )
    assert bad.status_code == 422 and "attending_units" in bad.json["errors"]


def test_the_agenda_groups_open_issues_by_tier_with_overdue_and_escalated_first(
    dispatch, as_unit, submit, clock
):
    meeting_id = _meeting(dispatch, as_unit)
    small = submit()
    big = submit(category="urban_management", location={"street": "baianba", "community": "baian"})
    submit(
        location={"street": "wuqiao", "community": "lianhua"}
    )  # another street: not on this agenda
    dispatch.subscriber.apply(event("issue.escalated", big, {"level": 1}).to_json())
    dispatch.subscriber.apply(
        event(
            "issue.clock_armed",
            small,
            {"clock": "claim", "due_at": (clock.now - timedelta(minutes=5)).isoformat()},
        ).to_json()
    )

    agenda = (
        dispatch.app.test_client()
        .get(f"/v1/meetings/{meeting_id}/agenda", headers=as_unit("leader-north"))
        .json
    )

    assert agenda["counts"] == {"open": 2, "overdue": 1, "escalated": 1}
    assert [i["issue_id"] for i in agenda["by_tier"]["small"]] == [small]
    assert agenda["by_tier"]["small"][0]["overdue"] is True
    assert agenda["by_tier"]["big"][0]["unit"]["id"] == "baianba-office"


def test_issues_raised_at_the_meeting_keep_its_promise_in_the_record(dispatch, as_unit, submit):
    meeting_id = _meeting(dispatch, as_unit)
    promise = datetime(2026, 12, 5, 10, 0, tzinfo=UTC)
    issue_id = submit(channel="work_day", meeting_id=meeting_id, promised_by=promise.isoformat())

    record = dispatch.app.test_client().get(
        f"/v1/meetings/{meeting_id}/record", headers=as_unit("baianba-office")
    )
    markdown = dispatch.app.test_client().get(
        f"/v1/meetings/{meeting_id}/record.md", headers=as_unit("baianba-office")
    )

    [raised] = record.json["raised"]
    assert raised["issue_id"] == issue_id and raised["promised_by"] == promise.isoformat()
    assert raised["unit"]["id"] == "baian-xincun-property"
    text = markdown.get_data(as_text=True)
    assert (
        markdown.mimetype == "text/markdown"
        and "百安新村物业公司" in text
        and "2026-12-05 18:00" in text
    )
