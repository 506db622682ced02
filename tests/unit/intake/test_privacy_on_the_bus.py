"""A phone a resident typed into the description stays in intake: the gateway that sent it
reads it back as written, and issue.submitted carries it masked to every other service."""

from tests.helpers import AUTH, SUBMISSION, build, emitted


def test_a_phone_in_the_description_travels_masked(tmp_path):
    intake = build("intake", tmp_path)
    body = {**SUBMISSION, "description": "楼道灯坏了三天，有事请回电13912345678"}

    created = intake.app.test_client().post("/v1/issues", headers=AUTH, json=body)
    shown = intake.app.test_client().get(f"/v1/issues/{created.json['id']}", headers=AUTH)

    [submitted] = emitted(intake.store, "issue.submitted")
    assert "13912345678" not in submitted.to_json()
    assert submitted.payload["description"].startswith("楼道灯坏了三天，有事请回电139")
    assert shown.json["description"] == body["description"]
    intake.store.dispose()
