"""The OpenAPI document is generated from the schemas that validate requests, and the
answers the API gives fit the response schemas it declares."""

from services.intake.openapi import IssueListSchema, IssueSchema
from tests.helpers import AUTH, SUBMISSION


def test_the_document_describes_every_v1_operation_and_the_submission_fields(intake):
    doc = intake.app.test_client().get("/v1/openapi.json").json

    assert doc["openapi"].startswith("3.")
    assert set(doc["paths"]) == {
        "/v1/issues",
        "/v1/issues/{issue_id}",
        "/v1/issues/{issue_id}/feedback",
    }
    submission = doc["components"]["schemas"]["Submission"]
    assert {"channel", "description", "location"} <= set(submission["required"])
    assert submission["properties"]["channel"]["enum"][0] == "hotline"
    assert "401" in doc["paths"]["/v1/issues"]["post"]["responses"]


def test_real_answers_load_in_the_declared_response_schemas(intake):
    client = intake.app.test_client()
    issue_id = client.post("/v1/issues", headers=AUTH, json=SUBMISSION).json["id"]

    IssueSchema().load(client.get(f"/v1/issues/{issue_id}", headers=AUTH).json)
    IssueListSchema().load(client.get("/v1/issues", headers=AUTH).json)


def test_the_page_for_people_lists_the_operations(intake):
    page = intake.app.test_client().get("/v1/docs")

    assert page.status_code == 200 and page.mimetype == "text/html"
    assert "POST /v1/issues" in page.get_data(as_text=True)
