"""Notify's composition root."""
from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import Callable

from services.notify.app import create_app
from services.notify.handlers import EVENT_HANDLERS
from services.notify.schemas import EVENT_READERS, write_payload
from services.notify.sender import run_sender
from services.notify.sms import GenericSmsProvider
from shared.config import ConfigError, Settings
from shared.envelope import utcnow
from shared.outbox import Store
from shared.runtime import Service, assemble

MIGRATIONS = Path(__file__).parent / "migrations"


@dataclass
class Context:
    provider: object
    provider_timeout: float
    max_attempts: int
    retry_base: float
    clock: Callable[[], datetime] = utcnow
    deliveries_planned: threading.Event = field(default_factory=threading.Event)


def bootstrap(settings: Settings, clock: Callable[[], datetime] = utcnow) -> Service:
    if not settings.sms_url:
        raise ConfigError("LOUDONG_SMS_URL is not set: notify needs an SMS provider to send through")
    env = settings.env
    timeout = float(env.get("LOUDONG_SMS_TIMEOUT") or 10)
    context = Context(provider=GenericSmsProvider(settings.sms_url, timeout), provider_timeout=timeout,
                      max_attempts=int(env.get("LOUDONG_SMS_MAX_ATTEMPTS") or 5),
                      retry_base=float(env.get("LOUDONG_SMS_RETRY_BASE") or 2), clock=clock)
    service_store = Store("notify", settings.database_url, MIGRATIONS, write_payload)
    loops = {"sender": partial(run_sender, service_store, context, settings.poll_interval)}
    return assemble(settings, service_store, EVENT_HANDLERS, EVENT_READERS, context, create_app, loops)
