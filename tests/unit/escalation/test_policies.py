"""A policies file with a mistake is refused at start, naming the file and the key."""
from datetime import timedelta

import pytest

from services.escalation import policies
from shared.config import REPO_ROOT

GOOD = {"private": ("PT4H", "P7D"), "small": ("PT2H", "P3D"), "big": ("PT2H", "P5D"), "hard": ("PT1H", "P10D")}


def _write(tmp_path, tiers: dict) -> str:
    path = tmp_path / "policies.yaml"
    path.write_text("tiers:\n" + "".join(f"  {t}: {{claim_within: {c}, resolve_within: {r}}}\n"
                                         for t, (c, r) in tiers.items()))
    return path


def test_the_shipped_policies_load():
    loaded = policies.load(REPO_ROOT / "deploy" / "policies.yaml")

    assert loaded.tiers["small"].claim_within == timedelta(hours=2)
    assert loaded.tiers["small"].resolve_within == timedelta(days=3)


def test_seconds_are_allowed_so_tests_can_be_quick(tmp_path):
    loaded = policies.load(_write(tmp_path, {**GOOD, "small": ("PT3S", "PT9S")}))

    assert loaded.tiers["small"].claim_within == timedelta(seconds=3)


@pytest.mark.parametrize("tiers, named", [
    ({**GOOD, "urgent": ("PT1H", "P1D")}, "tiers.urgent"),
    ({**GOOD, "small": ("-PT2H", "P3D")}, "tiers.small.claim_within"),
    ({**GOOD, "small": ("two hours", "P3D")}, "tiers.small.claim_within"),
    ({**GOOD, "small": ("PT2H", "P1M")}, "tiers.small.resolve_within"),
    ({k: v for k, v in GOOD.items() if k != "hard"}, "hard"),
])
def test_a_bad_policy_names_file_and_key(tmp_path, tiers, named):
    path = _write(tmp_path, tiers)

    with pytest.raises(policies.PolicyError) as raised:
        policies.load(path)

    assert str(path) in str(raised.value) and named in str(raised.value)
