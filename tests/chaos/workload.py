"""What the outside world does during a chaos run: a gateway submitting issues at a steady
rate, retrying with the same Idempotency-Key until it has an answer (as a gateway must when
a connection drops), and a property company claiming every third issue it is sent, retrying
the same way. What each got back is recorded for the checks afterwards."""

from __future__ import annotations

import itertools
import threading
import time
from dataclasses import dataclass, field

import requests

from tests.helpers import AUTH, SUBMISSION

UNIT = "baian-xincun-property"  # where SUBMISSION's property problems go
CLAIM_WITHIN_TRIES = 6.0  # seconds a claim is tried for: well inside the claim deadline
RETRYABLE = {429, 500, 502, 503, 504}


def submission(n: int, tag: str) -> dict:
    """Each at its own building, or later ones would be linked to the first as duplicates."""
    return {**SUBMISSION, "location": {**SUBMISSION["location"], "building": f"{tag}{n}"}}


@dataclass
class Outcomes:
    accepted: dict[str, int] = field(default_factory=dict)  # issue id -> submission number
    refused: list[tuple[int, int, str]] = field(default_factory=list)  # (n, status, body)
    retried_submissions: int = 0
    claimed: set[str] = field(default_factory=set)
    claim_given_up: set[str] = field(default_factory=set)
    lock: threading.Lock = field(default_factory=threading.Lock)


def _post(urls, path: str, give_up_at: float, **kwargs) -> requests.Response | None:
    """POST to each replica in turn until one answers something that is not a retryable
    failure, or `give_up_at` passes (None then)."""
    for url in itertools.cycle(urls):
        if time.monotonic() > give_up_at:
            return None
        try:
            response = requests.post(url + path, timeout=5, **kwargs)
        except requests.RequestException:
            time.sleep(0.2)
            continue
        if response.status_code not in RETRYABLE:
            return response
        time.sleep(0.2)
    return None


def submit(intake_urls: list[str], count: int, rate: float, tag: str, out: Outcomes) -> None:
    """`count` submissions at `rate`/s; each retried with its own Idempotency-Key."""
    first = time.monotonic()
    for n in range(count):
        delay = first + n / rate - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        key = f"chaos-{tag}-{n}"
        response = _post(
            intake_urls[n % len(intake_urls) :] + intake_urls[: n % len(intake_urls)],
            "/v1/issues",
            time.monotonic() + 120,
            json=submission(n, tag),
            headers={**AUTH, "Idempotency-Key": key},
        )
        with out.lock:
            if response is not None and response.status_code in (200, 201):
                out.accepted[response.json()["id"]] = n
            else:
                status = response.status_code if response is not None else 0
                out.refused.append(
                    (n, status, response.text[:300] if response is not None else "no answer")
                )


def claim_every_third(
    dispatch_urls: list[str], unit_headers: dict, out: Outcomes, stop: threading.Event
) -> None:
    """The unit claims every third accepted issue as soon as it is its to claim, trying for
    CLAIM_WITHIN_TRIES seconds from when it first sees the issue accepted."""
    first_seen: dict[str, float] = {}
    while not stop.is_set():
        with out.lock:
            todo = [
                i
                for i, n in out.accepted.items()
                if n % 3 == 0 and i not in out.claimed and i not in out.claim_given_up
            ]
        for issue_id in todo:
            seen = first_seen.setdefault(issue_id, time.monotonic())
            if time.monotonic() - seen > CLAIM_WITHIN_TRIES:
                out.claim_given_up.add(issue_id)
                continue
            response = _post(
                dispatch_urls,
                f"/v1/assignments/{issue_id}/claim",
                time.monotonic() + 0.5,
                headers=unit_headers,
            )
            status = response.status_code if response is not None else None
            # 409: an earlier try whose answer was lost may have claimed it; dispatch knows
            if status == 200 or (
                status == 409 and _claimed_by_unit(dispatch_urls, unit_headers, issue_id)
            ):
                out.claimed.add(issue_id)
            # 404 until dispatch has applied the submission: tried again on the next round
        stop.wait(0.2)


def _claimed_by_unit(dispatch_urls: list[str], unit_headers: dict, issue_id: str) -> bool:
    for url in dispatch_urls:
        try:
            shown = requests.get(
                f"{url}/v1/assignments/{issue_id}", headers=unit_headers, timeout=5
            )
        except requests.RequestException:
            continue
        if shown.status_code == 200:
            return any(
                a["unit_id"] == UNIT and a["claimed_at"] for a in shown.json()["assignments"]
            )
    return False
