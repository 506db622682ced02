"""Notify's composition root."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import astuple, dataclass, field
from datetime import datetime
from functools import partial
from pathlib import Path

from district import directory
from district.directory import Directory
from services.notify import model, templates
from services.notify.app import create_app
from services.notify.channels import SmtpChannel, WebhookChannel
from services.notify.handlers import EVENT_HANDLERS
from services.notify.loops import run_sender
from services.notify.providers import AliyunSmsProvider, Failover, GenericSmsProvider
from services.notify.schemas import EVENT_READERS, write_payload
from services.notify.settings import NotifySettings
from services.notify.templates import Renderer
from shared.config import ConfigError, Settings
from shared.envelope import utcnow
from shared.outbox import Store
from shared.runtime import Service, assemble

MIGRATIONS = Path(__file__).parent / "migrations"
Channel = Failover | SmtpChannel | WebhookChannel


@dataclass(frozen=True)
class Context:
    settings: NotifySettings
    channels: dict[str, Channel]  # sms (providers with failover); email, webhook if configured
    renderer: Renderer
    directory: Directory  # a unit's contacts and webhook: events name the unit only
    clock: Callable[[], datetime] = utcnow
    deliveries_planned: threading.Event = field(default_factory=threading.Event)  # wakes the sender


def bootstrap(settings: Settings, clock: Callable[[], datetime] = utcnow) -> Service:
    notify = NotifySettings.from_env(settings.env)
    context = Context(
        settings=notify,
        channels=channels_from(notify, settings.sms_url),
        renderer=renderer_from(notify),
        directory=directory.load(settings.directory_path),
        clock=clock,
    )
    service_store = Store("notify", settings.database_url, MIGRATIONS, write_payload)
    loops = {"sender": partial(run_sender, service_store, context, settings.idle_poll)}
    return assemble(
        settings, service_store, EVENT_HANDLERS, EVENT_READERS, context, create_app, loops
    )


def renderer_from(notify: NotifySettings) -> Renderer:
    """The templates, every one checked against its sample: a broken one stops the start."""
    renderer = Renderer(notify.templates, notify.language)
    try:
        templates.check_all(renderer, (*model.ROUTES, *model.REPLY_CAUSES))
    except templates.TemplateError as exc:
        raise ConfigError(f"notify templates: {exc}") from None
    return renderer


def channels_from(notify: NotifySettings, sms_url: str | None) -> dict[str, Channel]:
    channels: dict[str, Channel] = {"sms": Failover(providers_from(notify, sms_url))}
    if notify.smtp:
        smtp = notify.smtp
        channels["email"] = SmtpChannel(smtp.host, smtp.port, smtp.sender, notify.sms_timeout)
    if notify.webhook_secret:
        channels["webhook"] = WebhookChannel(notify.webhook_secret, notify.sms_timeout)
    return channels


def providers_from(notify: NotifySettings, sms_url: str | None) -> list:
    """The SMS providers in the order LOUDONG_SMS_PROVIDERS names them."""
    if "generic" in notify.providers and not sms_url:
        raise ConfigError("LOUDONG_SMS_URL is not set: the generic SMS provider needs it")
    built = {
        "generic": lambda: GenericSmsProvider(sms_url, notify.sms_timeout),
        "aliyun": lambda: AliyunSmsProvider(*astuple(notify.aliyun), notify.sms_timeout),
    }
    return [built[name]() for name in notify.providers]
