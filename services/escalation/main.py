"""Escalation's composition root."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from pathlib import Path

from district import directory, policies
from district.calendar import Schedule
from district.directory import Directory
from services.escalation.app import create_app
from services.escalation.handlers import EVENT_HANDLERS
from services.escalation.loops import run_sweeper
from services.escalation.metrics import CalendarCollector, ClockCollector
from services.escalation.schemas import EVENT_READERS, write_payload
from services.escalation.settings import EscalationSettings
from shared.config import Settings
from shared.db import is_sqlite
from shared.envelope import utcnow
from shared.outbox import Store
from shared.runtime import Service, assemble

MIGRATIONS = Path(__file__).parent / "migrations"
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Context:
    directory: Directory
    policies: policies.Policies
    clock: Callable[[], datetime] = utcnow  # tests inject their own time
    schedule: Schedule = field(default_factory=Schedule)  # which days are working days
    link_secret: str | None = None  # the leader's board's session key; None: no board


def bootstrap(settings: Settings, clock: Callable[[], datetime] = utcnow) -> Service:
    own = EscalationSettings.from_env(settings.env)
    loaded, schedule = policies.in_force(settings.policies_path, own.calendar_path)
    units = directory.load(settings.directory_path)
    policies.check_units(loaded, units.units, settings.policies_path)  # a bad `to` stops here
    context = Context(units, loaded, clock, schedule, own.link_secret)
    today = clock().astimezone(loaded.calendar.zone).date()
    warning = schedule.warning(today)
    if warning:
        log.warning("escalation: %s", warning)
    else:
        log.info("escalation: holiday calendar known until %s", schedule.known_until())
    service_store = Store("escalation", settings.database_url, MIGRATIONS, write_payload)
    sweep = partial(run_sweeper, service_store, context, own.sweep_interval)
    # On PostgreSQL a second sweeper fires its batch while the first waits on the database
    # (SKIP LOCKED keeps them apart, as it does replicas); SQLite writes one at a time.
    count = 1 if is_sqlite(settings.database_url) else own.sweepers
    loops = {"sweeper" if n == 1 else f"sweeper-{n}": sweep for n in range(1, count + 1)}
    return assemble(
        settings,
        service_store,
        EVENT_HANDLERS,
        EVENT_READERS,
        context,
        create_app,
        loops,
        collectors=(ClockCollector(service_store, clock), CalendarCollector(schedule, loaded)),
        warnings={
            "calendar": lambda: schedule.warning(clock().astimezone(loaded.calendar.zone).date())
        },
    )
