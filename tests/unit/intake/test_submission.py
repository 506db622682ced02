"""Intake takes an issue in only whole: stored with its event, or refused naming what is wrong."""

import json

import pytest

from services.intake import store as intake_store
from shared.outbox import outbox
from tests.helpers import AUTH, SUBMISSION, count_rows, emitted


def test_accepts_an_issue_with_its_event_and_answers_201(intake):
    response = intake.app.test_client().post("/v1/issues", headers=AUTH, json=SUBMISSION)

    assert response.status_code == 201
    issue_id = response.json["id"]
    assert response.json == {"id": issue_id, "status": "received"}
    assert response.headers["Location"] == f"/v1/issues/{issue_id}"
    [submitted] = emitted(intake.store, "issue.submitted")
    assert submitted.issue_id == issue_id
    assert submitted.payload["category"] == "property_management"
    assert submitted.payload["location"]["compound"] == "baian-xincun"


def test_the_reporter_stays_in_intake_and_off_the_bus(intake):
    intake.app.test_client().post("/v1/issues", headers=AUTH, json=SUBMISSION)

    [submitted] = emitted(intake.store, "issue.submitted")
    body = submitted.to_json()
    assert "13800000000" not in body and "张三" not in body
    with intake.store.read() as conn:
        [reporter] = conn.execute(intake_store.reporters.select()).mappings().all()
    assert reporter["phone"] == "+8613800000000"


def test_shows_status_and_timeline_and_the_reporter_to_its_own_gateway(intake):
    client = intake.app.test_client()
    issue_id = client.post("/v1/issues", headers=AUTH, json=SUBMISSION).json["id"]

    shown = client.get(f"/v1/issues/{issue_id}", headers=AUTH)

    assert shown.status_code == 200
    assert shown.json["status"] == "received"
    assert shown.json["escalation_level"] == 0
    assert [t["type"] for t in shown.json["timeline"]] == ["issue.submitted"]
    assert shown.json["reporter"]["phone"] == "+8613800000000"


def _nothing_stored(intake):
    return (
        count_rows(intake.store, intake_store.issues) == 0 and count_rows(intake.store, outbox) == 0
    )


@pytest.mark.parametrize(
    "body, content_type, status, named",
    [
        ("{not json", "application/json", 400, None),
        (json.dumps(SUBMISSION), "text/plain", 415, None),
        (json.dumps({**SUBMISSION, "description": "x" * 70_000}), "application/json", 413, None),
        (
            json.dumps({k: v for k, v in SUBMISSION.items() if k != "description"}),
            "application/json",
            422,
            "description",
        ),
        (
            json.dumps({**SUBMISSION, "category": "alien_landing"}),
            "application/json",
            422,
            "category",
        ),
        (
            json.dumps({**SUBMISSION, "location": {"street": "atlantis"}}),
            "application/json",
            422,
            "location",
        ),
        (json.dumps({**SUBMISSION, "colour": "red"}), "application/json", 422, "colour"),
        (
            json.dumps({**SUBMISSION, "reporter": {"name": "李四", "phone": "12345"}}),
            "application/json",
            422,
            "reporter",
        ),
        (json.dumps([SUBMISSION]), "application/json", 422, None),
        (json.dumps({**SUBMISSION, "description": 42}), "application/json", 422, "description"),
        (json.dumps({**SUBMISSION, "title": "路" * 201}), "application/json", 422, "title"),
        (json.dumps({**SUBMISSION, "title": "bad\u0007bell"}), "application/json", 422, "title"),
        (
            json.dumps({**SUBMISSION, "description": "text\u0000with nul"}),
            "application/json",
            422,
            "description",
        ),
        (
            json.dumps({**SUBMISSION, "location": {"street": "wuqiao", "lat": 51.5, "lon": -0.12}}),
            "application/json",
            422,
            "location",
        ),
        (
            json.dumps({**SUBMISSION, "location": {"street": "wuqiao", "lat": 30.8}}),
            "application/json",
            422,
            "location",
        ),
        (
            json.dumps({**SUBMISSION, "media_urls": ["javascript:alert(1)"]}),
            "application/json",
            422,
            "media_urls",
        ),
        (
            json.dumps({**SUBMISSION, "media_urls": ["ftp://example.org/a.jpg"]}),
            "application/json",
            422,
            "media_urls",
        ),
        (
            json.dumps(
                {
                    **SUBMISSION,
                    "reporter": {"name": "李四", "phone": "13800000000", "email": "nope"},
                }
            ),
            "application/json",
            422,
            "reporter",
        ),
        (
            json.dumps({**SUBMISSION, "attributes": {"households_affected": "many"}}),
            "application/json",
            422,
            "attributes",
        ),
        (json.dumps({**SUBMISSION, "channel": ["hotline"]}), "application/json", 422, "channel"),
    ],
)
def test_refuses_bad_input_as_problem_json_and_stores_nothing(
    intake, body, content_type, status, named
):
    response = intake.app.test_client().post(
        "/v1/issues", headers=AUTH, data=body, content_type=content_type
    )

    assert response.status_code == status
    assert response.mimetype == "application/problem+json"
    assert response.json["status"] == status and response.json["title"]
    if named:
        assert named in response.json["errors"]
    assert _nothing_stored(intake)


