"""/queue, /cancel <job> and the conversations of several steps, through the gateway's router
against a real SQLite file: a page-through of 60 jobs, oldest first, no page near Telegram's
limit; a cancel asks first, only its admin can answer, once; two admins confirm two cancels at
once; a confirmation and an awaited value survive a restart of the gateway; the owner is told."""

from __future__ import annotations

import re
import time

import pytest

from gateway.admin import pages
from gateway.main import build_router
from tests.gateway.adminkit import NOT_ADMIN, OTHER_ADMIN, AdminWorld, button, keys
from tests.gateway.gatekit import ADMIN

TELEGRAM_TEXT_MAX = 4096


@pytest.fixture
def world(tmp_path):
    w = AdminWorld(tmp_path)
    yield w
    w.close()


def ids_on(page: dict) -> list[int]:
    return [int(n) for n in re.findall(r"^#(\d+) ·", page["text"], re.M)]


async def test_a_page_through_sixty_jobs_shows_each_once_oldest_first(world):
    start = time.time() - 3600
    made = [world.add_job(100 + n % 7, "queued" if n % 3 else "downloading", at=start + n) for n in range(60)]
    world.add_job(200, "done", at=start - 10)  # over: not in the queue
    await world.say(ADMIN, "/queue")
    seen, page = [], world.last(ADMIN)
    for number in range(1, 7):
        assert len(page["text"]) < TELEGRAM_TEXT_MAX
        assert f"{number}/6 🔄" in [b["text"] for b in keys(page)]
        assert f"{(number - 1) * 10 + 1}–{number * 10} of 60" in page["text"]
        assert len([b for b in keys(page) if b["text"].startswith("✖ #")]) == 10
        seen += ids_on(page)
        if number < 6:
            await world.press(ADMIN, button(page, "▶"))
            page = world.last(ADMIN)
            assert page["op"] == "edit" and page["message_id"] == 1  # the same message, turned
    assert seen == made
    assert "▶" not in [b["text"] for b in keys(page)]
    await world.press(ADMIN, button(page, "◀"))
    assert ids_on(world.last(ADMIN)) == made[40:50]


async def test_long_hosts_and_hostile_text_stay_within_the_page(world):
    for n in range(pages.PER_PAGE):
        world.add_job(300, url=f"https://{'x' * 60}.{'ي' * 40}.example/<b>{n}")
    await world.say(ADMIN, "/queue", lang="fa")
    page = world.last(ADMIN)
    assert len(page["text"]) < TELEGRAM_TEXT_MAX and "<b>0" not in page["text"]
    assert "صف" in page["text"] and "در انتظار" in page["text"]


async def test_cancel_asks_first_only_its_admin_answers_and_only_once(world):
    job = world.add_job(400, "downloading", url="https://videos.example/clip")
    await world.say(ADMIN, "/queue")
    await world.press(ADMIN, button(world.last(ADMIN), f"#{job}"))
    ask = world.last(ADMIN)
    assert f"Cancel job #{job} of user 400 (videos.example, downloading)?" in ask["text"]
    yes = button(ask, "Yes")
    await world.say(OTHER_ADMIN, "/admin")
    await world.press_as(OTHER_ADMIN, yes)  # not theirs
    assert world.last_answer(OTHER_ADMIN) == "This button has expired." and world.state(job) == "downloading"
    await world.press(ADMIN, yes)
    assert world.state(job) == "cancelled"
    assert f"Job #{job} is cancelled; user 400 was told." in world.last(ADMIN)["text"]
    assert "یکی از مدیران مجبور شد دانلود شما از videos.example را متوقف کند" in world.texts(400)[-1]  # their language
    await world.press(ADMIN, yes)  # twice
    assert world.last_answer(ADMIN) == "This button has expired."
    assert world.audit() == [(ADMIN, "cancel", f"job {job} of user 400 (videos.example, was downloading)")]


