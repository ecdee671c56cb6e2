"""/limits and /setlimit through the gateway's router and gates, against a real SQLite file: a
change is checked as at start, kept, audited and in force for the very next link; a bad value,
a setting read at start only and an unknown one are refused with the reason; and the limits of
one process (`RuntimeLimits`) follow the overrides a message brings, back to their start values."""

from __future__ import annotations

import pytest

from core import runtime_limits
from core.config import load_settings
from core.runtime_limits import RuntimeLimits
from gateway.main import build_router
from tests.gateway.adminkit import NOT_ADMIN, AdminWorld, button
from tests.gateway.gatekit import ADMIN, yt


@pytest.fixture
def world(tmp_path):
    w = AdminWorld(tmp_path)
    yield w
    w.close()


async def send_links(world: AdminWorld, user: int, first: int, count: int) -> None:
    for n in range(first, first + count):
        await world.say(user, yt(n))


async def test_setlimit_takes_effect_for_the_very_next_links_and_limits_shows_it(world):
    await world.say(ADMIN, "/setlimit USER_REQUESTS_PER_MIN 3")
    assert "USER_REQUESTS_PER_MIN is now 3 (was 10; at start 10)" in world.last(ADMIN)["text"]
    assert world.settings.user_requests_per_min == 3  # the gateway's one Settings object
    await send_links(world, 500, 1, 4)
    assert len(world.jobs(500)) == 3
    assert "You have sent 3 links within a minute, the most I take" in world.texts(500)[-1]
    await world.say(ADMIN, "/limits")
    shown = world.last(ADMIN)["text"]
    assert "✏️ <code>USER_REQUESTS_PER_MIN</code> = 3 (start 10)" in shown
    assert "▫️ <code>QUEUE_MAX</code> = 500 (start 500)" in shown
    assert runtime_limits.load(world.db) == {"USER_REQUESTS_PER_MIN": "3"}
    assert world.audit() == [(ADMIN, "setlimit", "USER_REQUESTS_PER_MIN 10 -> 3")]


async def test_setlimit_is_audited_and_default_goes_back_to_the_start_value(world):
    await world.say(ADMIN, "/setlimit queue_max 40")
    await world.say(ADMIN, "/setlimit QUEUE_MAX default")
    assert world.settings.queue_max == 500
    assert runtime_limits.load(world.db) == {}
    assert world.audit() == [
        (ADMIN, "setlimit", "QUEUE_MAX 500 -> 40"),
        (ADMIN, "setlimit", "QUEUE_MAX 40 -> 500 (default)"),
    ]


@pytest.mark.parametrize(
    ("value", "rule"),
    [("0", "must be at least 1"), ("ten", "must be a whole number"), ("20000", "must be at most 10000")],
)
async def test_a_bad_value_is_refused_naming_the_rule_and_changes_nothing(world, value, rule):
    await world.say(ADMIN, f"/setlimit USER_REQUESTS_PER_MIN {value}")
    assert f"Not changed: USER_REQUESTS_PER_MIN {rule}" in world.last(ADMIN)["text"]
    assert world.settings.user_requests_per_min == 10
    assert runtime_limits.load(world.db) == {} and world.audit() == []


async def test_persian_admin_persian_digits_and_a_persian_refusal(world):
    await world.say(ADMIN, "/setlimit USER_REQUESTS_PER_MIN ۴", lang="fa")
    assert world.settings.user_requests_per_min == 4
    assert "USER_REQUESTS_PER_MIN اکنون ۴ است" in world.last(ADMIN)["text"]
    await world.say(ADMIN, "/setlimit MAX_DURATION_MIN -۵", lang="fa")
    refused = world.last(ADMIN)["text"]
    assert "باید دست‌کم ۰٫۱ باشد" in refused and "«-۵»" in refused, refused


async def test_settings_read_at_start_and_unknown_names_are_refused_with_the_reason(world):
    await world.say(ADMIN, "/setlimit WORKERS 8")
    assert "WORKERS is read at start only: change it in .env and restart" in world.last(ADMIN)["text"]
    await world.say(ADMIN, "/setlimit BOT_TOKEN default")
    assert "BOT_TOKEN is read at start only" in world.last(ADMIN)["text"]
    await world.say(ADMIN, "/setlimit <b>NOPE</b> 1")
    assert "There is no setting &lt;B&gt;NOPE&lt;/B&gt;" in world.last(ADMIN)["text"]
    await world.say(ADMIN, "/setlimit QUEUE_MAX")
    assert "Usage: /setlimit NAME value" in world.last(ADMIN)["text"]
    assert world.audit() == []


async def test_a_limit_changed_from_its_button_takes_the_admins_next_message(world):
    await world.say(ADMIN, "/limits")
    await world.press(ADMIN, button(world.last(ADMIN), "QUEUE_MAX"))
    assert "Send the new value of <code>QUEUE_MAX</code> (now 500" in world.last(ADMIN)["text"]
    await world.say(ADMIN, "25")
    assert world.settings.queue_max == 25
    await world.say(ADMIN, "30")  # the step is over: a plain message is a plain message again
    assert world.settings.queue_max == 25


async def test_a_non_admin_is_refused_and_audited(world):
    for command in ("/limits", "/setlimit QUEUE_MAX 1"):
        await world.say(NOT_ADMIN, command)
    assert world.settings.queue_max == 500
    assert world.audit() == [(NOT_ADMIN, "denied", "/limits")]  # answered and audited once a minute at most
    assert world.texts(NOT_ADMIN) == ["Sorry, this is for the bot's admins only."]


async def test_the_overrides_in_the_database_are_in_force_after_a_restart(world):
    await world.say(ADMIN, "/setlimit USER_CONCURRENT_DOWNLOADS 1")
    fresh = load_settings(environ={"DATA_DIR": str(world.settings.data_dir)}, env_file=None)
    live = RuntimeLimits(fresh)
    build_router(fresh, world.db, world.codec, None, live, None)
    live.apply(runtime_limits.load(world.db))  # what gateway.main does at start
    assert fresh.user_concurrent_downloads == 1


def test_runtime_limits_follow_the_overrides_and_skip_what_they_cannot_read(tmp_path, caplog):
    settings = load_settings(environ={"DATA_DIR": str(tmp_path), "QUEUE_MAX": "77"}, env_file=None)
    live = RuntimeLimits(settings)
    assert live.apply({"QUEUE_MAX": "5", "PROGRESS_EDIT_INTERVAL": "1.5"}) == ["QUEUE_MAX", "PROGRESS_EDIT_INTERVAL"]
    assert (settings.queue_max, settings.progress_edit_interval) == (5, 1.5)
    changed = live.apply({"PROGRESS_EDIT_INTERVAL": "0", "WORKERS": "9"})  # bad; not a runtime one
    assert changed == ["QUEUE_MAX", "PROGRESS_EDIT_INTERVAL"] and settings.queue_max == 77  # the env's value
    assert settings.progress_edit_interval == 4.0 and settings.workers != 9
    assert "PROGRESS_EDIT_INTERVAL='0' not applied: PROGRESS_EDIT_INTERVAL: must be at least 0.5" in caplog.text
    assert live.message().values == {"PROGRESS_EDIT_INTERVAL": "0"}


def test_every_runtime_limit_is_a_setting_with_texts_in_both_languages():
    from core.config import env_names
    from core.texts import LANGUAGES

    for name in runtime_limits.RUNTIME:
        assert name in env_names()
        for table in LANGUAGES.values():
            assert table[f"limit_{name}"]
