"""The Flask shell every service shares: its app with the domain error table, the store and
context its views reach, and the bearer credential they read. A request whose database
connection was dropped (a restart, a failover, a terminated backend) runs once more on a fresh
one; a database that stays out of reach is a 503 with Retry-After, never a 500."""

from __future__ import annotations

import logging
from collections.abc import Callable
from functools import partial

from flask import Blueprint, Flask, current_app, request
from sqlalchemy.exc import DBAPIError, DisconnectionError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from shared.db import connection_dropped
from shared.errors import ERRORS, Conflict, DomainError, Invalid
from shared.http import Problem, problem_response


def service_app(service: str, service_store, context, *blueprints: Blueprint) -> Flask:
    """A service's Flask app: its blueprints, and every DomainError answered by ERRORS."""
    app = Flask(f"loudong.{service}")
    app.extensions["loudong"] = {"store": service_store, "context": context}
    for blueprint in blueprints:
        app.register_blueprint(blueprint)
    app.register_error_handler(DomainError, _answer)
    # before_request hooks (credentials are looked up in the store) and the view alike
    app.preprocess_request = partial(_once_more_if_dropped, app, Flask.preprocess_request)
    app.dispatch_request = partial(_once_more_if_dropped, app, Flask.dispatch_request)
    for unavailable in (OperationalError, DisconnectionError, PoolTimeout):
        app.register_error_handler(unavailable, _store_unavailable)
    return app


log = logging.getLogger(__name__)
RETRY_AFTER_SECONDS = 2


def _once_more_if_dropped(app: Flask, step: Callable):
    """The step (the before_request hooks, or the view) again, once, when the database
    dropped its connection: the transaction it was in was rolled back. Views commit one unit
    of work at the end, so nothing of the first run stands; a drop during COMMIT itself is the
    one case that may have committed, and the writes that matter there are idempotent (API
    idempotency keys, the inbox)."""
    try:
        return step(app)
    except (DBAPIError, DisconnectionError) as exc:
        if not connection_dropped(exc):
            raise
        log.warning(
            "%s %s: database connection dropped; trying once more", request.method, request.path
        )
        # The server ended every backend, not only this one, as a restart or a failover does:
        # the pool's other connections are as dead, so it starts afresh.
        current_store().dispose()  # the engines stay usable: a new pool opens on demand
        return step(app)


def _store_unavailable(exc: Exception):
    log.warning("%s %s: database unavailable: %s", request.method, request.path, type(exc).__name__)
    return problem_response(
        503,
        "Service Unavailable",
        "the database is out of reach for a moment; try again",
        headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
    )


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