async def test_two_admins_confirm_two_different_actions_at_once(world):
    first, second = world.add_job(501, "queued"), world.add_job(502, "downloading")
    await world.say(ADMIN, "/queue")
    await world.say(OTHER_ADMIN, "/user 502", lang="fa")
    await world.press(ADMIN, button(world.last(ADMIN), f"#{first}"))
    await world.press_as(OTHER_ADMIN, button(world.last(OTHER_ADMIN), "مسدود"))
    yes_cancel, yes_ban = button(world.last(ADMIN), "Yes"), button(world.last(OTHER_ADMIN), "بله")
    await world.press_as(OTHER_ADMIN, yes_ban)
    await world.press(ADMIN, yes_cancel)
    assert world.state(first) == "cancelled" and world.state(second) == "cancelled"  # the ban cancels theirs
    banned = world.db.execute("SELECT banned, banned_by FROM users WHERE id = 502").fetchone()
    assert tuple(banned) == (1, OTHER_ADMIN)
    actions = {(a, act) for a, act, _ in world.audit()}
    assert actions == {(ADMIN, "cancel"), (OTHER_ADMIN, "ban")}
    assert "کاربر ۵۰۲ مسدود شد" in world.last(OTHER_ADMIN)["text"]


async def test_a_confirmation_and_an_awaited_value_survive_a_restart(world):
    job = world.add_job(600, "queued")
    await world.say(ADMIN, f"/user {job and 600}")
    await world.press(ADMIN, button(world.last(ADMIN), "Cancel their jobs"))
    yes = button(world.last(ADMIN), "Yes")
    await world.say(OTHER_ADMIN, "/admin")
    await world.press_as(OTHER_ADMIN, button(world.last(OTHER_ADMIN), "A user"))
    # The gateway restarts: a new router over the same database and key.
    world.router, world.limits = build_router(world.settings, world.db, world.codec, world.gates, world.live, None)
    await world.press(ADMIN, yes)
    assert world.state(job) == "cancelled"
    await world.say(OTHER_ADMIN, "600")
    assert "User 600" in world.last(OTHER_ADMIN)["text"] and "Last jobs:" in world.last(OTHER_ADMIN)["text"]


async def test_an_expired_confirmation_does_nothing(world):
    job = world.add_job(700, "queued")
    await world.say(ADMIN, "/queue")
    await world.press(ADMIN, button(world.last(ADMIN), f"#{job}"))
    world.db.execute("UPDATE admin_steps SET expires_at = ?", [time.time() - 1])
    await world.press(ADMIN, button(world.last(ADMIN), "Yes"))
    assert world.last_answer(ADMIN) == "This button has expired." and world.state(job) == "queued"


async def test_admin_cancel_by_number_and_everyone_elses_cancel_is_their_own(world):
    theirs = world.add_job(800, "downloading")
    await world.say(ADMIN, f"/cancel {theirs}")
    assert world.state(theirs) == "cancelled" and f"Job #{theirs} is cancelled" in world.last(ADMIN)["text"]
    await world.say(ADMIN, f"/cancel #{theirs}")
    assert f"Job #{theirs} is not running or waiting" in world.last(ADMIN)["text"]
    await world.say(ADMIN, "/cancel شماره")
    assert "Usage: /cancel &lt;job number&gt;" in world.last(ADMIN)["text"]
    other = world.add_job(801, "queued")
    await world.say(NOT_ADMIN, f"/cancel {other}")  # a user's /cancel: their own jobs, none here
    assert world.state(other) == "queued" and world.texts(NOT_ADMIN)[-1] == "You have no download to cancel."


async def test_non_admins_are_refused_queue_and_its_buttons_and_each_attempt_is_audited(world):
    job = world.add_job(900, "queued")
    await world.say(ADMIN, "/queue")
    data = button(world.last(ADMIN), f"#{job}")
    await world.say(NOT_ADMIN, "/queue")
    await world.press_as(NOT_ADMIN, data)
    assert world.state(job) == "queued"
    assert [(a, act) for a, act, _ in world.audit()] == [(NOT_ADMIN, "denied")]  # once a minute
    assert world.texts(NOT_ADMIN) == ["Sorry, this is for the bot's admins only."]
