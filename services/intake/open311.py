"""Open311 GeoReport v2 at /open311/v2/, in JSON and XML, so that any Open311 client can
submit to and follow Loudong. Reads are public, as the spec intends; submitting needs an
api_key with the `submit` scope."""

from __future__ import annotations

import json
import re
from collections import Counter
from datetime import datetime, timedelta
from urllib.parse import unquote_to_bytes

from flask import Blueprint, request
from marshmallow import ValidationError
from werkzeug.exceptions import HTTPException

from services.intake import commands, metrics, model, queries, store
from services.intake import open311_format as fmt311
from services.intake.commands import BadIdempotencyKey, IdempotencyConflict
from services.intake.open311_openapi import document
from services.intake.open311_schemas import FORM_FIELDS, MAX_DESCRIPTION
from services.intake.schemas import CHINA_LAT, CHINA_LON
from shared.http import MAX_BODY, PROBLEM_TYPE, Problem
from shared.inputs import sane_moment
from shared.web import current_context, current_store

api = Blueprint("open311", __name__, url_prefix="/open311/v2")
FORMAT = "<any(json,xml):fmt>"
# attribute[code], and attribute[code][] for a multivaluelist
ATTRIBUTE = re.compile(r"^attribute\[([^\[\]]*)\](\[\])?$")
# FixMyStreet's id of its report: the issue's external_id for the gateway
CLIENT_REFERENCE = "fixmystreet_id"
FORM_NAMES = {
    "category": "service_code",
    "lon": "long",
    "media_urls": "media_url",
    "attributes": "attribute",
    "external_id": f"attribute[{CLIENT_REFERENCE}]",
}
MAX_RECORDS, MAX_DAYS = 1000, 90
STATUS_FILTER = {"open": {"received", "dispatched", "claimed"}, "closed": {"resolved", "closed"}}


class Open311Error(Exception):
    """A refusal in the spec's own terms: a status and one description per problem."""

    def __init__(self, status: int, *descriptions: str, headers: dict | None = None):
        super().__init__(descriptions[0])
        self.status, self.descriptions, self.headers = status, descriptions, headers or {}


@api.errorhandler(Open311Error)
@api.errorhandler(Problem)
@api.errorhandler(BadIdempotencyKey)
@api.errorhandler(IdempotencyConflict)
@api.errorhandler(HTTPException)
def _error(exc: Exception):
    """Every refusal on this API as the spec's error list, which Open311 clients parse."""
    error = _as_open311(exc)
    response = fmt311.errors(_format(), error.status, *error.descriptions)
    response.headers.update(error.headers)
    return response


@api.after_app_request
def _no_problem_json_here(response):
    """What never reaches this API's handlers (a path or method it does not route, the database
    out of reach, an unexpected error) the app answers in problem+json: under this API's
    prefix, the spec's error list instead, with the same status and headers."""
    if response.mimetype != PROBLEM_TYPE or not request.path.startswith(f"{api.url_prefix}/"):
        return response
    problem = json.loads(response.get_data())
    said = fmt311.errors(_format(), response.status_code, problem.get("detail") or problem["title"])
    response.set_data(said.get_data())
    response.headers["Content-Type"] = said.headers["Content-Type"]
    return response


def _format() -> str:
    """The format asked for: the route's, or where nothing routed, the path's suffix."""
    fmt = (request.view_args or {}).get("fmt")
    return fmt or ("xml" if request.path.endswith(".xml") else "json")


def _as_open311(exc: Exception) -> Open311Error:
    """What the shared plumbing refuses (the key, the rate, idempotency, the body's size), said
    in this API's words."""
    if isinstance(exc, Open311Error):
        return exc
    if isinstance(exc, Problem) and exc.status == 429:
        return Open311Error(429, exc.detail, headers=exc.headers)
    if isinstance(exc, Problem):  # the authenticator's 401: the spec names the api_key
        return Open311Error(403, "api_key is missing, unknown or revoked")
    if isinstance(exc, BadIdempotencyKey):
        return Open311Error(400, str(exc))
    if isinstance(exc, IdempotencyConflict):
        return Open311Error(400, _conflict(exc))
    if exc.code == 413:
        return Open311Error(413, f"the body is over {MAX_BODY // 1024} KiB")
    return Open311Error(exc.code or 500, exc.description)


