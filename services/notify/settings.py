"""Notify's own settings: every LOUDONG_ variable it reads beyond the common Settings."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import time, timedelta
from pathlib import Path

from services.notify import templates
from shared import config
from shared.config import ConfigError

PROVIDERS = ("generic", "aliyun")
LANGUAGES = ("zh", "en")


@dataclass(frozen=True)
class Smtp:
    host: str
    port: int
    sender: str


@dataclass(frozen=True)
class Aliyun:
    endpoint: str
    access_key_id: str
    access_key_secret: str
    sign_name: str
    template_code: str


@dataclass(frozen=True)
class NotifySettings:
    sms_timeout: float  # seconds, for every channel's provider
    max_attempts: int
    retry_base: float  # seconds of the first backoff
    max_parts: int
    quiet_hours: tuple[time, time]  # Beijing time
    recipient_limit: tuple[int, timedelta]  # per resident's phone
    unit_limit: tuple[int, timedelta]  # per unit contact's address
    templates: Path
    language: str
    providers: tuple[str, ...]  # SMS providers, in the order they are tried
    aliyun: Aliyun | None = None  # when "aliyun" is among the providers
    smtp: Smtp | None = None  # no email without it
    webhook_secret: str | None = None  # no webhooks without it
    receipt_secret: str | None = None  # receipts refused without it
    admin_token: str | None = None  # no resends without it
    link_secret: str | None = None  # no links in SMS without it
    public_url: str = "http://127.0.0.1:8082"  # dispatch's, as units' phones reach it
    deadline_wait: float = 5  # seconds a dispatch notice waits for its claim deadline

    @classmethod
    def from_env(cls, env: dict) -> NotifySettings:
        providers = _providers(env)
        return cls(
            sms_timeout=config.number(env, "LOUDONG_SMS_TIMEOUT", 10, minimum=0.001),
            max_attempts=config.integer(env, "LOUDONG_SMS_MAX_ATTEMPTS", 5, minimum=1),
            retry_base=config.number(env, "LOUDONG_SMS_RETRY_BASE", 2, minimum=0),
            max_parts=config.integer(env, "LOUDONG_SMS_MAX_PARTS", 2, minimum=1),
            quiet_hours=config.daily_window(env, "LOUDONG_QUIET_HOURS", "22:00-07:00"),
            recipient_limit=config.rate(env, "LOUDONG_RECIPIENT_LIMIT", "20/hour"),
            unit_limit=config.rate(env, "LOUDONG_UNIT_RECIPIENT_LIMIT", "600/hour"),
            templates=config.path(env, "LOUDONG_TEMPLATES", templates.DEFAULT_DIR),
            language=config.choice(env, "LOUDONG_NOTIFY_LANGUAGE", "zh", LANGUAGES),
            providers=providers,
            aliyun=_aliyun(env) if "aliyun" in providers else None,
            smtp=_smtp(env),
            webhook_secret=config.text(env, "LOUDONG_WEBHOOK_SECRET"),
            receipt_secret=config.text(env, "LOUDONG_SMS_RECEIPT_SECRET"),
            admin_token=config.text(env, "LOUDONG_ADMIN_TOKEN"),
            link_secret=config.text(env, "LOUDONG_LINK_SECRET"),
            public_url=_public_url(env),
            deadline_wait=config.number(env, "LOUDONG_DEADLINE_WAIT", 5, minimum=0),
        )


def _providers(env: dict) -> tuple[str, ...]:
    """LOUDONG_SMS_PROVIDERS=generic,aliyun: each name one of PROVIDERS."""
    name = "LOUDONG_SMS_PROVIDERS"
    names = (config.text(env, name) or "generic").split(",")
    return tuple(config.choice({name: n}, name, "generic", PROVIDERS) for n in names)


def _public_url(env: dict) -> str:
    """Dispatch's public address; by default where dispatch listens on this machine."""
    port = config.integer(env, "LOUDONG_DISPATCH_PORT", config.DEFAULT_PORTS["dispatch"], minimum=1)
    return config.text(env, "LOUDONG_PUBLIC_URL", f"http://127.0.0.1:{port}").rstrip("/")


def _aliyun(env: dict) -> Aliyun:
    names = (
        "LOUDONG_ALIYUN_ACCESS_KEY_ID",
        "LOUDONG_ALIYUN_ACCESS_KEY_SECRET",
        "LOUDONG_ALIYUN_SIGN_NAME",
        "LOUDONG_ALIYUN_TEMPLATE_CODE",
    )
    values = [config.text(env, name) for name in names]
    missing = [name for name, value in zip(names, values, strict=True) if value is None]
    if missing:
        raise ConfigError(f"the aliyun SMS provider needs {', '.join(missing)}")
    endpoint = config.text(env, "LOUDONG_ALIYUN_SMS_ENDPOINT", "https://dysmsapi.aliyuncs.com/")
    return Aliyun(endpoint, *values)


def _smtp(env: dict) -> Smtp | None:
    host = config.text(env, "LOUDONG_SMTP_HOST")
    if host is None:
        return None
    port = config.integer(env, "LOUDONG_SMTP_PORT", 25, minimum=1)
    return Smtp(host, port, config.text(env, "LOUDONG_SMTP_FROM", "loudong@localhost"))
