"""Notify's OpenAPI document is valid OpenAPI 3 and lists every operation of its API."""

from openapi_spec_validator import validate

from tests.fuzz.routes import api_operations, documented_operations
from tests.helpers import build


def test_the_document_is_valid_and_covers_every_v1_operation(tmp_path):
    notify = build("notify", tmp_path)
    doc = notify.app.test_client().get("/v1/openapi.json").json
    notify.store.dispose()

    validate(doc)
    assert documented_operations(doc) == api_operations(notify.app, "notifications")
    listing = doc["paths"]["/v1/notifications"]["get"]
    assert listing["security"] == [{"bearer": []}]  # the administrator's token
    receipt = doc["paths"]["/v1/receipts/{provider}"]["post"]
    assert {"X-Loudong-Timestamp", "X-Loudong-Signature"} <= {
        p["name"] for p in receipt["parameters"]
    }
