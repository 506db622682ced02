"""HTTP plumbing shared by the four services: problem+json errors (RFC 9457), strict JSON
bodies, and the operations endpoints /healthz, /readyz and /metrics."""

from __future__ import annotations

import json
import logging
import re
import time
import uuid
from collections.abc import Callable

from flask import Flask, Response, g, request
from marshmallow import Schema, ValidationError
from werkzeug.exceptions import HTTPException

from shared import logs, metrics

log = logging.getLogger(__name__)
MAX_BODY = 64 * 1024
PROBLEM_TYPE = "application/problem+json"
MAX_DEPTH = 64  # arrays and objects in a body; none of ours nests more than a few
_JSON_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"')
_BRACKETS = re.compile(rb"[\[\]{}]")
_SURROGATE = re.compile("[\ud800-\udfff]")


class Problem(Exception):
    """An error answered as application/problem+json; `errors` names each bad field."""

    def __init__(
        self,
        status: int,
        title: str,
        detail: str | None = None,
        errors: dict | None = None,
        headers: dict | None = None,
        **extra,
    ):
        super().__init__(title)
        self.status, self.title, self.detail = status, title, detail
        self.errors, self.headers, self.extra = errors, headers or {}, extra


def problem_response(
    status: int,
    title: str,
    detail: str | None = None,
    errors: dict | None = None,
    headers: dict | None = None,
    **extra,
) -> Response:
    body = {"type": "about:blank", "title": title, "status": status}
    if detail:
        body["detail"] = detail
    if errors:
        body["errors"] = errors
    body.update(extra)
    return Response(
        json.dumps(body, ensure_ascii=False), status=status, mimetype=PROBLEM_TYPE, headers=headers
    )


def plain(row: dict) -> dict:
    """A store row as JSON: datetimes in ISO 8601, everything else as it is."""
    return {k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in row.items()}


def load_json(raw: bytes) -> object:
    """A request body parsed as JSON, or a 400 Problem: malformed, nested deeper than
    MAX_DEPTH (the parser would recurse until RecursionError), or holding a lone UTF-16
    surrogate ("\\ud800", which no database stores), named by where it is."""
    depth = nesting_depth(raw)
    if depth > MAX_DEPTH:
        raise Problem(400, "Malformed JSON", f"the body is nested deeper than {MAX_DEPTH} levels")
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise Problem(400, "Malformed JSON", f"the body is not valid JSON: {exc}") from None
    where = _surrogate_at(data)
    if where is not None:
        raise Problem(
            400,
            "Malformed JSON",
            "the body holds a lone UTF-16 surrogate, which is not text",
            errors={where or "body": ["contains a lone UTF-16 surrogate (\\ud800-\\udfff)"]},
        )
    return data


def nesting_depth(raw: bytes) -> int:
    """How deep arrays and objects nest in `raw`, brackets inside strings not counted."""
    outside = _JSON_STRING.sub(b"", raw)
    depth = deepest = 0
    for bracket in _BRACKETS.findall(outside):
        depth += 1 if bracket in b"[{" else -1
        deepest = max(deepest, depth)
    return deepest


def _surrogate_at(data, path: str = "") -> str | None:
    """The dotted path of the first string (or key) with a lone surrogate, or None."""
    if isinstance(data, str):
        return path if _SURROGATE.search(data) else None
    items = (
        data.items()
        if isinstance(data, dict)
        else enumerate(data)
        if isinstance(data, list)
        else ()
    )
    for key, value in items:
        where = f"{path}.{key}" if path else str(key)
        if isinstance(key, str) and _SURROGATE.search(key):
            return where
        found = _surrogate_at(value, where)
        if found is not None:
            return found
    return None


