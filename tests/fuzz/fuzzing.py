"""Schemathesis against a service's own OpenAPI document, in this process: the service is
built once per module on SQLite (tests.helpers.build), its document loaded from the WSGI app,
and every generated request checked for a 5xx and for answers off the document (status,
content type, body schema). LOUDONG_FUZZ_EXAMPLES sets the examples per operation: small by
default so that `make test` stays fast, 2000 under `make fuzz`."""

from __future__ import annotations

import os
import tempfile
from collections import Counter
from pathlib import Path

import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.helpers import FakeClock, build

EXAMPLES = int(os.environ.get("LOUDONG_FUZZ_EXAMPLES", "50"))
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
# Per service: requests sent, requests that failed a check, and answers by status code; the
# session's summary prints them (tests/fuzz/conftest.py).
FIGURES: dict[str, Counter] = {}
STATUSES: dict[str, Counter] = {}


def service(name: str, **extra):
    """The service built in a directory of its own for the module's run, not started."""
    return build(name, Path(tempfile.mkdtemp(prefix=f"fuzz-{name}-")), FakeClock(), **extra)


def schema_of(built) -> schemathesis.schemas.BaseSchema:
    return schemathesis.openapi.from_wsgi("/v1/openapi.json", built.app)


def sized(test):
    """Hypothesis settings for a fuzz test: EXAMPLES examples, no deadline (the first request
    of an operation warms SQLite), no example database written into the tree."""
    return settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )(test)


def call_and_check(name: str, case, headers: dict | None = None, send=None) -> None:
    """Send the case with `headers` (the credential it needs), or by `send(case)` where the
    credential depends on the bytes sent, and apply CHECKS, counted."""
    figures = FIGURES.setdefault(name, Counter())
    figures["cases"] += 1
    response = send(case) if send else case.call(headers=headers)
    STATUSES.setdefault(name, Counter())[response.status_code] += 1
    try:
        case.validate_response(response, checks=CHECKS)
    except BaseException:
        figures["failures"] += 1
        raise
