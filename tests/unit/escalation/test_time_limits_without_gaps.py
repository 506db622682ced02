"""Time limits without gaps: warnings paused with the resolve clock come back on resume, and
supervision that runs out is a step of the ladder (supervision_escalation)."""

import pytest

from district import policies
from services.notify.loops import send_due
from tests.helpers import build, emitted, event

TIERS = "tiers:\n" + "".join(
    f"""  {tier}:
    claim_within: PT10H
    resolve_within: PT100H
    time: calendar
    warnings: [{{at: 0.5, to: unit}}, {{at: 0.8, to: supervisor}}]
"""
    for tier in ("private", "small", "big", "hard")
)
SUPERVISION = "supervision_within: PT48H\nsupervision_time: calendar\n"
TO_EXECUTIVE = "supervision_escalation: {to: leader-executive, within: PT24H, time: calendar}\n"
UNIT = "baian-xincun-property"
DISPATCHED = {
    "assignment": 1,
    "unit_id": UNIT,
    "tier": "small",
    "street": "baianba",
    "category": "property_management",
}
CLAIMED = {"assignment": 1, "unit_id": UNIT, "tier": "small", "street": "baianba"}


@pytest.fixture
def policies_text(request):
    return TIERS + SUPERVISION + getattr(request, "param", TO_EXECUTIVE)


def _apply(escalation, type_, payload=None):
    escalation.subscriber.apply(event(type_, "i1", payload or {}).to_json())


def _warned(escalation, clock="resolve"):
    return [
        (e.payload["fraction"], e.payload["to_unit_id"])
        for e in emitted(escalation.store, "issue.warned")
        if e.payload["clock"] == clock
    ]


def _claimed(escalation):
    _apply(escalation, "issue.dispatched", DISPATCHED)
    _apply(escalation, "issue.claimed", CLAIMED)


# -- 1. warnings resume with the clock --------------------------------------------------------


def test_warnings_paused_at_30_percent_fire_after_the_same_running_time_once_each(
    escalation, clock, sweep
):
    _claimed(escalation)
    clock.advance(hours=30)  # 30 % of PT100H: neither warning has fired
    _apply(escalation, "issue.awaiting_resident")
    clock.advance(hours=200)
    sweep()
    assert _warned(escalation) == []

    _apply(escalation, "issue.resident_replied")  # 70 h left: warnings 20 h and 50 h from now
    clock.advance(hours=19, minutes=59)
    sweep()
    assert _warned(escalation) == []
    clock.advance(minutes=2)
    sweep()
    assert _warned(escalation) == [(0.5, UNIT)]
    clock.advance(hours=29, minutes=57)  # 49 h 59 m after the resume
    sweep()
    assert _warned(escalation) == [(0.5, UNIT)]
    clock.advance(minutes=2)
    sweep()
    assert _warned(escalation) == [(0.5, UNIT), (0.8, "baian-committee")]
    clock.advance(hours=19, minutes=58)  # the resumed deadline is 70 h after the resume
    sweep()
    assert emitted(escalation.store, "issue.escalated") == []
    clock.advance(minutes=2)
    sweep()
    sweep()

    assert _warned(escalation) == [(0.5, UNIT), (0.8, "baian-committee")]
    [escalated] = emitted(escalation.store, "issue.escalated")
    assert escalated.payload["reason"] == "resolve_overdue"


def test_a_warning_fired_before_the_pause_does_not_fire_again(escalation, clock, sweep):
    _claimed(escalation)
    clock.advance(hours=60)
    sweep()  # the 50 % warning fires
    _apply(escalation, "issue.awaiting_resident")
    clock.advance(hours=100)
    _apply(escalation, "issue.resident_replied")  # 40 h left; the 80 % warning 20 h from now
    _apply(escalation, "issue.resident_replied")  # told twice: nothing more

    clock.advance(hours=19, minutes=59)
    sweep()
    assert _warned(escalation) == [(0.5, UNIT)]
    clock.advance(minutes=2)
    sweep()
    clock.advance(hours=10)
    sweep()

    assert _warned(escalation) == [(0.5, UNIT), (0.8, "baian-committee")]


def test_a_resolve_while_awaited_leaves_no_warning_behind(escalation, clock, sweep):
    _claimed(escalation)
    clock.advance(hours=30)
    _apply(escalation, "issue.awaiting_resident")
    _apply(escalation, "issue.resolved", CLAIMED)
    _apply(escalation, "issue.resident_replied")
    clock.advance(hours=500)
    sweep()

    assert _warned(escalation) == []


# -- 2. supervision that runs out climbs once -------------------------------------------------


