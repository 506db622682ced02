"""What the OpenAPI 3 documents of dispatch, escalation and notify share: the spec with its
bearer scheme, the problem+json answer every error takes (shared.http.problem_response), and
small builders for operations, so that each service's document lists only its own paths."""

from __future__ import annotations

import html

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin
from marshmallow import INCLUDE, Schema, fields

# What each status means on our APIs: shared.http (400 malformed JSON or query, 413 over
# MAX_BODY, 415 not JSON, 422 a body its schema refuses), shared.web (401 no or bad credential,
# 503 the database out of reach) and shared.errors (403, 404, 409, 422 from the domain).
MEANINGS = {
    400: "malformed JSON or query parameters",
    401: "no credential, or one that is not known",
    403: "the caller may not do this",
    404: "no such thing, or none the caller may see",
    409: "not now: the lifecycle does not allow it",
    413: "the body is over 64 KiB",
    415: "the body is not application/json",
    422: "the body is well-formed but some fields are missing or invalid",
    429: "too many requests; wait as Retry-After says",
    503: "the database is out of reach for a moment; try again after Retry-After",
}
BODY_ERRORS = (400, 413, 415, 422)  # what shared.http.json_body can answer
ALWAYS = (503,)  # any operation that reads the store


class Answer(Schema):
    """Base of the answers' schemas: they name what a client may rely on, and allow more
    (additionalProperties), so that a field added to an answer does not break the contract."""

    class Meta:
        unknown = INCLUDE


class ProblemSchema(Answer):
    """RFC 9457 problem details, as shared.http.problem_response writes them."""

    type = fields.String(required=True)
    title = fields.String(required=True)
    status = fields.Integer(required=True)
    detail = fields.String()
    errors = fields.Dict(metadata={"description": "each bad field with what is wrong with it"})
    state = fields.String(metadata={"description": "on 409: the state that does not allow it"})


def new_spec(title: str, description: str, schemas: dict[str, type[Schema]]) -> APISpec:
    """An OpenAPI 3.0.3 spec with the bearer scheme, Problem and the service's `schemas`."""
    spec = APISpec(
        title=title,
        version="1.0.0",
        openapi_version="3.0.3",
        plugins=[MarshmallowPlugin()],
        info={"description": description},
    )
    spec.components.security_scheme("bearer", {"type": "http", "scheme": "bearer"})
    for name, schema in {"Problem": ProblemSchema, **schemas}.items():
        spec.components.schema(name, schema=schema)
    return spec


def json_of(ref: str | dict) -> dict:
    return {"content": {"application/json": {"schema": ref}}}


def problems(*codes: int) -> dict:
    """The problem+json answers `codes`, each with what it means here."""
    return {
        str(c): {
            "description": MEANINGS[c],
            "content": {"application/problem+json": {"schema": "Problem"}},
        }
        for c in sorted(set(codes))
    }


def path_parameter(name: str, description: str = "") -> dict:
    return {
        "in": "path",
        "name": name,
        "required": True,
        "description": description or name,
        "schema": {"type": "string", "minLength": 1},
    }


def operation(
    summary: str,
    answers: dict[int, tuple[str, str | dict | None]],
    errors: tuple[int, ...] = (),
    *,
    body: str | None = None,
    parameters: list | None = None,
    public: bool = False,
) -> dict:
    """One operation: `answers` maps a success status to (description, schema or None for no
    body); `errors` are its problem answers (401 and 503 added unless public, the body's
    own errors when it takes `body`)."""
    codes = set(errors) | set(ALWAYS)
    if not public:
        codes.add(401)
    if body:
        codes.update(BODY_ERRORS)
    op: dict = {
        "summary": summary,
        "security": [] if public else [{"bearer": []}],
        "responses": {
            **{
                str(status): {"description": text, **(json_of(schema) if schema else {})}
                for status, (text, schema) in answers.items()
            },
            **problems(*codes),
        },
    }
    if parameters:
        op["parameters"] = parameters
    if body:
        op["requestBody"] = {"required": True, **json_of(body)}
    return op


def page(doc: dict, credential: str) -> str:
    """A plain page of an OpenAPI document for people: every operation with its answers and
    every schema's fields; no script, no style of its own (pages keep a strict CSP)."""
    title = html.escape(doc["info"]["title"])
    parts = [
        f"<!doctype html><meta charset=utf-8><title>{title}</title>",
        f"<h1>{title} API</h1><p>{html.escape(doc['info'].get('description', ''))}</p>",
        f"<p>Send <code>Authorization: Bearer &lt;{html.escape(credential)}&gt;</code>. "
        "Machine-readable: <a href=openapi.json>openapi.json</a>.</p><h2>Operations</h2>",
    ]
    for path, operations in doc["paths"].items():
        for method, op in operations.items():
            codes = ", ".join(sorted(op["responses"]))
            parts.append(
                f"<h3><code>{method.upper()} {html.escape(path)}</code></h3>"
                f"<p>{html.escape(op.get('summary', ''))}. Answers: {codes}.</p>"
            )
    parts.append("<h2>Schemas</h2>")
    for name, schema in doc.get("components", {}).get("schemas", {}).items():
        required = set(schema.get("required", []))
        rows = "".join(
            f"<tr><td><code>{html.escape(f)}</code>{' *' if f in required else ''}</td>"
            f"<td>{html.escape(str(p.get('type', p.get('$ref', p.get('allOf', '')))))}</td></tr>"
            for f, p in schema.get("properties", {}).items()
        )
        parts.append(f"<h3 id={html.escape(name)}>{html.escape(name)}</h3><table>{rows}</table>")
    return "".join(parts)
