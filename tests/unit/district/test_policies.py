"""A policies file with a mistake is refused at start, naming the file and the key."""

from datetime import timedelta

import pytest

from district import policies
from shared.config import REPO_ROOT

GOOD = {
    "private": ("PT4H", "P7D"),
    "small": ("PT2H", "P3D"),
    "big": ("PT2H", "P5D"),
    "hard": ("PT1H", "P10D"),
}


def _write(tmp_path, tiers: dict, extra: str = "") -> str:
    path = tmp_path / "policies.yaml"
    path.write_text(
        extra
        + "tiers:\n"
        + "".join(
            f"  {t}: {{claim_within: {c}, resolve_within: {r}}}\n" for t, (c, r) in tiers.items()
        )
    )
    return path


def test_the_shipped_policies_load_in_working_time_with_warnings():
    loaded = policies.load(REPO_ROOT / "deploy" / "policies.yaml")

    small = loaded.policy_for("small")
    assert small.claim.within == timedelta(hours=4) and small.claim.working
    assert [(w.at, w.to) for w in small.claim.warnings] == [(0.5, "unit"), (0.8, "supervisor")]
    assert loaded.policy_for("big", "public_safety").claim.within == timedelta(hours=1)
    assert not loaded.policy_for("big", "public_safety").claim.working
    assert loaded.policy_for("big", "public_safety").resolve == loaded.policy_for("big").resolve


def test_seconds_are_allowed_so_tests_can_be_quick(tmp_path):
    loaded = policies.load(_write(tmp_path, {**GOOD, "small": ("PT3S", "PT9S")}))

    assert loaded.tiers["small"].claim.within == timedelta(seconds=3)


@pytest.mark.parametrize(
    "tiers, extra, named",
    [
        ({**GOOD, "urgent": ("PT1H", "P1D")}, "", "tiers.urgent"),
        ({**GOOD, "small": ("-PT2H", "P3D")}, "", "tiers.small.claim_within"),
        ({**GOOD, "small": ("two hours", "P3D")}, "", "tiers.small.claim_within"),
        ({**GOOD, "small": ("PT2H", "P1M")}, "", "tiers.small.resolve_within"),
        ({k: v for k, v in GOOD.items() if k != "hard"}, "", "hard"),
        (GOOD, "working_hours: ['18:00-09:00']\n", "working_hours"),
    ],
)
def test_a_bad_policy_names_file_and_key(tmp_path, tiers, extra, named):
    path = _write(tmp_path, tiers, extra)

    with pytest.raises(policies.PolicyError) as raised:
        policies.load(path)

    assert str(path) in str(raised.value) and named in str(raised.value)


@pytest.mark.parametrize(
    "warning, named",
    [
        ("{at: 1.2, to: unit}", "warnings[0].at"),
        ("{at: 0, to: unit}", "warnings[0].at"),
        ("{at: 0.5, to: mayor}", "warnings[0].to"),
    ],
)
def test_a_warning_past_the_deadline_or_to_nobody_is_refused(tmp_path, warning, named):
    path = tmp_path / "policies.yaml"
    path.write_text(
        "tiers:\n"
        + "".join(
            f"  {t}: {{claim_within: PT2H, resolve_within: P3D, warnings: [{warning}]}}\n"
            for t in GOOD
        )
    )

    with pytest.raises(policies.PolicyError) as raised:
        policies.load(path)

    assert "tiers.private" in str(raised.value) and named in str(raised.value)
