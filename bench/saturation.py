"""The whole pipeline at saturation: wrk offers intake all it takes for a while, then every
issue accepted is carried to its SMS. Issues carried per second: the issues intake accepted
that an SMS at the provider names, over the time from the load's start to the last such SMS.
A figure for the whole pipeline, not for intake: an issue counts once it reached a phone."""

from __future__ import annotations

import re
import time
from dataclasses import dataclass

import sqlalchemy as sa

from bench import infra, latency
from services.notify.model import reference
from shared.config import SERVICES

_REFERENCE = re.compile(r"[0-9a-f]{8}")


@dataclass
class Saturation:
    accepted: int  # issues intake stored during the load
    carried: int  # of those, the ones an SMS named once the backlog drained
    load_seconds: float
    carry_seconds: float  # from the load's start to the last SMS naming one of them
    drained: bool

    @property
    def accepted_per_second(self) -> float:
        return self.accepted / self.load_seconds if self.load_seconds else 0.0

    @property
    def carried_per_second(self) -> float:
        return self.carried / self.carry_seconds if self.carry_seconds else 0.0


def measure(offer, sms_url: str, cap: float = 180) -> Saturation:
    """`offer()` loads intake (wrk) and returns; then wait until the backlog drains."""
    started = time.time()
    offer()
    load_seconds = time.time() - started
    drained, _waited, _count = latency.wait_for_drain(
        sms_url, [f"loudong.{s}" for s in SERVICES], cap=cap
    )
    references = {reference(issue_id) for issue_id in _accepted_issue_ids()}
    named_at: dict[str, float] = {}
    for message in latency.sink_messages(sms_url):
        for ref in _REFERENCE.findall(message["text"]):
            if ref in references and message["received_at"] >= started:
                named_at.setdefault(ref, message["received_at"])
    last = max(named_at.values(), default=started)
    return Saturation(len(references), len(named_at), load_seconds, last - started, drained)


def _accepted_issue_ids() -> list[str]:
    engine = sa.create_engine(infra.database_url("loudong_bench_intake"))
    try:
        with engine.connect() as conn:
            return list(conn.execute(sa.text("SELECT id FROM issues")).scalars())
    finally:
        engine.dispose()
