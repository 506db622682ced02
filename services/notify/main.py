"""Notify's composition root."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from functools import partial
from pathlib import Path

from district import directory
from district.directory import Directory
from services.notify import model, templates
from services.notify.app import create_app
from services.notify.channels import SmtpChannel, WebhookChannel
from services.notify.handlers import EVENT_HANDLERS
from services.notify.providers import AliyunSmsProvider, Failover, GenericSmsProvider
from services.notify.schemas import EVENT_READERS, write_payload
from services.notify.sender import run_sender
from services.notify.templates import Renderer
from shared.config import ConfigError, Settings
from shared.envelope import utcnow
from shared.outbox import Store
from shared.runtime import Service, assemble

MIGRATIONS = Path(__file__).parent / "migrations"


@dataclass
class Context:
    channels: dict  # sms (providers with failover), and email and webhook when configured
    provider_timeout: float
    max_attempts: int
    retry_base: float
    renderer: Renderer
    max_parts: int
    quiet_hours: tuple[time, time]
    directory: Directory  # where a unit's contacts and webhook are found: events name the unit only
    receipt_secret: str | None = None
    recipient_limit: tuple[int, timedelta] = (20, timedelta(hours=1))
    unit_limit: tuple[int, timedelta] = (600, timedelta(hours=1))
    admin_token: str | None = None
    clock: Callable[[], datetime] = utcnow
    deliveries_planned: threading.Event = field(default_factory=threading.Event)


def bootstrap(settings: Settings, clock: Callable[[], datetime] = utcnow) -> Service:
    if not settings.sms_url and "generic" in (
        settings.env.get("LOUDONG_SMS_PROVIDERS") or "generic"
    ):
        raise ConfigError("LOUDONG_SMS_URL is not set: the generic SMS provider needs it")
    env = settings.env
    timeout = float(env.get("LOUDONG_SMS_TIMEOUT") or 10)
    renderer = Renderer(
        Path(env.get("LOUDONG_TEMPLATES") or templates.DEFAULT_DIR),
        env.get("LOUDONG_NOTIFY_LANGUAGE") or "zh",
    )
    try:
        templates.check_all(renderer, model.ROUTES)
    except templates.TemplateError as exc:
        raise ConfigError(f"notify templates: {exc}") from None
    context = Context(
        channels=channels_from(settings, timeout),
        provider_timeout=timeout,
        max_attempts=int(env.get("LOUDONG_SMS_MAX_ATTEMPTS") or 5),
        retry_base=float(env.get("LOUDONG_SMS_RETRY_BASE") or 2),
        renderer=renderer,
        max_parts=int(env.get("LOUDONG_SMS_MAX_PARTS") or 2),
        quiet_hours=_quiet(env.get("LOUDONG_QUIET_HOURS") or "22:00-07:00"),
        directory=directory.load(settings.directory_path),
        receipt_secret=env.get("LOUDONG_SMS_RECEIPT_SECRET"),
        recipient_limit=_limit(env.get("LOUDONG_RECIPIENT_LIMIT") or "20/hour"),
        unit_limit=_limit(env.get("LOUDONG_UNIT_RECIPIENT_LIMIT") or "600/hour"),
        admin_token=env.get("LOUDONG_ADMIN_TOKEN"),
        clock=clock,
    )
    service_store = Store("notify", settings.database_url, MIGRATIONS, write_payload)
    loops = {"sender": partial(run_sender, service_store, context, settings.poll_interval)}
    return assemble(
        settings, service_store, EVENT_HANDLERS, EVENT_READERS, context, create_app, loops
    )


def _quiet(text: str) -> tuple[time, time]:
    try:
        start, end = (time.fromisoformat(x.strip()) for x in text.split("-"))
    except ValueError:
        raise ConfigError(f"LOUDONG_QUIET_HOURS={text!r} is not HH:MM-HH:MM") from None
    return start, end


def channels_from(settings: Settings, timeout: float) -> dict:
    env = settings.env
    channels = {"sms": providers_from(settings, timeout)}
    if env.get("LOUDONG_SMTP_HOST"):
        channels["email"] = SmtpChannel(
            env["LOUDONG_SMTP_HOST"],
            int(env.get("LOUDONG_SMTP_PORT") or 25),
            env.get("LOUDONG_SMTP_FROM") or "loudong@localhost",
            timeout,
        )
    if env.get("LOUDONG_WEBHOOK_SECRET"):
        channels["webhook"] = WebhookChannel(env["LOUDONG_WEBHOOK_SECRET"], timeout)
    return channels


def providers_from(settings: Settings, timeout: float) -> Failover:
    """LOUDONG_SMS_PROVIDERS in order (default: generic); each one's credentials from the environment."""
    env, chain = settings.env, []
    for name in (env.get("LOUDONG_SMS_PROVIDERS") or "generic").split(","):
        if name == "generic":
            chain.append(GenericSmsProvider(settings.sms_url, timeout))
        elif name == "aliyun":
            missing = [
                k
                for k in (
                    "LOUDONG_ALIYUN_ACCESS_KEY_ID",
                    "LOUDONG_ALIYUN_ACCESS_KEY_SECRET",
                    "LOUDONG_ALIYUN_SIGN_NAME",
                    "LOUDONG_ALIYUN_TEMPLATE_CODE",
                )
                if not env.get(k)
            ]
            if missing:
                raise ConfigError(f"the aliyun SMS provider needs {', '.join(missing)}")
            chain.append(
                AliyunSmsProvider(
                    env.get("LOUDONG_ALIYUN_SMS_ENDPOINT") or "https://dysmsapi.aliyuncs.com/",
                    env["LOUDONG_ALIYUN_ACCESS_KEY_ID"],
                    env["LOUDONG_ALIYUN_ACCESS_KEY_SECRET"],
                    env["LOUDONG_ALIYUN_SIGN_NAME"],
                    env["LOUDONG_ALIYUN_TEMPLATE_CODE"],
                    timeout,
                )
            )
        else:
            raise ConfigError(f"LOUDONG_SMS_PROVIDERS: unknown provider {name!r} (generic, aliyun)")
    return Failover(chain)


def _limit(text: str) -> tuple[int, timedelta]:
    units = {"minute": timedelta(minutes=1), "hour": timedelta(hours=1), "day": timedelta(days=1)}
    count, _, per = text.partition("/")
    if not count.isdigit() or per not in units or int(count) < 1:
        raise ConfigError(f"recipient limit {text!r} is not like 20/hour (per minute, hour or day)")
    return int(count), units[per]
