"""The Flask shell every service shares: its app with the domain error table, the store and
context its views reach, and the bearer credential they read."""

from __future__ import annotations

from collections.abc import Callable

from flask import Blueprint, Flask, current_app, request

from shared.errors import ERRORS, Conflict, DomainError, Invalid
from shared.http import Problem, problem_response


def service_app(service: str, service_store, context, *blueprints: Blueprint) -> Flask:
    """A service's Flask app: its blueprints, and every DomainError answered by ERRORS."""
    app = Flask(f"loudong.{service}")
    app.extensions["loudong"] = {"store": service_store, "context": context}
    for blueprint in blueprints:
        app.register_blueprint(blueprint)
    app.register_error_handler(DomainError, _answer)
    return app


def _answer(exc: DomainError):
    status, title = next(answer for kind, answer in ERRORS.items() if isinstance(exc, kind))
    extra = {"state": exc.state} if isinstance(exc, Conflict) and exc.state else {}
    return problem_response(
        status, title, str(exc), errors=exc.errors if isinstance(exc, Invalid) else None, **extra
    )


def current_store():
    """The store of the service serving this request."""
    return current_app.extensions["loudong"]["store"]


def current_context():
    """The Context of the service serving this request, as its handlers see it."""
    return current_app.extensions["loudong"]["context"]


def bearer_token() -> str | None:
    """The credential of `Authorization: Bearer <token>`, or None when there is none. Tokens
    are printable ASCII: any other byte (a header is read as latin-1) is no credential."""
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not (token.isascii() and token.isprintable()):
        return None
    return token or None


def unauthorized(realm: str, detail: str) -> Problem:
    """401 with the challenge that tells a client which credential to send."""
    return Problem(
        401, "Unauthorized", detail, headers={"WWW-Authenticate": f'Bearer realm="{realm}"'}
    )


def unit_signed_in(unit_of_token: Callable[[str], str | None]):
    """The directory's unit behind the request's unit token; `unit_of_token` looks the token up
    in the calling service's own store (dispatch issues them, escalation learns their hashes)."""
    token = bearer_token()
    unit_id = unit_of_token(token) if token else None
    unit = current_context().directory.units.get(unit_id or "")
    if unit is None:
        raise unauthorized("loudong-units", "send Authorization: Bearer <unit token>")
    return unit
