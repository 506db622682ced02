"""Intake tells time by its injected clock, and refuses a rate limit it cannot read."""

import pytest

from services.intake.settings import IntakeSettings
from shared.config import ConfigError
from tests.helpers import AUTH, SUBMISSION, FakeClock, build, emitted, event


def test_submission_and_status_times_come_from_the_injected_clock(tmp_path):
    clock = FakeClock()
    intake = build("intake", tmp_path, clock)
    client = intake.app.test_client()
    issue_id = client.post("/v1/issues", headers=AUTH, json=SUBMISSION).json["id"]
    clock.advance(minutes=5)

    intake.subscriber.apply(
        event("issue.claimed", issue_id, {"unit_id": "baian-xincun-property"}).to_json()
    )

    shown = client.get(f"/v1/issues/{issue_id}", headers=AUTH).json
    assert shown["submitted_at"] == "2026-11-26T02:00:00+00:00"
    assert shown["updated_at"] == "2026-11-26T02:05:00+00:00"
    [submitted] = emitted(intake.store, "issue.submitted")
    assert submitted.payload["submitted_at"] == "2026-11-26T02:00:00+00:00"
    intake.store.dispose()


def test_a_rate_limit_not_in_limits_notation_is_refused_by_name():
    with pytest.raises(ConfigError, match="LOUDONG_RATE_LIMIT='fast'"):
        IntakeSettings.from_env({"LOUDONG_RATE_LIMIT": "fast"})
