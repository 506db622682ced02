"""What a service's OpenAPI document lists against what its Flask app routes, for the
services' tests/unit/*/test_openapi.py: every operation of the API blueprint, nothing else."""

import re

IGNORED_METHODS = {"HEAD", "OPTIONS"}
PAGES = {"/v1/docs"}  # the document as a page for people: not an operation of the API


def api_operations(app, blueprint: str, prefix: str = "/v1/") -> set[tuple[str, str]]:
    """(METHOD, /v1/path/{param}) of every route of the blueprint `blueprint` under `prefix`;
    a converter's arguments, as in <any(json,xml):fmt>, are dropped with it."""
    return {
        (method, re.sub(r"<(?:[^:>]+:)?(\w+)>", r"{\1}", rule.rule))
        for rule in app.url_map.iter_rules()
        if rule.endpoint.startswith(f"{blueprint}.")
        and rule.rule.startswith(prefix)
        and rule.rule not in PAGES
        for method in rule.methods - IGNORED_METHODS
    }


def documented_operations(doc: dict) -> set[tuple[str, str]]:
    return {(method.upper(), path) for path, ops in doc["paths"].items() for method in ops}
