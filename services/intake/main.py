"""Intake's composition root."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from marshmallow import Schema

from district import directory
from district.directory import Directory
from services.intake import commands
from services.intake.app import create_app
from services.intake.auth import Authenticator
from services.intake.handlers import EVENT_HANDLERS
from services.intake.rate_limit import KeyRateLimit
from services.intake.schemas import EVENT_READERS, submission_schema, write_payload
from services.intake.settings import IntakeSettings
from shared.config import Settings
from shared.envelope import utcnow
from shared.outbox import Store
from shared.runtime import Service, assemble

MIGRATIONS = Path(__file__).parent / "migrations"


@dataclass(frozen=True)
class Context:
    directory: Directory
    submission_schema: Schema
    authenticator: Authenticator
    clock: Callable[[], datetime] = utcnow  # tests inject their own time


def bootstrap(settings: Settings, clock: Callable[[], datetime] = utcnow) -> Service:
    own = IntakeSettings.from_env(settings.env)
    places = directory.load(settings.directory_path)
    service_store = Store("intake", settings.database_url, MIGRATIONS, write_payload)
    rate_limit = KeyRateLimit(own.rate_limit, own.rate_limit_storage)
    authenticator = Authenticator(service_store, rate_limit, own.key_cache_seconds)
    context = Context(places, submission_schema(places, clock), authenticator, clock)
    service = assemble(settings, service_store, EVENT_HANDLERS, EVENT_READERS, context, create_app)
    if own.demo_api_key:
        service.on_start.append(lambda: _ensure_demo_key(service_store, context, own.demo_api_key))
    return service


def _ensure_demo_key(service_store: Store, context: Context, key: str) -> None:
    with service_store.unit_of_work() as uow:
        commands.ensure_demo_key(uow, context, key)
