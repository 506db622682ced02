"""The clock's own decisions, without a store: which events may move it, pausing and
resuming, climbing one level, who may act on it."""

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from district import directory, policies
from services.escalation.model import Clock, Lead, may_act
from shared.config import REPO_ROOT

NOW = datetime(2026, 11, 26, 2, 0, tzinfo=UTC)
LEAD = Lead("i1", 2, "baian-xincun-property", "small", "baianba")


@pytest.fixture
def limits(tmp_path: Path) -> policies.Policies:
    path = tmp_path / "policies.yaml"
    path.write_text(
        "tiers:\n"
        + "".join(
            f"  {t}: {{claim_within: PT2H, resolve_within: P3D, time: calendar}}\n"
            for t in ("private", "small", "big", "hard")
        )
    )
    return policies.load(path)


def test_a_clock_is_armed_only_by_a_newer_assignment_and_stopped_by_the_same(limits):
    claim = Clock.armed(LEAD, "claim", None, limits, NOW)

    assert (claim.may_arm(2), claim.may_arm(3)) == (False, True)
    assert (claim.may_stop(1), claim.may_stop(2)) == (False, True)
    assert claim.due_at == NOW + timedelta(hours=2) and claim.level == 0


def test_a_paused_clock_resumes_with_what_was_left(limits):
    resolve = Clock.armed(LEAD, "resolve", None, limits, NOW)

    paused = resolve.paused(limits, NOW + timedelta(days=1))
    resumed = paused.resumed(limits, NOW + timedelta(days=10))

    assert paused.state == "paused" and paused.paused_seconds == timedelta(days=2).total_seconds()
    assert resumed.state == "armed" and resumed.due_at == NOW + timedelta(days=12)
    assert resumed.paused_seconds is None


def test_moving_up_gives_the_next_unit_the_whole_limit_again(limits):
    claim = Clock.armed(LEAD, "claim", None, limits, NOW)

    moved = claim.moved_up("baian-committee", limits, NOW + timedelta(hours=3))

    assert (moved.level, moved.unit_id) == (1, "baian-committee")
    assert moved.due_at == NOW + timedelta(hours=5) and moved.assignment == claim.assignment


def test_units_above_the_clock_may_act_on_it_and_the_unit_itself_may_not(limits):
    district = directory.load(REPO_ROOT / "deploy" / "directory.yaml")
    units = district.units
    claim = Clock.armed(LEAD, "claim", None, limits, NOW)

    assert may_act(district, units["baian-committee"], claim)
    assert may_act(district, units["baianba-office"], claim)
    assert not may_act(district, units["baian-xincun-property"], claim)
