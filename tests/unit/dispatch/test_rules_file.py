"""A dispatch rules file with a mistake is refused at start, naming the file and the key."""

import os
import subprocess
import sys

import pytest

from services.dispatch import rules
from shared.config import REPO_ROOT


def test_the_shipped_rules_load():
    loaded = rules.load(REPO_ROOT / "deploy" / "dispatch.yaml")

    assert loaded.max_returns == 2 and loaded.feedback_within.days == 3


@pytest.mark.parametrize(
    "text, named",
    [
        ("max_returns: -1\n", "max_returns"),
        ("feedback_within: soon\n", "feedback_within"),
        ("tier_rules:\n  - {when: full_moon, tier_at_least: big}\n", "tier_rules[0].when"),
        (
            "tier_rules:\n  - {when: repeated_complaint, tier_at_least: urgent}\n",
            "tier_rules[0].tier_at_least",
        ),
    ],
)
def test_a_bad_rule_names_file_and_key(tmp_path, text, named):
    path = tmp_path / "dispatch.yaml"
    path.write_text(text)

    with pytest.raises(rules.RulesError) as raised:
        rules.load(path)

    assert str(path) in str(raised.value) and named in str(raised.value)


def test_a_token_for_a_unit_that_does_not_exist_is_refused(tmp_path):
    env = {**os.environ, "LOUDONG_DATA_DIR": str(tmp_path)}

    result = subprocess.run(
        [sys.executable, "-m", "services.cli", "units", "token", "ghost-unit"],
        env=env,
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
    )

    assert result.returncode == 2 and "ghost-unit" in result.stderr and result.stdout == ""
