"""Dispatch's composition root."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from services.dispatch.app import create_app
from services.dispatch.handlers import EVENT_HANDLERS
from services.dispatch.schemas import EVENT_READERS, write_payload
from shared import directory
from shared.config import Settings
from shared.directory import Directory
from shared.outbox import Store
from shared.runtime import Service, assemble

MIGRATIONS = Path(__file__).parent / "migrations"


@dataclass(frozen=True)
class Context:
    directory: Directory


def bootstrap(settings: Settings) -> Service:
    context = Context(directory=directory.load(settings.directory_path))
    service_store = Store("dispatch", settings.database_url, MIGRATIONS, write_payload)
    return assemble(settings, service_store, EVENT_HANDLERS, EVENT_READERS, context, create_app)
