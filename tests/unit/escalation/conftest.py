"""Escalation's unit tests: the service in this process on SQLite, time injected (never slept),
policies written by each test or taken from deploy/policies.yaml."""

import pytest

from services.escalation.loops import sweep_once
from tests.helpers import FakeClock, build

CALENDAR_POLICIES = "tiers:\n" + "".join(
    f"  {tier}: {{claim_within: PT2H, resolve_within: P3D, time: calendar}}\n"
    for tier in ("private", "small", "big", "hard")
)


@pytest.fixture
def clock():
    return FakeClock()


@pytest.fixture
def policies_text():
    """Override in a test module to give the service other policies."""
    return CALENDAR_POLICIES


@pytest.fixture
def escalation(tmp_path, clock, policies_text):
    path = tmp_path / "policies.yaml"
    path.write_text(policies_text)
    service = build("escalation", tmp_path, clock, LOUDONG_POLICIES=path)
    yield service
    service.store.dispose()


@pytest.fixture
def sweep(escalation):
    """Run the sweeper until nothing more is due; the number of clocks and warnings it fired."""

    def run() -> int:
        fired = total = sweep_once(escalation.store, escalation.context)
        while fired:
            fired = sweep_once(escalation.store, escalation.context)
            total += fired
        return total

    return run
