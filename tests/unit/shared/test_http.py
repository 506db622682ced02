"""The HTTP plumbing every service shares: JSON as people read it."""

from tests.helpers import AUTH, SUBMISSION, build


def test_json_answers_carry_chinese_as_utf8_not_escapes(tmp_path):
    dispatch = build("dispatch", tmp_path)

    body = dispatch.app.test_client().get("/v1/directory").get_data()

    assert b"\\u" not in body
    assert "百安新村" in body.decode("utf-8")
    dispatch.store.dispose()


def test_an_issue_read_back_shows_its_place_in_chinese(tmp_path):
    intake = build("intake", tmp_path)
    client = intake.app.test_client()
    issue_id = client.post("/v1/issues", headers=AUTH, json=SUBMISSION).get_json()["id"]

    body = client.get(f"/v1/issues/{issue_id}", headers=AUTH).get_data().decode("utf-8")

    assert "下水道堵了" in body
    intake.store.dispose()
