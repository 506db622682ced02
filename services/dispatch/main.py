"""Dispatch's composition root."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from pathlib import Path

from district import directory, policies
from district.calendar import calendar_path
from district.directory import Directory
from services.dispatch import rules
from services.dispatch.app import create_app
from services.dispatch.handlers import EVENT_HANDLERS
from services.dispatch.loops import run_feedback_sweeper
from services.dispatch.metrics import OpenCasesCollector
from services.dispatch.schemas import EVENT_READERS, write_payload
from services.dispatch.settings import DispatchSettings
from shared.config import Settings
from shared.envelope import utcnow
from shared.outbox import Store
from shared.runtime import Service, assemble

MIGRATIONS = Path(__file__).parent / "migrations"
FEEDBACK_SWEEP_INTERVAL = 1.0  # seconds; feedback times are days, so this is plenty


@dataclass(frozen=True)
class Context:
    directory: Directory
    rules: rules.Rules
    policies: policies.Policies  # the time limits: a lead's dispatch names its claim deadline
    clock: Callable[[], datetime] = utcnow  # tests inject their own time
    link_secret: str | None = None  # units' links and page sessions; None: neither
    link_grace: timedelta = timedelta(days=7)  # a link works this long after the issue closed
    public_url: str = "http://127.0.0.1:8082"  # where units' phones reach dispatch
    desk_refresh: timedelta = timedelta(seconds=20)  # how often an open desk board reloads


def bootstrap(settings: Settings, clock: Callable[[], datetime] = utcnow) -> Service:
    own = DispatchSettings.from_env(settings.env)
    in_force, _schedule = policies.in_force(settings.policies_path, calendar_path(settings.env))
    context = Context(
        directory.load(settings.directory_path),
        rules.load(own.rules_path),
        in_force,
        clock,
        link_secret=own.link_secret,
        link_grace=own.link_grace,
        public_url=own.public_url,
        desk_refresh=own.desk_refresh,
    )
    service_store = Store("dispatch", settings.database_url, MIGRATIONS, write_payload)
    sweeper = partial(run_feedback_sweeper, service_store, context, FEEDBACK_SWEEP_INTERVAL)
    return assemble(
        settings,
        service_store,
        EVENT_HANDLERS,
        EVENT_READERS,
        context,
        create_app,
        {"feedback": sweeper},
        collectors=(OpenCasesCollector(service_store, clock),),
    )
