"""Escalation's OpenAPI document is valid OpenAPI 3 and lists every operation of its API."""

from openapi_spec_validator import validate

from tests.fuzz.routes import api_operations, documented_operations


def test_the_document_is_valid_and_covers_every_v1_operation(escalation):
    doc = escalation.app.test_client().get("/v1/openapi.json").json

    validate(doc)
    assert documented_operations(doc) == api_operations(escalation.app, "escalation")
    extend = doc["paths"]["/v1/issues/{issue_id}/extend"]["post"]
    assert {"400", "401", "403", "413", "415", "422"} <= set(extend["responses"])
    listing = doc["paths"]["/v1/escalations"]["get"]
    assert listing["security"] == [] and "level" in {p["name"] for p in listing["parameters"]}