def test_names_every_bad_field_at_once(intake):
    response = intake.app.test_client().post(
        "/v1/issues", headers=AUTH, json={"channel": "pigeon", "location": {}}
    )

    errors = response.json["errors"]
    assert set(errors) == {"channel", "description", "location"}
    assert "street" in errors["location"]


def test_refuses_a_community_outside_the_street(intake):
    bad = {**SUBMISSION, "location": {"street": "wuqiao", "community": "baian"}}

    response = intake.app.test_client().post("/v1/issues", headers=AUTH, json=bad)

    assert response.status_code == 422
    assert "community" in response.json["errors"]["location"]


def test_unknown_issue_is_404_problem(intake):
    response = intake.app.test_client().get("/v1/issues/nope", headers=AUTH)

    assert response.status_code == 404
    assert response.mimetype == "application/problem+json"


def test_a_full_submission_is_kept_whole(intake):
    body = {
        **SUBMISSION,
        "title": "下水道堵塞",
        "external_id": "W-1",
        "media_urls": ["https://img.example/1.jpg"],
        "location": {**SUBMISSION["location"], "lat": 30.80, "lon": 108.39, "address": "3栋2单元"},
        "attributes": {"households_affected": 12, "repeated": "yes"},
        "reporter": {
            "name": "张三",
            "phone": "+86 138-0000-0000",
            "email": "z@example.org",
            "consent": True,
        },
    }
    client = intake.app.test_client()

    issue_id = client.post("/v1/issues", headers=AUTH, json=body).json["id"]

    shown = client.get(f"/v1/issues/{issue_id}", headers=AUTH).json
    assert shown["attributes"] == {"households_affected": "12", "repeated": "yes"}
    assert shown["location"]["lat"] == 30.80 and shown["media_urls"] == [
        "https://img.example/1.jpg"
    ]
    assert shown["reporter"] == {
        "name": "张三",
        "phone": "+8613800000000",
        "email": "z@example.org",
        "consent": True,
    }


def test_text_is_stored_in_unicode_nfc(intake):
    decomposed = "Cafe\u0301 门口积水"

    issue_id = (
        intake.app.test_client()
        .post("/v1/issues", headers=AUTH, json={**SUBMISSION, "description": decomposed})
        .json["id"]
    )

    shown = intake.app.test_client().get(f"/v1/issues/{issue_id}", headers=AUTH).json
    assert shown["description"] == "Caf\u00e9 门口积水"


def test_keeps_attributes_the_category_does_not_ask_for_and_shows_them_to_its_gateway_alone(
    intake, make_key
):
    body = {
        **SUBMISSION,
        "attributes": {
            "households_affected": 3,
            "ticket": "12345-0042",
            "floor": 3,
            "caller_address": "百安新村3栋2单元\n601室",
        },
    }
    client = intake.app.test_client()

    response = client.post("/v1/issues", headers=AUTH, json=body)

    assert response.status_code == 201, response.json
    issue_id = response.json["id"]
    own = client.get(f"/v1/issues/{issue_id}", headers=AUTH).json
    assert own["attributes"] == {"households_affected": "3"}
    assert own["extra_attributes"] == {
        "ticket": "12345-0042",
        "floor": "3",
        "caller_address": "百安新村3栋2单元\n601室",
    }
    other = client.get(
        f"/v1/issues/{issue_id}", headers=make_key("dashboard", "read", "read:all")
    ).json
    assert "extra_attributes" not in other
    [submitted] = emitted(intake.store, "issue.submitted")
    assert submitted.payload["attributes"] == {"households_affected": "3"}
    assert "601室" not in submitted.to_json() and "12345-0042" not in submitted.to_json()


@pytest.mark.parametrize(
    "attributes, named",
    [
        ({f"own_{i}": "x" for i in range(21)}, None),
        ({"ticket": "x" * 4001}, "ticket"),
        ({"ticket": {"nested": "no"}}, "ticket"),
        ({"ticket": True}, "ticket"),
        ({"has space": "x"}, "has space"),
        ({"repeated": "maybe", "ticket": "ok"}, "repeated"),
    ],
)
def test_refuses_attributes_of_the_gateway_s_own_beyond_their_bounds_naming_them(
    intake, attributes, named
):
    body = {**SUBMISSION, "attributes": attributes}

    response = intake.app.test_client().post("/v1/issues", headers=AUTH, json=body)

    assert response.status_code == 422
    errors = response.json["errors"]["attributes"]
    assert named in errors if named else "at most 20" in errors[0]
    assert _nothing_stored(intake)
