"""Intake's composition root."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from marshmallow import Schema

from services.intake.app import create_app
from services.intake.handlers import EVENT_HANDLERS
from services.intake.schemas import EVENT_READERS, submission_schema, write_payload
from shared import directory
from shared.config import Settings
from shared.outbox import Store
from shared.runtime import Service, assemble

MIGRATIONS = Path(__file__).parent / "migrations"


@dataclass(frozen=True)
class Context:
    submission_schema: Schema


def bootstrap(settings: Settings) -> Service:
    places = directory.load(settings.directory_path)
    context = Context(submission_schema=submission_schema(places))
    service_store = Store("intake", settings.database_url, MIGRATIONS, write_payload)
    return assemble(settings, service_store, EVENT_HANDLERS, EVENT_READERS, context, create_app)
