"""Intake's composition root."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from marshmallow import Schema

from district import directory
from district.directory import Directory
from services.intake import gateways
from services.intake.app import create_app
from services.intake.auth import Authenticator
from services.intake.handlers import EVENT_HANDLERS
from services.intake.schemas import EVENT_READERS, submission_schema, write_payload
from shared.config import Settings
from shared.outbox import Store
from shared.runtime import Service, assemble

MIGRATIONS = Path(__file__).parent / "migrations"


@dataclass(frozen=True)
class Context:
    directory: Directory
    submission_schema: Schema
    authenticator: Authenticator


def bootstrap(settings: Settings) -> Service:
    places = directory.load(settings.directory_path)
    service_store = Store("intake", settings.database_url, MIGRATIONS, write_payload)
    authenticator = Authenticator(
        service_store,
        settings.env.get("LOUDONG_RATE_LIMIT") or "100/second",
        float(settings.env.get("LOUDONG_KEY_CACHE_SECONDS") or 10),
    )
    context = Context(places, submission_schema(places), authenticator)
    service = assemble(settings, service_store, EVENT_HANDLERS, EVENT_READERS, context, create_app)
    demo_key = settings.env.get("LOUDONG_DEMO_API_KEY")
    if demo_key:
        service.on_start.append(lambda: _ensure_demo_key(service_store, demo_key))
    return service


def _ensure_demo_key(service_store: Store, key: str) -> None:
    with service_store.unit_of_work() as uow:
        gateways.ensure_demo_key(uow.conn, key)
