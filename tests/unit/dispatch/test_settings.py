"""Dispatch's settings: the defaults, and each refusal naming its variable."""

from datetime import timedelta

import pytest

from services.dispatch.settings import DispatchSettings
from shared.config import ConfigError


def test_the_defaults_need_nothing_set():
    settings = DispatchSettings.from_env({})

    assert settings.link_grace == timedelta(days=7)
    assert settings.desk_refresh == timedelta(seconds=20)
    assert settings.public_url == "http://127.0.0.1:8082"


def test_the_desk_refresh_is_read_as_a_duration():
    settings = DispatchSettings.from_env({"LOUDONG_DESK_REFRESH": "PT1M"})

    assert settings.desk_refresh == timedelta(minutes=1)


@pytest.mark.parametrize(
    "name, value",
    [
        ("LOUDONG_DESK_REFRESH", "often"),
        ("LOUDONG_DESK_REFRESH", "PT0S"),  # a board asking without pause
        ("LOUDONG_DESK_REFRESH", "PT0.5S"),
        ("LOUDONG_LINK_GRACE", "a week"),
    ],
)
def test_a_bad_value_is_refused_naming_its_variable(name, value):
    with pytest.raises(ConfigError, match=name):
        DispatchSettings.from_env({name: value})
