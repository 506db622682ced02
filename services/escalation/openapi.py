"""Escalation's v1 API as an OpenAPI 3 document: clocks, escalations, overdue and policies to
look at (public); escalating, extending and closing supervision by hand with a unit token."""

from __future__ import annotations

from functools import lru_cache

from marshmallow import fields

from services.escalation.schemas import (
    CloseSupervisionSchema,
    EscalationQuerySchema,
    ExtensionSchema,
    ManualEscalationSchema,
)
from shared.openapi import Answer, new_spec, operation, path_parameter


class ClockSchema(Answer):
    """One of an issue's clocks as its row (services.escalation.store.as_row)."""

    issue_id = fields.String(required=True)
    clock = fields.String(required=True)
    state = fields.String(required=True)
    due_at = fields.String(allow_none=True)


class ClocksSchema(Answer):
    issue_id = fields.String(required=True)
    clocks = fields.List(fields.Nested(ClockSchema), required=True)


class EscalationsSchema(Answer):
    escalations = fields.List(fields.Dict(), required=True)


class OverdueSchema(Answer):
    class Count(Answer):
        street = fields.String(required=True, allow_none=True)
        unit_id = fields.String(required=True, allow_none=True)
        count = fields.Integer(required=True)

    overdue = fields.List(fields.Nested(Count), required=True)


class PoliciesSchema(Answer):
    calendar = fields.Dict(required=True)


SCHEMAS = {
    "ManualEscalation": ManualEscalationSchema,
    "Extension": ExtensionSchema,
    "CloseSupervision": CloseSupervisionSchema,
    "Clocks": ClocksSchema,
    "Escalations": EscalationsSchema,
    "Overdue": OverdueSchema,
    "Policies": PoliciesSchema,
}
COMMAND_ERRORS = (403, 404, 409, 422)  # shared.errors, as commands raise them
COMMANDS = (
    ("escalate", "A supervisor moves the issue one level up now", "ManualEscalation"),
    ("extend", "A supervisor extends a deadline, with a reason", "Extension"),
    ("supervision/close", "The district leader closes supervision (督辦)", "CloseSupervision"),
)


@lru_cache(maxsize=1)
def document() -> dict:
    spec = new_spec(
        "Loudong escalation",
        "Clocks, escalations, what is overdue and the policies in force, to look at; "
        "supervisors act by hand with their unit token (Authorization: Bearer <unit token>).",
        SCHEMAS,
    )
    issue = [path_parameter("issue_id", "the issue's id")]
    spec.path(
        "/v1/issues/{issue_id}/clocks",
        operations={
            "get": operation(
                "An issue's claim, resolve and supervision clocks",
                {200: ("its clocks", "Clocks")},
                (404,),
                parameters=issue,
                public=True,
            )
        },
    )
    for action, summary, body in COMMANDS:
        spec.path(
            f"/v1/issues/{{issue_id}}/{action}",
            operations={
                "post": operation(
                    summary,
                    {200: ("the issue's clocks as they now stand", "Clocks")},
                    COMMAND_ERRORS,
                    body=body,
                    parameters=issue,
                )
            },
        )
    spec.path(
        "/v1/escalations",
        operations={
            "get": operation(
                "Escalations fired, newest first",
                {200: ("escalations", "Escalations")},
                (400,),
                parameters=[{"in": "query", "schema": EscalationQuerySchema}],
                public=True,
            )
        },
    )
    spec.path(
        "/v1/overdue",
        operations={
            "get": operation(
                "Deadlines past due right now, per street and unit",
                {200: ("counts", "Overdue")},
                public=True,
            )
        },
    )
    spec.path(
        "/v1/policies",
        operations={
            "get": operation(
                "The time limits in force and how far the holiday calendar reaches",
                {200: ("the policies", "Policies")},
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