def json_body(schema: Schema) -> dict:
    """The request body loaded by `schema`, or a Problem naming what is wrong with it."""
    if request.mimetype != "application/json":
        raise Problem(
            415,
            "Unsupported Media Type",
            f"send the body as application/json, not {request.mimetype or 'nothing'}",
        )
    # Kept (cache=True): a request retried on a fresh database connection (shared.web) reads
    # its body again. MAX_CONTENT_LENGTH refuses bodies over 64 KiB before this.
    data = load_json(request.get_data(cache=True))
    if not isinstance(data, dict):
        raise Problem(422, "Invalid body", "the body must be a JSON object")
    try:
        return schema.load(data)
    except ValidationError as exc:
        raise Problem(
            422,
            "Invalid body",
            "some fields are missing or invalid",
            errors=exc.normalized_messages(),
        ) from None


def install(
    app: Flask,
    service: str,
    ready_checks: dict[str, Callable[[], bool]],
    collectors: tuple = (),
    warnings: dict[str, Callable[[], str | None]] | None = None,
) -> None:
    """Errors as problem+json, request metrics, and the operations endpoints. `warnings` are
    things an operator must act on soon that do not make the service unready (e.g. a working
    calendar about to run out): /readyz says them without turning 503."""
    app.config["MAX_CONTENT_LENGTH"] = MAX_BODY
    app.json.ensure_ascii = False  # UTF-8 as it is: curl shows 百安新村, not \u767e\u5b89

    @app.errorhandler(Problem)
    def _problem(exc: Problem):
        return problem_response(
            exc.status, exc.title, exc.detail, exc.errors, exc.headers, **exc.extra
        )

    @app.errorhandler(HTTPException)
    def _http(exc: HTTPException):
        detail = f"the body is over {MAX_BODY // 1024} KiB" if exc.code == 413 else exc.description
        return problem_response(exc.code or 500, exc.name, detail)

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception):
        log.exception("%s: unhandled error on %s %s", service, request.method, request.path)
        return problem_response(500, "Internal Server Error", "the error was logged")

    @app.before_request
    def _follow_request():
        """The gateway's X-Request-Id (or a new one) as this request's correlation id: logged
        on every line, carried by the events it causes, answered back in the header."""
        if "log_about" in g:
            return  # run again after a dropped database connection: already followed
        g.request_id = logs.request_id(request.headers.get("X-Request-Id")) or str(uuid.uuid4())
        g.log_about = logs.about(correlation_id=g.request_id)
        g.log_about.__enter__()

    @app.teardown_request
    def _forget_request(_exc):
        about = g.pop("log_about", None)
        if about is not None:
            about.__exit__(None, None, None)

    @app.after_request
    def _answer_request_id(response: Response):
        if "request_id" in g:
            response.headers.setdefault("X-Request-Id", g.request_id)
        return response

    @app.before_request
    def _start_timer():
        g.started = time.perf_counter()

    @app.after_request
    def _count(response: Response):
        endpoint = request.url_rule.rule if request.url_rule else "unmatched"
        metrics.HTTP_REQUESTS.labels(
            service, endpoint, request.method, str(response.status_code)
        ).inc()
        metrics.HTTP_SECONDS.labels(service, endpoint).observe(
            time.perf_counter() - g.get("started", 0)
        )
        return response

    @app.get("/healthz")
    def healthz():
        """Alive: the process answers."""
        return {"status": "ok", "service": service}

    @app.get("/readyz")
    def readyz():
        """Ready: its store and its bus answer."""
        checks = {}
        for name, check in ready_checks.items():
            try:
                checks[name] = "ok" if check() else "unavailable"
            except Exception as exc:
                checks[name] = f"unavailable: {type(exc).__name__}"
        ok = all(v == "ok" for v in checks.values())
        body = {"status": "ok" if ok else "unavailable", "checks": checks}
        said = {name: text for name, warn in (warnings or {}).items() if (text := warn())}
        if said:
            body["warnings"] = said
        return body, 200 if ok else 503

    @app.get("/metrics")
    def metrics_endpoint():
        readiness = metrics.ReadinessCollector(service, ready_checks)
        body, content_type = metrics.exposition((readiness, *collectors))
        return Response(body, content_type=content_type)