@api.after_request
def _count_rejections(response):
    if request.method == "POST" and 400 <= response.status_code < 500:
        metrics.SUBMISSIONS_REJECTED.labels(str(response.status_code)).inc()
    return response


@api.before_request
def _form_in_utf8():
    """Werkzeug reads a form leniently, U+FFFD for bytes that are not UTF-8 (a lone surrogate's
    among them): the spec asks for UTF-8, and the rest would be stored garbled. Before anything
    reads the form; a multipart form's parts say their own charset."""
    if request.mimetype != "application/x-www-form-urlencoded":
        return
    try:
        unquote_to_bytes(request.get_data(cache=True)).decode("utf-8")
    except UnicodeDecodeError:
        raise Open311Error(400, "the form is not UTF-8: percent-encode its UTF-8 bytes") from None


@api.before_request
def _jurisdiction():
    jurisdiction = request.values.get("jurisdiction_id")
    if jurisdiction and jurisdiction != current_context().directory.district:
        raise Open311Error(404, f"jurisdiction_id {jurisdiction} not found")


@api.get("/openapi.json")
def openapi_document():
    """This API as an OpenAPI 3 document (services.intake.open311_openapi)."""
    return document(current_context().directory)


@api.get(f"/discovery.{FORMAT}")
def discovery(fmt: str):
    return fmt311.render(
        "discovery",
        {
            "changeset": "2026-11-26T00:00:00+08:00",
            "contact": "the district's 12345 office",
            "key_service": "ask the district for an API key (loudong keys create GATEWAY)",
            "endpoints": [
                {
                    "specification": "http://wiki.open311.org/GeoReport_v2",
                    "url": request.url_root + "open311/v2",
                    "changeset": "2026-11-26T00:00:00+08:00",
                    "type": "production",
                    "formats": ["application/json", "text/xml"],
                }
            ],
        },
        fmt,
    )


@api.get(f"/services.{FORMAT}")
def services(fmt: str):
    return fmt311.render(
        "services",
        [fmt311.service(c) for c in current_context().directory.categories.values()],
        fmt,
    )


@api.get(f"/services/<service_code>.{FORMAT}")
def service_definition(service_code: str, fmt: str):
    category = current_context().directory.categories.get(service_code)
    if category is None:
        raise Open311Error(404, f"service_code {service_code} not found")
    return fmt311.render("service_definition", fmt311.service_definition(category), fmt)


@api.post(f"/requests.{FORMAT}")
def create_request(fmt: str):
    """201 with the new request; 200 with the same answer for a repeat the client sent after a
    timeout, known by its Idempotency-Key header or its attribute[fixmystreet_id]."""
    if request.mimetype not in ("application/x-www-form-urlencoded", "multipart/form-data"):
        raise Open311Error(400, "send the request form-encoded (application/x-www-form-urlencoded)")
    principal = _principal(request.form.get("api_key"))
    submission = _submission(request.form)
    issue_id, created = commands.submit(
        current_store(),
        current_context(),
        principal.gateway,
        submission,
        request.headers.get("Idempotency-Key"),
        request.headers.get("X-Request-Id"),
    )
    accepted = {
        "service_request_id": issue_id,
        "service_notice": "已受理，将派至责任单位",
        "account_id": None,
    }
    return fmt311.render("service_requests", [accepted], fmt, 201 if created else 200)


def _conflict(exc: IdempotencyConflict) -> str:
    kind, _, value = exc.key.partition(":")
    named = (
        f"Idempotency-Key {value}" if kind == "key" else f"attribute[{CLIENT_REFERENCE}] {value}"
    )
    return (
        f"{named} was already used for service_request_id {exc.issue_id}, "
        "with a different request; send a repeat unchanged, or a new request with a new reference"
    )


