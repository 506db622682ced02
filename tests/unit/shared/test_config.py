"""Settings from the environment: a malformed value stops the service naming the variable and
the form it expects, never a bare ValueError."""

from datetime import time, timedelta

import pytest

from shared import config


@pytest.mark.parametrize(
    "variable, value, expected",
    [
        ("LOUDONG_PREFETCH", "fifty", "expected a whole number"),
        ("LOUDONG_WEB_WORKERS", "0", "expected at least 1"),
        ("LOUDONG_INTAKE_PORT", "80a", "expected a whole number"),
        ("LOUDONG_POLL_INTERVAL", "soon", "expected a number"),
        ("LOUDONG_RETRY_DELAYS", "1,five", "expected comma-separated seconds"),
        ("LOUDONG_RETRY_DELAYS", "1,-5", "expected no negative delay"),
    ],
)
def test_a_malformed_shared_setting_is_refused_naming_the_variable(variable, value, expected):
    with pytest.raises(config.ConfigError) as refused:
        config.load("intake", {variable: value})

    assert str(refused.value).startswith(f"{variable}={value!r}: {expected}")


def test_blank_settings_take_their_defaults():
    settings = config.load("intake", {"LOUDONG_PREFETCH": " ", "LOUDONG_HOST": ""})

    assert (settings.prefetch, settings.host) == (50, "127.0.0.1")


def test_a_rate_reads_as_a_count_per_period():
    assert config.rate({"X": "20/hour"}, "X", "1/day") == (20, timedelta(hours=1))
    with pytest.raises(config.ConfigError, match=r"^X='20 per hour': expected a count per"):
        config.rate({"X": "20 per hour"}, "X", "1/day")


def test_a_daily_window_may_run_past_midnight():
    assert config.daily_window({}, "X", "22:00-07:00") == (time(22), time(7))
    with pytest.raises(config.ConfigError, match=r"^X='22-7': expected HH:MM-HH:MM"):
        config.daily_window({"X": "22-7"}, "X", "22:00-07:00")


def test_a_choice_names_what_it_may_be():
    with pytest.raises(config.ConfigError, match=r"expected one of zh, en$"):
        config.choice({"X": "fr"}, "X", "zh", ("zh", "en"))
