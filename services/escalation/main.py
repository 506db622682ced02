"""Escalation's composition root."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from pathlib import Path

from district import directory
from district.directory import Directory
from services.escalation import policies
from services.escalation.app import create_app
from services.escalation.handlers import EVENT_HANDLERS
from services.escalation.loops import run_sweeper
from services.escalation.metrics import ClockCollector
from services.escalation.schemas import EVENT_READERS, write_payload
from services.escalation.settings import EscalationSettings
from shared.config import Settings
from shared.envelope import utcnow
from shared.outbox import Store
from shared.runtime import Service, assemble

MIGRATIONS = Path(__file__).parent / "migrations"


@dataclass(frozen=True)
class Context:
    directory: Directory
    policies: policies.Policies
    clock: Callable[[], datetime] = utcnow  # tests inject their own time


def bootstrap(settings: Settings, clock: Callable[[], datetime] = utcnow) -> Service:
    own = EscalationSettings.from_env(settings.env)
    context = Context(
        directory.load(settings.directory_path), policies.load(settings.policies_path), clock
    )
    service_store = Store("escalation", settings.database_url, MIGRATIONS, write_payload)
    loops = {"sweeper": partial(run_sweeper, service_store, context, own.sweep_interval)}
    return assemble(
        settings,
        service_store,
        EVENT_HANDLERS,
        EVENT_READERS,
        context,
        create_app,
        loops,
        collectors=(ClockCollector(service_store, clock),),
    )
