"""One issue's path through the four services, from their own stores: each event, when the
service that wrote it committed it and when the relay published it, when each consumer applied
it, and each message notify sent about it — what `loudong trace ISSUE_ID` prints. Read-only;
addresses masked. Events the relay has already pruned from an outbox are no longer shown."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import MetaData, Table, select

from shared import config
from shared.db import create_engines
from shared.outbox import inbox, outbox
from shared.privacy import mask_address


@dataclass(frozen=True)
class Step:
    at: datetime
    service: str
    what: str  # committed, published, applied, sent, failed, pending
    subject: str  # the event type, or the message's channel and recipient
    detail: str = ""

    def line(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M:%S.%f}"[:-3] + (
            f"  {self.service:<10} {self.what:<9} {self.subject:<28} {self.detail}".rstrip()
        )


def trace(issue_id: str, env: dict | None = None) -> list[Step]:
    stores = {s: create_engines(config.database_url(s, env))[1] for s in config.SERVICES}
    steps: list[Step] = []
    written: dict[str, str] = {}  # event id -> type
    for service, engine in stores.items():
        with engine.connect() as conn:
            rows = conn.execute(
                select(outbox.c.event_id, outbox.c.type, outbox.c.created_at, outbox.c.published_at)
                .where(outbox.c.issue_id == issue_id)
                .order_by(outbox.c.seq)
            ).all()
        for row in rows:
            written[row.event_id] = row.type
            steps.append(Step(row.created_at, service, "committed", row.type, row.event_id[:8]))
            if row.published_at:
                steps.append(Step(row.published_at, service, "published", row.type))
    for service, engine in stores.items():
        with engine.connect() as conn:
            applied = conn.execute(
                select(inbox.c.event_id, inbox.c.applied_at).where(
                    inbox.c.event_id.in_(list(written))
                )
            ).all()
        steps += [
            Step(r.applied_at, service, "applied", written[r.event_id], r.event_id[:8])
            for r in applied
        ]
    steps += _messages(stores["notify"], issue_id)
    for engine in stores.values():
        engine.dispose()
    return sorted(steps, key=lambda s: s.at)


def _aware(at: datetime) -> datetime:
    """A moment read without the store's own column type (SQLite keeps it naive, in UTC)."""
    return at if at.tzinfo else at.replace(tzinfo=UTC)


def _messages(engine, issue_id: str) -> list[Step]:
    deliveries = Table("deliveries", MetaData(), autoload_with=engine)
    with engine.connect() as conn:
        rows = conn.execute(
            select(deliveries)
            .where(deliveries.c.issue_id == issue_id)
            .order_by(deliveries.c.created_at)
        ).mappings()
        steps = []
        for d in rows:
            to = f"{d['channel']} to {d['recipient_unit_id']}"
            at = _aware(d["finished_at"] or d["created_at"])
            detail = f"{mask_address(d['address'])} ({d['cause_type']}, attempts {d['attempts']})"
            steps.append(Step(at, "notify", d["status"], to, detail))
    return steps
