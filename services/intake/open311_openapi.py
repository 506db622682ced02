"""Open311 GeoReport v2 as an OpenAPI 3 document, served at /open311/v2/openapi.json: every
resource in .json and in .xml, the form POST /requests takes with the district's service codes
and the attributes they ask, and the answers as the spec lists them (open311_schemas), every
refusal as its list of {code, description}, never problem+json."""

from __future__ import annotations

from functools import lru_cache

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin

from district.directory import Directory
from services.intake.open311_schemas import DOCUMENTS, FORM_DESCRIPTION, LOCATIONS, district_form
from shared.openapi import path_parameter

# The spec's meanings of its error codes, and ours (413, 429, 503).
MEANINGS = {
    400: "a field or query parameter is missing or wrong",
    403: "api_key is missing, unknown, revoked or may not submit",
    404: "no such resource, format, service_code, request, token or jurisdiction_id",
    413: "the body is over 64 KiB",
    429: "too many requests for this api_key; wait as Retry-After says",
    503: "the database is out of reach for a moment; try again after Retry-After",
}
MEDIA_TYPES = ("application/json", "text/xml")
FORMAT = {
    "in": "path",
    "name": "fmt",
    "required": True,
    "description": "the format of the answer",
    "schema": {"type": "string", "enum": ["json", "xml"]},
}
IDEMPOTENCY_KEY = {
    "in": "header",
    "name": "Idempotency-Key",
    "description": "a repeat with the same key is answered 200 with the first request",
    "schema": {"type": "string", "minLength": 1, "maxLength": 200},
}


def _query(name: str, description: str, **schema) -> dict:
    return {"in": "query", "name": name, "description": description, "schema": schema}


DATES = (
    _query("start_date", "W3C, with a time zone; at most 90 days before end_date", type="string"),
    _query("end_date", "W3C, with a time zone; now if not given", type="string"),
)
REQUEST_FILTERS = (
    _query("service_request_id", "comma-separated; overrides the other filters", type="string"),
    _query("service_code", "comma-separated", type="string"),
    _query(
        "status", "open, closed or both", type="string", pattern="^(open|closed)(,(open|closed))*$"
    ),
)


def _listed(name: str, component: str) -> dict:
    """A list document: a top-level array in JSON, in XML <name> around its items."""
    ref = {"$ref": f"#/components/schemas/{component}"}
    return {"type": "array", "items": ref, "xml": {"name": name, "wrapped": True}}


def _answer(description: str, schema: str | dict) -> dict:
    return {"description": description, "content": {m: {"schema": schema} for m in MEDIA_TYPES}}


def _operation(summary: str, answers: dict, errors=(), parameters=()) -> dict:
    """One operation, in both formats: `answers` maps a status to (description, schema); it
    may refuse with 404 (a format or jurisdiction_id it does not know) and `errors`."""
    return {
        "summary": summary,
        "parameters": [FORMAT, *parameters],
        "responses": {
            **{str(s): _answer(text, schema) for s, (text, schema) in answers.items()},
            **{str(c): _answer(MEANINGS[c], "Errors") for c in sorted({404, *errors})},
        },
    }


def _paths(directory: Directory) -> dict:
    jurisdiction = _query("jurisdiction_id", "this district's, or none", enum=[directory.district])
    service_code = {
        **path_parameter("service_code"),
        "schema": {"type": "string", "enum": sorted(directory.categories)},
    }
    accepted = _listed("service_requests", "RequestAccepted")
    requests = _listed("service_requests", "ServiceRequest")
    submit = _operation(
        "Submit a request",
        {201: ("created", accepted), 200: ("a repeat of an earlier request", accepted)},
        (400, 403, 413, 429, 503),
        (IDEMPOTENCY_KEY,),  # jurisdiction_id is a field of the form
    )
    form = {"application/x-www-form-urlencoded": {"schema": "RequestForm"}}
    return {
        "discovery.{fmt}": {
            "get": _operation(
                "This endpoint, its formats and how to get a key",
                {200: ("the discovery document", "Discovery")},
                parameters=(jurisdiction,),
            )
        },
        "services.{fmt}": {
            "get": _operation(
                "The services (categories) a request may name",
                {200: ("every service", _listed("services", "Service"))},
                parameters=(jurisdiction,),
            )
        },
        "services/{service_code}.{fmt}": {
            "get": _operation(
                "The attributes a service asks",
                {200: ("its definition", "ServiceDefinition")},
                parameters=(service_code, jurisdiction),
            )
        },
        "requests.{fmt}": {
            "post": {**submit, "requestBody": {"required": True, "content": form}},
            "get": _operation(
                "Requests of the last 90 days or those named, at most 1000",
                {200: ("the requests", requests)},
                (400, 503),
                (jurisdiction, *REQUEST_FILTERS, *DATES),
            ),
        },
        "requests/{service_request_id}.{fmt}": {
            "get": _operation(
                "One request, as a list of one",
                {200: ("the request", requests)},
                (503,),
                (path_parameter("service_request_id"), jurisdiction),
            )
        },
        "tokens/{token}.{fmt}": {
            "get": _operation(
                "The request of a token: requests are created at once, a token is its id",
                {200: ("the request's id", _listed("service_requests", "Token"))},
                (503,),
                (path_parameter("token"), jurisdiction),
            )
        },
        "servicerequestupdates.{fmt}": {
            "get": _operation(
                "Changes to requests, as FixMyStreet polls them; the last day's by default",
                {200: ("the updates", _listed("service_request_updates", "RequestUpdate"))},
                (400, 503),
                (jurisdiction, *DATES),
            )
        },
    }


@lru_cache(maxsize=1)
def _build(directory: Directory) -> APISpec:
    spec = APISpec(
        title="Loudong intake: Open311 GeoReport v2",
        version="2.0.0",
        openapi_version="3.0.3",
        plugins=[MarshmallowPlugin()],
        info={"description": "Any Open311 client submits to and follows the district's issues."},
    )
    for name, (schema, element) in DOCUMENTS.items():
        spec.components.schema(name, {"xml": {"name": element}}, schema=schema)
    spec.components.schema("Errors", _listed("errors", "Error"))
    form = {"description": FORM_DESCRIPTION, "anyOf": LOCATIONS}
    spec.components.schema("RequestForm", form, schema=district_form(directory))
    for path, operations in _paths(directory).items():
        spec.path(f"/open311/v2/{path}", operations=operations)
    this_document = {"description": "OpenAPI 3", "content": {"application/json": {}}}
    spec.path(
        "/open311/v2/openapi.json",
        operations={"get": {"summary": "This document", "responses": {"200": this_document}}},
    )
    return spec


def document(directory: Directory) -> dict:
    return _build(directory).to_dict()
