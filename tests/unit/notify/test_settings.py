"""Notify's settings: defaults that work on a laptop, and every refusal naming its variable."""

from datetime import time, timedelta

import pytest

from services.notify.settings import NotifySettings
from shared.config import ConfigError


def test_the_defaults_need_nothing_set():
    settings = NotifySettings.from_env({})

    assert (settings.providers, settings.language, settings.max_parts) == (("generic",), "zh", 2)
    assert settings.quiet_hours == (time(22, 0), time(7, 0))
    assert settings.recipient_limit == (20, timedelta(hours=1))
    assert settings.smtp is None and settings.aliyun is None and settings.admin_token is None


@pytest.mark.parametrize(
    "name, value",
    [
        ("LOUDONG_SMS_TIMEOUT", "soon"),
        ("LOUDONG_SMS_MAX_ATTEMPTS", "0"),
        ("LOUDONG_QUIET_HOURS", "late"),
        ("LOUDONG_RECIPIENT_LIMIT", "20/fortnight"),
        ("LOUDONG_UNIT_RECIPIENT_LIMIT", "lots"),
        ("LOUDONG_NOTIFY_LANGUAGE", "fr"),
        ("LOUDONG_SMS_PROVIDERS", "generic,pigeon"),
        ("LOUDONG_SMTP_PORT", "twenty-five"),
    ],
)
def test_a_malformed_setting_is_refused_naming_its_variable(name, value):
    env = {name: value, "LOUDONG_SMTP_HOST": "127.0.0.1"}

    with pytest.raises(ConfigError) as raised:
        NotifySettings.from_env(env)

    assert name in str(raised.value)


def test_aliyun_needs_its_credentials_and_names_the_missing_ones():
    env = {"LOUDONG_SMS_PROVIDERS": "aliyun", "LOUDONG_ALIYUN_ACCESS_KEY_ID": "id"}

    with pytest.raises(ConfigError) as raised:
        NotifySettings.from_env(env)

    assert "LOUDONG_ALIYUN_SIGN_NAME" in str(raised.value)
    assert "LOUDONG_ALIYUN_ACCESS_KEY_ID" not in str(raised.value)
