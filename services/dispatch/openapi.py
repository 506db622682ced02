"""Dispatch's v1 API as an OpenAPI 3 document: the request bodies are the marshmallow schemas
that validate them (services.dispatch.schemas), the answers the shapes its queries return."""

from __future__ import annotations

from functools import lru_cache

from marshmallow import fields

from services.dispatch.schemas import (
    ArbitrateSchema,
    MeetingSchema,
    NoteSchema,
    ResolveSchema,
    RetierSchema,
    ReturnSchema,
    TriageSchema,
    UrgeSchema,
)
from shared.openapi import Answer, new_spec, operation, path_parameter

COMMAND_ERRORS = (403, 404, 409, 422)  # shared.errors, as commands raise them


class CaseSchema(Answer):
    """An issue as dispatch keeps it, with every assignment it made (services.dispatch.model)."""

    issue_id = fields.String(required=True)
    state = fields.String(required=True)
    category = fields.String(allow_none=True, required=True)
    tier = fields.String(allow_none=True, required=True)
    street = fields.String(required=True)
    lead_unit_id = fields.String(allow_none=True)
    assignments = fields.List(fields.Dict(), required=True)


class InboxSchema(Answer):
    unit = fields.String(required=True)
    assignments = fields.List(fields.Dict(), required=True)


class TriageQueueSchema(Answer):
    street = fields.String(required=True)
    issues = fields.List(fields.Dict(), required=True)


class CreatedSchema(Answer):
    id = fields.String(required=True)


class AgendaSchema(Answer):
    meeting = fields.Dict(required=True)
    counts = fields.Dict(keys=fields.String(), values=fields.Integer(), required=True)
    by_tier = fields.Dict(keys=fields.String(), values=fields.List(fields.Dict()), required=True)


class RecordSchema(Answer):
    meeting = fields.Dict(required=True)
    raised = fields.List(fields.Dict(), required=True)


class DirectorySchema(Answer):
    places = fields.List(fields.Dict(), required=True)
    categories = fields.List(fields.Dict(), required=True)
    units = fields.List(fields.Dict(), required=True)


SCHEMAS = {
    "Return": ReturnSchema,
    "Note": NoteSchema,
    "Urge": UrgeSchema,
    "Resolve": ResolveSchema,
    "Retier": RetierSchema,
    "Triage": TriageSchema,
    "Arbitrate": ArbitrateSchema,
    "Meeting": MeetingSchema,
    "Case": CaseSchema,
    "Inbox": InboxSchema,
    "TriageQueue": TriageQueueSchema,
    "Created": CreatedSchema,
    "Agenda": AgendaSchema,
    "Record": RecordSchema,
    "Directory": DirectorySchema,
}

# (path under /v1/issues or /v1/assignments, summary, body schema or None, success status)
ASSIGNMENT_COMMANDS = (
    ("/v1/assignments/{issue_id}/claim", "The unit takes the issue on (認領)", None, 200),
    ("/v1/assignments/{issue_id}/return", "The unit sends it back (退單)", "Return", 200),
    ("/v1/assignments/{issue_id}/notes", "Progress on a claimed issue", "Note", 201),
    ("/v1/assignments/{issue_id}/await-resident", "The unit waits for the resident", "Note", 200),
    ("/v1/assignments/{issue_id}/resident-replied", "The resident answered", None, 200),
    ("/v1/assignments/{issue_id}/resolve", "The unit reports it resolved", "Resolve", 200),
    ("/v1/issues/{issue_id}/tier", "A supervisor moves the issue to another tier", "Retier", 200),
    ("/v1/issues/{issue_id}/urge", "A supervisor presses the unit in charge", "Urge", 201),
    ("/v1/issues/{issue_id}/triage", "The street office sets the category", "Triage", 200),
    ("/v1/issues/{issue_id}/arbitrate", "The street office chooses the lead", "Arbitrate", 200),
)


@lru_cache(maxsize=1)
def document() -> dict:
    spec = new_spec(
        "Loudong dispatch",
        "Units work their inbox with their own token (Authorization: Bearer <unit token>, "
        "from `loudong units token UNIT`); street offices triage, arbitrate and hold the work "
        "day; supervisors re-tier and urge. The directory is public.",
        SCHEMAS,
    )
    issue = [path_parameter("issue_id", "the issue's id")]
    meeting = [path_parameter("meeting_id", "the meeting's id")]
    spec.path(
        "/v1/inbox",
        operations={
            "get": operation("The calling unit's open assignments", {200: ("open", "Inbox")})
        },
    )
    spec.path(
        "/v1/assignments/{issue_id}",
        operations={
            "get": operation(
                "The issue as dispatch sees it",
                {200: ("the issue", "Case")},
                (404,),
                parameters=issue,
            )
        },
    )
    for path, summary, body, status in ASSIGNMENT_COMMANDS:
        answered = "the issue as it now stands"
        spec.path(
            path,
            operations={
                "post": operation(
                    summary,
                    {status: (answered, "Case")},
                    COMMAND_ERRORS,
                    body=body,
                    parameters=issue,
                )
            },
        )
    spec.path(
        "/v1/triage",
        operations={
            "get": operation(
                "The street office's queue", {200: ("the queue", "TriageQueue")}, (403,)
            )
        },
    )
    spec.path(
        "/v1/meetings",
        operations={
            "post": operation(
                "A street's work-day meeting, called by its street office",
                {201: ("called", "Created")},
                (403, 404),
                body="Meeting",
            )
        },
    )
    spec.path(
        "/v1/meetings/{meeting_id}/agenda",
        operations={
            "get": operation(
                "The street's open issues by tier",
                {200: ("the agenda", "Agenda")},
                (404,),
                parameters=meeting,
            )
        },
    )
    spec.path(
        "/v1/meetings/{meeting_id}/record",
        operations={
            "get": operation(
                "What was raised, who took it, what was promised",
                {200: ("the record", "Record")},
                (404,),
                parameters=meeting,
            )
        },
    )
    markdown = operation(
        "The record as Markdown", {200: ("the record", None)}, (404,), parameters=meeting
    )
    markdown["responses"]["200"]["content"] = {"text/markdown": {"schema": {"type": "string"}}}
    spec.path("/v1/meetings/{meeting_id}/record.md", operations={"get": markdown})
    spec.path(
        "/v1/directory",
        operations={
            "get": operation(
                "The places, categories and units dispatch routes by",
                {200: ("the directory", "Directory")},
                public=True,
            )
        },
    )
    spec.path(
        "/v1/openapi.json",
        operations={
            "get": operation("This document", {200: ("OpenAPI 3", {"type": "object"})}, public=True)
        },
    )
    return spec.to_dict()