def _principal(api_key: str | None):
    authenticator = current_context().authenticator
    principal = authenticator.from_key(api_key or "")
    if "submit" not in principal.scopes:
        raise Open311Error(403, "this api_key may not submit requests")
    authenticator.check_rate(principal)
    return principal


def _repeated(form) -> list[str]:
    """Fields sent more than once: only media_url and a multivaluelist's attribute[code][]
    may be, and attribute[code] with attribute[code][] is one answer given twice."""
    times = Counter()
    for key in form:
        match = ATTRIBUTE.match(key)
        repeatable = key == "media_url" or bool(match and match[2])
        times[f"attribute[{match[1]}]" if match else key] += (
            1 if repeatable else len(form.getlist(key))
        )
    return sorted(name for name, n in times.items() if n > 1)


def _submission(form) -> dict:
    unknown = sorted(k for k in form if k not in FORM_FIELDS and not ATTRIBUTE.match(k))
    problems = [f"{k}: not a field of this API" for k in unknown]
    problems += [f"{name}: given more than once" for name in _repeated(form)]
    if not form.get("service_code"):
        problems.append("service_code: required")
    if len(form.get("description", "")) > MAX_DESCRIPTION:
        problems.append(f"description: at most {MAX_DESCRIPTION} characters")
    try:
        lat, lon = (
            (float(form["lat"]), float(form["long"]))
            if form.get("lat") or form.get("long")
            else (None, None)
        )
        if lat is not None and not (
            CHINA_LAT[0] <= lat <= CHINA_LAT[1] and CHINA_LON[0] <= lon <= CHINA_LON[1]
        ):  # also nan and inf; 1e200 would overflow the search for the nearest street
            raise model.Unlocatable(
                f"lat and long must be inside China (lat {CHINA_LAT[0]}–{CHINA_LAT[1]}, "
                f"long {CHINA_LON[0]}–{CHINA_LON[1]})"
            )
        location = model.locate(
            current_context().directory,
            form.get("address_id"),
            form.get("address_string"),
            lat,
            lon,
        )
    except (KeyError, ValueError) as exc:
        unlocatable = isinstance(exc, model.Unlocatable)
        problems.append(f"location: {exc if unlocatable else 'lat and long must be numbers'}")
        location = {}
    if problems:
        raise Open311Error(400, *problems)
    name = " ".join(p for p in (form.get("last_name"), form.get("first_name")) if p)
    attributes = _attributes(form)
    media = [url for url in form.getlist("media_url") if url]  # FixMyStreet: one per photo
    body = {
        "channel": "app",
        "category": form["service_code"],
        "description": form.get("description", ""),
        "location": location,
        "attributes": attributes,
        "media_urls": media,
    }
    if attributes.get(CLIENT_REFERENCE, "").strip():
        body["external_id"] = attributes[CLIENT_REFERENCE]
    if form.get("phone"):
        body["reporter"] = {
            "name": name or "居民",
            "phone": form["phone"],
            "consent": True,
            **({"email": form["email"]} if form.get("email") else {}),
        }
    try:
        return current_context().submission_schema.load(body)
    except ValidationError as exc:
        raise Open311Error(400, *_flatten(exc.normalized_messages())) from None


def _attributes(form) -> dict:
    """attribute[code]=v, and a multivaluelist's attribute[code][]=v1&attribute[code][]=v2
    as "v1,v2"."""
    attributes = {}
    for key in form:
        match = ATTRIBUTE.match(key)
        if match:
            attributes[match[1]] = (
                ",".join(v for v in form.getlist(key) if v) if match[2] else form[key]
            )
    return attributes


