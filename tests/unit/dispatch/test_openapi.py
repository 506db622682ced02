"""Dispatch's OpenAPI document is valid OpenAPI 3, public, and lists every operation of the
bearer-token API (tests/fuzz holds the answers to it)."""

from openapi_spec_validator import validate

from tests.fuzz.routes import api_operations, documented_operations


def test_the_document_is_valid_public_and_covers_every_v1_operation(dispatch):
    answer = dispatch.app.test_client().get("/v1/openapi.json")

    assert answer.status_code == 200  # no token: public, like the directory
    doc = answer.json
    validate(doc)
    assert documented_operations(doc) == api_operations(dispatch.app, "dispatch")
    claim = doc["paths"]["/v1/assignments/{issue_id}/claim"]["post"]
    assert claim["security"] == [{"bearer": []}]
    assert {"401", "404", "409", "503"} <= set(claim["responses"])
    assert "Meeting" in doc["components"]["schemas"]
