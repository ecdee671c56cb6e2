"""The sandbox's live configuration is built only from the SANDBOX_* settings, and a change through
`POST /sandbox/config` keeps the ranges those settings' own parsers allow."""

from __future__ import annotations

import dataclasses

import pytest

from core.config import Settings, load_settings
from sandbox.live_config import ConfigError, LiveConfig

TOP_LEVEL = [f.name for f in dataclasses.fields(LiveConfig) if f.name != "faults"]


def test_every_value_comes_from_its_sandbox_setting():
    settings = load_settings(
        {
            "SANDBOX_LIMITS": "0",
            "SANDBOX_BOT_RATE": "12.5",
            "SANDBOX_CHAT_RATE": "0.5",
            "SANDBOX_CHAT_BURST": "7",
            "SANDBOX_GROUP_PER_MIN": "9",
            "SANDBOX_UPLOAD_LIMIT_MB": "123",
            "SANDBOX_CLOUD_MODE": "1",
        },
        env_file=None,
    )
    config = LiveConfig.from_settings(settings)
    assert {name: getattr(config, name) for name in TOP_LEVEL} == {
        "limits": False,
        "bot_rate": 12.5,
        "chat_rate": 0.5,
        "chat_burst": 7,
        "group_per_min": 9,
        "upload_limit_mb": 123,
        "cloud_mode": True,
    }


def test_it_has_no_defaults_of_its_own():
    with pytest.raises(TypeError):
        LiveConfig()  # type: ignore[call-arg]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"bot_rate": 0.05}, "bot_rate: must be at least 0.1"),
        ({"upload_limit_mb": 4001}, "upload_limit_mb: must be at most 4000"),
        ({"chat_burst": 0}, "chat_burst: must be at least 1"),
        ({"chat_burst": 2.5}, "chat_burst: must be a whole number"),
        ({"cloud_mode": 1}, "cloud_mode: must be true or false"),
    ],
)
def test_a_live_change_keeps_the_settings_ranges(body, message):
    config = LiveConfig.from_settings(Settings())
    before = dataclasses.asdict(config)
    with pytest.raises(ConfigError, match=f"^{message}"):
        config.apply(body)
    assert dataclasses.asdict(config) == before


def test_a_change_within_the_range_is_taken():
    config = LiveConfig.from_settings(Settings())
    config.apply({"bot_rate": 100000, "chat_burst": 10000, "upload_limit_mb": 4000})
    assert (config.bot_rate, config.chat_burst, config.upload_limit_mb) == (100000.0, 10000, 4000)