def _flatten(messages, prefix: str = "") -> list[str]:
    """Marshmallow's errors as the form's own names: service_code, long, attribute[code]..."""
    out = []
    for field, value in messages.items():
        name = FORM_NAMES.get(field, field)
        if field == "attributes" and isinstance(value, dict):
            out += [f"attribute[{code}]: {'; '.join(map(str, v))}" for code, v in value.items()]
        elif isinstance(value, dict):
            out += _flatten(value, "" if field in ("location", "reporter") else f"{prefix}{name}.")
        else:
            out.append(f"{prefix}{name}: {'; '.join(map(str, value))}")
    return out


@api.get(f"/requests.{FORMAT}")
def list_requests(fmt: str):
    args = request.args
    with current_store().read() as conn:
        if args.get("service_request_id"):
            issues = queries.issues_by_ids(
                conn, [i for i in args["service_request_id"].split(",") if i][:MAX_RECORDS]
            )
        else:
            start, end = _date_range(args)
            statuses = set().union(
                *(STATUS_FILTER[s] for s in _listed(args.get("status"), STATUS_FILTER, "status"))
            )
            codes = _listed(
                args.get("service_code"), current_context().directory.categories, "service_code"
            )
            issues = queries.issues_between(conn, start, end, codes, statuses, MAX_RECORDS)
    directory = current_context().directory
    service_requests = [fmt311.service_request(issue, directory) for issue in issues]
    return fmt311.render("service_requests", service_requests, fmt)


@api.get(f"/requests/<service_request_id>.{FORMAT}")
def show_request(service_request_id: str, fmt: str):
    with current_store().read() as conn:
        issue = store.get_issue(conn, service_request_id)
    if issue is None:
        raise Open311Error(404, f"service_request_id {service_request_id} not found")
    return fmt311.render(
        "service_requests", [fmt311.service_request(issue, current_context().directory)], fmt
    )


@api.get(f"/tokens/<token>.{FORMAT}")
def token(token: str, fmt: str):
    """Requests are created at once, so a token is the request's own id."""
    with current_store().read() as conn:
        issue = store.get_issue(conn, token)
    if issue is None:
        raise Open311Error(404, f"token {token} not found")
    return fmt311.render("service_requests", [{"service_request_id": token, "token": token}], fmt)


@api.get(f"/servicerequestupdates.{FORMAT}")
def updates(fmt: str):
    """FixMyStreet's feed of changes, so a client can follow requests without polling each."""
    start, end = _date_range(request.args, default_days=1)
    with current_store().read() as conn:
        rows = queries.updates_between(conn, start, end, MAX_RECORDS)
    return fmt311.render(
        "service_request_updates",
        [
            {
                "update_id": str(r["seq"]),
                "service_request_id": r["issue_id"],
                "status": "closed" if r["type"] == "issue.resolved" else "open",
                "updated_datetime": fmt311.w3c(r["occurred_at"]),
                "description": r["summary"],
                "media_url": None,
            }
            for r in rows
        ],
        fmt,
    )


def _listed(raw: str | None, allowed, name: str) -> list[str]:
    values = [v for v in (raw or "").split(",") if v]
    bad = [v for v in values if v not in allowed]
    if bad:
        raise Open311Error(400, f"{name}: unknown {', '.join(bad)}")
    return values


def _date_range(args, default_days: int = MAX_DAYS) -> tuple[datetime, datetime]:
    try:
        end = _w3c(args["end_date"]) if args.get("end_date") else current_context().clock()
        start = (
            _w3c(args["start_date"])
            if args.get("start_date")
            else end - timedelta(days=default_days)
        )
    except ValueError as exc:
        raise Open311Error(400, f"start_date/end_date: {exc}") from None
    if start > end:
        raise Open311Error(400, "start_date is after end_date")
    if end - start > timedelta(days=MAX_DAYS):
        raise Open311Error(400, f"start_date and end_date may span at most {MAX_DAYS} days")
    return start, end


def _w3c(text: str) -> datetime:
    value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if value.tzinfo is None:
        raise ValueError(
            f"{text!r} has no time zone (use W3C format, e.g. 2026-11-26T08:00:00+08:00)"
        )
    try:
        return sane_moment(value)
    except ValueError as exc:
        raise ValueError(f"{text!r} {exc}") from None
