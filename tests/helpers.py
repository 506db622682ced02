"""Small helpers shared by the test layers: events, in-process services, waiting."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select

from services.dispatch import main as dispatch_main
from services.escalation import main as escalation_main
from services.intake import main as intake_main
from services.notify import main as notify_main
from shared import config
from shared.envelope import Envelope, parse
from shared.outbox import outbox

MAINS = {
    "intake": intake_main,
    "dispatch": dispatch_main,
    "escalation": escalation_main,
    "notify": notify_main,
}

SERVICES = config.SERVICES
SUBMISSION = {
    "channel": "hotline",
    "description": "百安新村3栋下水道堵了，污水漫到楼道",
    "category": "property_management",
    "location": {
        "street": "baianba",
        "community": "baian",
        "compound": "baian-xincun",
        "building": "3",
    },
    "reporter": {"name": "张三", "phone": "13800000000"},
}


def event(type_: str, issue_id: str, payload: dict, producer: str = "test") -> Envelope:
    return Envelope.caused_by(
        None, type=type_, issue_id=issue_id, producer=producer, payload=payload
    )


def wait_for(predicate, timeout: float = 20, interval: float = 0.1, what: str = "condition"):
    """Poll until `predicate()` is truthy and return its value; fail naming `what`."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


class FakeClock:
    """Time that only moves when a test says so."""

    def __init__(self, start: datetime | None = None):
        self.now = start or datetime(2026, 11, 26, 2, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kwargs) -> None:
        self.now += timedelta(**kwargs)


DEMO_KEY = "ld_test_demo_key_0123456789"
LINK_SECRET = "test-link-secret-0123456789"  # units' links, shared by dispatch and notify
AUTH = {"Authorization": f"Bearer {DEMO_KEY}"}
ADMIN_TOKEN = "test-admin-token-0123456789"  # notify's LOUDONG_ADMIN_TOKEN, where a test sets it
ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


def settings_for(service: str, tmp_path, **extra) -> config.Settings:
    env = {
        "LOUDONG_DATA_DIR": str(tmp_path / "data"),
        "LOUDONG_SMS_URL": "http://127.0.0.1:9",
        "LOUDONG_DEMO_API_KEY": DEMO_KEY,
        "LOUDONG_LINK_SECRET": LINK_SECRET,
        "LOUDONG_KEY_CACHE_SECONDS": "0",
        "LOUDONG_RETRY_DELAYS": "0,0",
        "LOUDONG_DEADLINE_WAIT": "0",  # a test holding a dispatch notice for its deadline says so
        **{k: str(v) for k, v in extra.items()},
    }
    return config.load(service, env)


def build(service: str, tmp_path, clock=None, **extra):
    """A service bootstrapped in this process on SQLite, migrated, not started."""
    module = MAINS[service]
    settings = settings_for(service, tmp_path, **extra)
    built = module.bootstrap(settings, clock) if clock is not None else module.bootstrap(settings)
    built.store.migrate()
    for hook in built.on_start:
        hook()
    return built


def emitted(store, type_: str | None = None) -> list[Envelope]:
    """The events a store's outbox holds, oldest first."""
    with store.read() as conn:
        query = select(outbox.c.body).order_by(outbox.c.seq)
        if type_:
            query = query.where(outbox.c.type == type_)
        return [parse(body) for body in conn.execute(query).scalars()]


def count_rows(store, table) -> int:
    with store.read() as conn:
        return conn.execute(select(func.count()).select_from(table)).scalar_one()
