"""Submission → SMS at the provider: paced submissions to intake, matched with what the
local SMS provider (devtools.sms_sink) received by each issue's short reference."""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field

import requests

from bench import infra
from bench.load import AUTH, submission
from services.notify.model import reference

_REFERENCE = re.compile(r"[0-9a-f]{8}")


@dataclass
class LatencyResult:
    latencies_ms: list[float] = field(default_factory=list)
    submitted: int = 0
    rejected: int = 0
    submit_seconds: float = 0.0  # from the first POST to the last answer
    carry_seconds: float = 0.0  # from the first POST to the last matched SMS

    @property
    def missing(self) -> int:
        return self.submitted - len(self.latencies_ms)

    @property
    def accepted_per_second(self) -> float:
        return self.submitted / self.submit_seconds if self.submit_seconds else 0.0

    @property
    def carried_per_second(self) -> float:
        return len(self.latencies_ms) / self.carry_seconds if self.carry_seconds else 0.0

    def percentile(self, p: float) -> float:
        """Nearest-rank percentile."""
        ordered = sorted(self.latencies_ms)
        rank = max(1, -(-len(ordered) * p // 100))  # ceil
        return ordered[int(rank) - 1]


def sink_messages(sms_url: str) -> list[dict]:
    response = requests.get(f"{sms_url}/messages", timeout=30)
    response.raise_for_status()
    return response.json()["messages"]


def wait_for_drain(
    sms_url: str, queues: list[str], cap: float = 120, stable_for: float = 3
) -> tuple[bool, float, int]:
    """Until the service queues are empty and the provider's message count has not grown
    for `stable_for` seconds. (drained?, seconds waited, messages at the provider)."""
    started = time.monotonic()
    last_count, stable_since = -1, time.monotonic()
    with infra.broker() as conn:
        while time.monotonic() - started < cap:
            count = len(sink_messages(sms_url))
            backlog = sum(infra.queue_depth(conn, q) or 0 for q in queues)
            if count != last_count or backlog:
                last_count, stable_since = count, time.monotonic()
            elif time.monotonic() - stable_since >= stable_for:
                return True, time.monotonic() - started, count
            time.sleep(1)
    return False, time.monotonic() - started, last_count


def submit_paced(
    intake_url: str, count: int, rate: float, tag: str = "p"
) -> tuple[dict[str, float], int]:
    """POST `count` submissions at `rate`/s: ({issue id: when its POST began}, rejected).
    `tag` names the run: each run's buildings are its own, or its issues would be linked as
    duplicates of the previous run's (and never sent)."""
    submitted_at: dict[str, float] = {}
    rejected = 0
    with requests.Session() as session:
        session.headers.update(AUTH)
        first = time.monotonic()
        for i in range(count):
            delay = first + i / rate - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            began = time.time()
            response = session.post(
                f"{intake_url}/v1/issues", json=submission(f"{tag}{i}"), timeout=30
            )
            if response.status_code == 201:
                submitted_at[response.json()["id"]] = began
            else:
                rejected += 1
    return submitted_at, rejected


def match_deliveries(
    sms_url: str, submitted_at: dict[str, float], timeout: float = 60
) -> dict[str, float]:
    """When the first SMS naming each issue's reference arrived (time.time()), polling the
    provider until every issue has one or `timeout` passes."""
    by_reference = {reference(issue_id): began for issue_id, began in submitted_at.items()}
    arrived: dict[str, float] = {}
    deadline = time.monotonic() + timeout
    while True:
        for message in sink_messages(sms_url):
            for ref in _REFERENCE.findall(message["text"]):
                began = by_reference.get(ref)
                if began is not None and message["received_at"] >= began:
                    arrived[ref] = min(arrived.get(ref, float("inf")), message["received_at"])
        if len(arrived) == len(by_reference) or time.monotonic() > deadline:
            break
        time.sleep(1)
    return arrived


def measure(intake_url: str, sms_url: str, count: int = 200, rate: float = 20) -> LatencyResult:
    started = time.time()
    submitted_at, rejected = submit_paced(intake_url, count, rate, tag=f"r{rate:g}-")
    answered = time.time()
    arrived = match_deliveries(sms_url, submitted_at)
    began = {reference(issue_id): at for issue_id, at in submitted_at.items()}
    return LatencyResult(
        [(at - began[ref]) * 1000 for ref, at in arrived.items()],
        submitted=len(submitted_at),
        rejected=rejected,
        submit_seconds=answered - started,
        carry_seconds=max(arrived.values(), default=started) - started,
    )
