"""Dispatch's composition root."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from pathlib import Path

from district import directory
from district.directory import Directory
from services.dispatch import rules
from services.dispatch.app import create_app
from services.dispatch.handlers import EVENT_HANDLERS
from services.dispatch.metrics import OpenCasesCollector
from services.dispatch.schemas import EVENT_READERS, write_payload
from services.dispatch.sweeper import run_feedback_sweeper
from shared.config import REPO_ROOT, Settings
from shared.envelope import utcnow
from shared.outbox import Store
from shared.runtime import Service, assemble

MIGRATIONS = Path(__file__).parent / "migrations"


@dataclass(frozen=True)
class Context:
    directory: Directory
    rules: rules.Rules
    clock: Callable[[], datetime] = utcnow  # tests inject their own time


def bootstrap(settings: Settings, clock: Callable[[], datetime] = utcnow) -> Service:
    rules_path = Path(
        settings.env.get("LOUDONG_DISPATCH_RULES") or REPO_ROOT / "deploy" / "dispatch.yaml"
    )
    context = Context(directory.load(settings.directory_path), rules.load(rules_path), clock)
    service_store = Store("dispatch", settings.database_url, MIGRATIONS, write_payload)
    loops = {"feedback": partial(run_feedback_sweeper, service_store, context, 1.0)}
    return assemble(
        settings,
        service_store,
        EVENT_HANDLERS,
        EVENT_READERS,
        context,
        create_app,
        loops,
        collectors=(OpenCasesCollector(service_store),),
    )