def _supervision_runs_out(escalation, clock, sweep):
    _apply(escalation, "issue.dispatched", DISPATCHED)
    for _ in range(3):  # claim overdue up to the leader in charge: supervision opens
        clock.advance(hours=10, seconds=1)
        sweep()
    [opened] = emitted(escalation.store, "issue.supervision_opened")
    assert opened.payload["leader_id"] == "leader-north"
    clock.advance(hours=48, seconds=1)
    sweep()
    sweep()


def _supervision_steps(escalation):
    return [
        e
        for e in emitted(escalation.store, "issue.escalated")
        if e.payload["reason"] == "supervision_overdue"
    ]


def test_supervision_that_runs_out_goes_to_the_executive_deputy_once_by_sms(
    escalation, clock, sweep, tmp_path, sms_provider
):
    _supervision_runs_out(escalation, clock, sweep)

    [step] = _supervision_steps(escalation)
    p = step.payload
    assert (p["clock"], p["level"], p["from_unit_id"], p["to_unit_id"]) == (
        "supervision",
        1,
        "leader-north",
        "leader-executive",
    )
    assert p["to_unit_name"] == "常务副区长"
    assert _warned(escalation, "supervision") == []  # escalated instead of only warned

    clock.advance(hours=24, seconds=1)  # the executive's own deadline runs out: warned, once
    sweep()
    sweep()
    assert len(_supervision_steps(escalation)) == 1
    assert _warned(escalation, "supervision") == [(1.0, "leader-executive")]

    notify = build("notify", tmp_path / "notify", clock, LOUDONG_SMS_URL=sms_provider.url)
    try:
        notify.subscriber.apply(step.to_json())
        notify.subscriber.apply(step.to_json())
        send_due(notify.store, notify.context)
    finally:
        notify.store.dispose()
    [sms] = sms_provider.messages
    assert sms["to"] == "+8613800000003"
    assert "区领导督办逾期未办结" in sms["text"]


@pytest.mark.parametrize(
    "policies_text", ["", "supervision_escalation: {to: none}\n"], indirect=True
)
def test_without_a_supervision_step_the_leader_is_only_warned(escalation, clock, sweep):
    _supervision_runs_out(escalation, clock, sweep)

    assert _supervision_steps(escalation) == []
    assert _warned(escalation, "supervision") == [(1.0, "leader-north")]


@pytest.mark.parametrize(
    "policies_text",
    ["supervision_escalation: {to: supervisor, within: PT24H}\n"],
    indirect=True,
)
def test_to_supervisor_with_no_supervisor_above_the_leader_only_warns(escalation, clock, sweep):
    # deploy/directory.yaml gives the leaders in charge no supervisor
    _supervision_runs_out(escalation, clock, sweep)

    assert _supervision_steps(escalation) == []
    assert _warned(escalation, "supervision") == [(1.0, "leader-north")]


@pytest.mark.parametrize(
    "extra, named",
    [
        ("supervision_escalation: P3D\n", "supervision_escalation"),
        ("supervision_escalation: {to: 3, within: P3D}\n", "supervision_escalation.to"),
        ("supervision_escalation: {to: supervisor}\n", "supervision_escalation.within"),
        (
            "supervision_escalation: {to: supervisor, within: soon}\n",
            "supervision_escalation.within",
        ),
        (
            "supervision_escalation: {to: supervisor, within: P3D, time: lunar}\n",
            "supervision_escalation.time",
        ),
        (
            "supervision_escalation: {to: supervisor, within: P3D, whom: x}\n",
            "supervision_escalation.whom",
        ),
    ],
)
def test_a_bad_supervision_escalation_names_its_key(tmp_path, extra, named):
    path = tmp_path / "policies.yaml"
    path.write_text(TIERS + extra)

    with pytest.raises(policies.PolicyError) as raised:
        policies.load(path)

    assert str(path) in str(raised.value) and named in str(raised.value)


def test_a_supervision_escalation_to_an_unknown_unit_stops_the_service(tmp_path, clock):
    path = tmp_path / "policies.yaml"
    path.write_text(TIERS + "supervision_escalation: {to: mayor, within: P3D}\n")

    with pytest.raises(policies.PolicyError) as raised:
        build("escalation", tmp_path, clock, LOUDONG_POLICIES=path)

    assert "supervision_escalation.to" in str(raised.value) and "mayor" in str(raised.value)


def test_the_shipped_policies_take_supervision_to_the_executive_deputy():
    from shared.config import REPO_ROOT

    loaded = policies.load(REPO_ROOT / "deploy" / "policies.yaml")

    assert loaded.supervision_escalation.to == "leader-executive"
    assert loaded.supervision_escalation.clock.working
