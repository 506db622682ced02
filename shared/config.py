"""Configuration from environment variables, with defaults that work on a laptop."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import time, timedelta
from pathlib import Path

import isodate

SERVICES = ("intake", "dispatch", "escalation", "notify")
DEFAULT_PORTS = {"intake": 8081, "dispatch": 8082, "escalation": 8083, "notify": 8084}
REPO_ROOT = Path(__file__).resolve().parent.parent


# Every environment variable Loudong reads; README's table and docker-compose.yml are checked
# against this list by tests/contract.
VARIABLES = {
    "LOUDONG_DATA_DIR": "folder for the SQLite stores, bus cursors' locks and metrics files (`./data`)",
    "LOUDONG_BROKER_URL": "RabbitMQ URL, e.g. `amqp://guest:guest@127.0.0.1:5672//`; unset: the embedded bus",
    "LOUDONG_<SERVICE>_DATABASE_URL": "a service's PostgreSQL store, e.g. `postgresql://postgres@127.0.0.1/dispatch`; "
    "unset: SQLite `<LOUDONG_DATA_DIR>/<service>.db`",
    "LOUDONG_<SERVICE>_PORT": "a service's HTTP port (intake 8081, dispatch 8082, escalation 8083, notify 8084)",
    "LOUDONG_HOST": "address the services listen on (`127.0.0.1`)",
    "LOUDONG_WEB_WORKERS": "gunicorn worker processes per service, each a replica with its own consumer (2; `make run`: 1)",
    "LOUDONG_QUEUE_TYPE": "RabbitMQ's queues: `classic` (one broker) or `quorum` (replicated, for a cluster; on a fresh vhost, as a queue's type cannot change in place)",
    "LOUDONG_POLL_INTERVAL": "seconds between polls of the embedded bus, which has no other way to see the other services' events (0.1)",
    "LOUDONG_IDLE_POLL": "seconds between the relay's and the sender's polls when nothing wakes them (1): a commit in the same process wakes them at once; the poll finds what a killed replica left and retries that fell due",
    "LOUDONG_RETRY_DELAYS": "seconds before each retry of a failing handler, comma-separated; then dead-letter (`1,5,30`)",
    "LOUDONG_PREFETCH": "unacknowledged messages a RabbitMQ consumer may hold (50)",
    "LOUDONG_CONSUME_BATCH": "events a consumer applies in one transaction and acknowledges together, at most the prefetch; 1: one by one (50)",
    "LOUDONG_DIRECTORY": "places, units and categories (`deploy/directory.yaml`)",
    "LOUDONG_POLICIES": "time limits per tier (`deploy/policies.yaml`): dispatch names a lead's claim deadline by them, escalation enforces them; give both the same file",
    "LOUDONG_DISPATCH_RULES": "tier rules, returns before arbitration, time to wait for feedback (`deploy/dispatch.yaml`)",
    "LOUDONG_CALENDAR": "holidays and make-up workdays per year, for years chinese-calendar does not know (`deploy/calendar.yaml` if it exists); read by dispatch and escalation",
    "LOUDONG_SWEEP_INTERVAL": "the longest escalation sleeps between sweeps (0.25): it wakes at the next deadline its store knows, so a due clock fires within milliseconds",
    "LOUDONG_SWEEPERS": "sweeper threads per escalation replica on PostgreSQL (2): one fires its batch while the other waits on the database; SKIP LOCKED keeps them apart as it keeps replicas apart. On SQLite always one",
    "LOUDONG_SMS_URL": "the SMS provider (generic protocol); `make run` starts a local one on :8089",
    "LOUDONG_SMS_PROVIDERS": "SMS providers to try in order, comma-separated: `generic`, `aliyun` (`generic`)",
    "LOUDONG_ALIYUN_ACCESS_KEY_ID": "Aliyun SMS credentials (with `LOUDONG_ALIYUN_ACCESS_KEY_SECRET`)",
    "LOUDONG_ALIYUN_ACCESS_KEY_SECRET": "Aliyun SMS secret for the HMAC-SHA1 request signature",
    "LOUDONG_ALIYUN_SIGN_NAME": "Aliyun SMS signature name (签名) registered for the district",
    "LOUDONG_ALIYUN_TEMPLATE_CODE": "Aliyun SMS template code; its `content` parameter carries the text",
    "LOUDONG_ALIYUN_SMS_ENDPOINT": "Aliyun SendSms endpoint (`https://dysmsapi.aliyuncs.com/`)",
    "LOUDONG_SMS_RECEIPT_SECRET": "shared secret that signs delivery receipts (HMAC-SHA256); unset: receipts refused",
    "LOUDONG_SMTP_HOST": "SMTP server for email, the fallback when SMS cannot reach a contact; unset: no email",
    "LOUDONG_SMTP_PORT": "SMTP port (25)",
    "LOUDONG_SMTP_FROM": "sender address of Loudong's email (`loudong@localhost`)",
    "LOUDONG_WEBHOOK_SECRET": "signs webhook POSTs to units with their own systems (HMAC-SHA256); unset: no webhooks",
    "LOUDONG_RECIPIENT_LIMIT": "messages one resident may be sent per minute, hour or day; more wait (`20/hour`)",
    "LOUDONG_UNIT_RECIPIENT_LIMIT": "the same for one unit contact's address (`600/hour`)",
    "LOUDONG_ADMIN_TOKEN": "the administrator's token for resending a notification; unset: no resends",
    "LOUDONG_SMS_TIMEOUT": "seconds to wait for the SMS provider (10)",
    "LOUDONG_SMS_MAX_ATTEMPTS": "attempts per SMS before `notification.failed` (5)",
    "LOUDONG_SMS_RETRY_BASE": "seconds of the first SMS retry backoff, doubled each attempt, with jitter (2)",
    "LOUDONG_SMS_MAX_PARTS": "SMS parts a message may take; longer texts are shortened (2)",
    "LOUDONG_DEADLINE_WAIT": "seconds a unit's dispatch SMS waits for its claim deadline from escalation when the dispatch does not name it (an event from an older dispatch); then it goes without (5)",
    "LOUDONG_NOTIFY_INBOUND_URL": "where the local SMS provider forwards replies it receives (`make run`: notify's `/v1/inbound/generic`)",
    "LOUDONG_QUIET_HOURS": "when residents are not sent messages, Beijing time; held until it ends (`22:00-07:00`)",
    "LOUDONG_NOTIFY_LANGUAGE": "language of the messages: `zh` or `en` (`zh`)",
    "LOUDONG_TEMPLATES": "folder of the message templates, `<language>/<event type>.j2` (`services/notify/templates`)",
    "LOUDONG_LOG_LEVEL": "log level (`INFO`)",
    "LOUDONG_LOG_FORMAT": "`json` (one object a line: time, level, service, event type, issue, correlation and causation ids) or `text`; `loudong run` writes `text`",
    "LOUDONG_DEMO_API_KEY": "the demo gateway's API key (all scopes); `make run` makes one up and prints it",
    "LOUDONG_RATE_LIMIT": "requests per API key (per replica unless `LOUDONG_RATE_LIMIT_STORAGE` is set), in `limits` notation (`100/second`)",
    "LOUDONG_RATE_LIMIT_STORAGE": "where intake replicas share `LOUDONG_RATE_LIMIT`'s counts, a `limits` storage URI (`redis://127.0.0.1:6379/0`); unset: each replica's memory; while unreachable: each replica's memory, with a warning",
    "LOUDONG_KEY_CACHE_SECONDS": "how long a replica trusts a checked key; a revoked key stops within this (10)",
    "LOUDONG_LINK_SECRET": "secret shared by dispatch and notify from which a unit's short link (`/u/<code>`) is derived, and the key of the pages' sessions (dispatch's and escalation's leader board); unset: no links, no pages (`loudong run` makes one up)",
    "LOUDONG_PUBLIC_URL": "dispatch's address as units' phones reach it, for the links in SMS (`http://127.0.0.1:<dispatch port>`)",
    "LOUDONG_LINK_GRACE": "how long a unit's link keeps working after its issue is closed, ISO-8601 (`P7D`)",
    "PROMETHEUS_MULTIPROC_DIR": "where gunicorn workers share metrics (`<LOUDONG_DATA_DIR>/metrics/<service>-<port>`)",
}


class ConfigError(Exception):
    """A setting is missing or malformed; the message names the variable."""


def _raw(env: dict, name: str) -> str | None:
    raw = env.get(name)
    return None if raw is None or raw.strip() == "" else raw.strip()


def text(env: dict, name: str, default: str | None = None) -> str | None:
    """A string setting; unset or blank gives `default`."""
    raw = _raw(env, name)
    return default if raw is None else raw


def integer(env: dict, name: str, default: int, minimum: int | None = None) -> int:
    """A whole-number setting, e.g. LOUDONG_PREFETCH=50."""
    raw = _raw(env, name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name}={raw!r}: expected a whole number, e.g. {default}") from None
    return _at_least(name, raw, value, minimum)


def number(env: dict, name: str, default: float, minimum: float | None = None) -> float:
    """A number setting, e.g. LOUDONG_SMS_TIMEOUT=2.5 (seconds)."""
    raw = _raw(env, name)
    if raw is None:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{name}={raw!r}: expected a number, e.g. {default}") from None
    return _at_least(name, raw, value, minimum)


def _at_least(name: str, raw: str, value, minimum):
    if minimum is not None and value < minimum:
        raise ConfigError(f"{name}={raw!r}: expected at least {minimum}")
    return value


def seconds_list(env: dict, name: str, default: str) -> tuple[float, ...]:
    """Comma-separated seconds, e.g. LOUDONG_RETRY_DELAYS=1,5,30."""
    raw = _raw(env, name) or default
    try:
        delays = tuple(float(part) for part in raw.split(","))
    except ValueError:
        raise ConfigError(
            f"{name}={raw!r}: expected comma-separated seconds, e.g. {default}"
        ) from None
    if any(d < 0 for d in delays):
        raise ConfigError(f"{name}={raw!r}: expected no negative delay")
    return delays


RATE_PERIODS = {
    "second": timedelta(seconds=1),
    "minute": timedelta(minutes=1),
    "hour": timedelta(hours=1),
    "day": timedelta(days=1),
}


def rate(env: dict, name: str, default: str) -> tuple[int, timedelta]:
    """A count per period, e.g. LOUDONG_RECIPIENT_LIMIT=20/hour (second, minute, hour or day)."""
    raw = _raw(env, name) or default
    count, _, per = raw.partition("/")
    if not count.isdigit() or int(count) < 1 or per not in RATE_PERIODS:
        raise ConfigError(
            f"{name}={raw!r}: expected a count per second, minute, hour or day, e.g. {default}"
        )
    return int(count), RATE_PERIODS[per]


def daily_window(env: dict, name: str, default: str) -> tuple[time, time]:
    """A time-of-day range, e.g. LOUDONG_QUIET_HOURS=22:00-07:00 (it may run past midnight)."""
    raw = _raw(env, name) or default
    try:
        start, end = (time.fromisoformat(part.strip()) for part in raw.split("-"))
    except ValueError:
        raise ConfigError(f"{name}={raw!r}: expected HH:MM-HH:MM, e.g. {default}") from None
    return start, end


def choice(env: dict, name: str, default: str, options: tuple[str, ...]) -> str:
    """One of `options`, e.g. LOUDONG_NOTIFY_LANGUAGE=zh."""
    raw = _raw(env, name) or default
    if raw not in options:
        raise ConfigError(f"{name}={raw!r}: expected one of {', '.join(options)}")
    return raw


def duration(env: dict, name: str, default: str, minimum: timedelta | None = None) -> timedelta:
    """An ISO-8601 duration in days, hours, minutes or seconds, e.g. LOUDONG_LINK_GRACE=P7D."""
    raw = _raw(env, name) or default
    try:
        value = isodate.parse_duration(raw)
    except (isodate.ISO8601Error, ValueError):
        value = None
    if not isinstance(value, timedelta) or value < timedelta(0):
        raise ConfigError(f"{name}={raw!r}: expected an ISO-8601 duration, e.g. {default}")
    if minimum is not None and value < minimum:
        raise ConfigError(
            f"{name}={raw!r}: expected at least {isodate.duration_isoformat(minimum)}"
        )
    return value


def path(env: dict, name: str, default: Path) -> Path:
    """A file or folder; unset gives `default` (the repository's deploy/ files)."""
    raw = _raw(env, name)
    return default if raw is None else Path(raw)


@dataclass(frozen=True)
class Settings:
    service: str
    data_dir: Path
    database_url: str
    broker_url: str | None
    host: str
    port: int
    web_workers: int
    poll_interval: float
    idle_poll: float  # relay and sender: their own process's commits wake them, this is the rest
    retry_delays: tuple[float, ...]
    prefetch: int
    consume_batch: int
    directory_path: Path
    policies_path: Path
    sms_url: str | None
    queue_type: str  # RabbitMQ's queues: classic, or quorum on a fresh vhost
    env: dict = field(repr=False, default_factory=dict)

    @property
    def embedded_bus(self) -> bool:
        return not self.broker_url


def database_url(service: str, env: dict | None = None) -> str:
    """The store of one service: PostgreSQL if LOUDONG_<SERVICE>_DATABASE_URL is set, else SQLite."""
    env = os.environ if env is None else env
    url = env.get(f"LOUDONG_{service.upper()}_DATABASE_URL")
    if url:
        return url
    return f"sqlite:///{data_dir(env) / f'{service}.db'}"


def data_dir(env: dict | None = None) -> Path:
    env = os.environ if env is None else env
    return Path(env.get("LOUDONG_DATA_DIR") or "./data").resolve()


def load(service: str, env: dict | None = None) -> Settings:
    """The settings every service shares; a service reads its own from `env` in its settings.py."""
    env = dict(os.environ if env is None else env)
    if service not in SERVICES:
        raise ConfigError(f"unknown service {service!r}; expected one of {', '.join(SERVICES)}")
    return Settings(
        service=service,
        data_dir=data_dir(env),
        database_url=database_url(service, env),
        broker_url=text(env, "LOUDONG_BROKER_URL"),
        host=text(env, "LOUDONG_HOST", "127.0.0.1"),
        port=integer(env, f"LOUDONG_{service.upper()}_PORT", DEFAULT_PORTS[service], minimum=1),
        web_workers=integer(env, "LOUDONG_WEB_WORKERS", 2, minimum=1),
        poll_interval=number(env, "LOUDONG_POLL_INTERVAL", 0.1, minimum=0.001),
        idle_poll=number(env, "LOUDONG_IDLE_POLL", 1.0, minimum=0.001),
        queue_type=choice(env, "LOUDONG_QUEUE_TYPE", "classic", ("classic", "quorum")),
        retry_delays=seconds_list(env, "LOUDONG_RETRY_DELAYS", "1,5,30"),
        prefetch=integer(env, "LOUDONG_PREFETCH", 50, minimum=1),
        consume_batch=integer(env, "LOUDONG_CONSUME_BATCH", 50, minimum=1),
        directory_path=path(env, "LOUDONG_DIRECTORY", REPO_ROOT / "deploy" / "directory.yaml"),
        policies_path=path(env, "LOUDONG_POLICIES", REPO_ROOT / "deploy" / "policies.yaml"),
        sms_url=text(env, "LOUDONG_SMS_URL"),
        env=env,
    )
