"""/admin, /user and /audit through the gateway's router against a real SQLite file: the menu's
buttons reach every action (a command button runs the command, with its refusal for anyone
else); a command that needs a value asks for it; one user's story with its buttons; the audit
log, paged; in English and Persian, with hostile text around."""

from __future__ import annotations

import time

import pytest

from gateway.admin import menu
from tests.gateway.adminkit import NOT_ADMIN, AdminWorld, button, keys
from tests.gateway.gatekit import ADMIN

TELEGRAM_TEXT_MAX = 4096


@pytest.fixture
def world(tmp_path):
    w = AdminWorld(tmp_path)
    yield w
    w.close()


async def test_the_menu_reaches_every_admin_command(world):
    await world.say(ADMIN, "/admin")
    shown = world.last(ADMIN)
    assert "Admin panel" in shown["text"]
    labels = [b["text"] for b in keys(shown)]
    assert len(labels) == len(menu.ENTRIES) == 17
    decoded = [world.codec.decode(b["data"]) for b in keys(shown)]
    commands = {c.str_arg(0) if c.action == "cmd" else c.str_arg(1) for c in decoded if c is not None}
    assert {f"/{c}" for c in commands} <= set(world.router.commands)
    assert {f"/{c}" for c in commands} >= {
        "/stats", "/health", "/circuit", "/cleanup", "/reset_stats", "/broadcast", "/ban", "/unban",
        "/addsponsor", "/delsponsor", "/sponsors", "/maintenance", "/limits", "/queue", "/user", "/cancel", "/audit",
    }  # fmt: skip


async def test_a_command_button_runs_the_command_and_answers_the_press(world):
    await world.say(ADMIN, "/admin")
    await world.press(ADMIN, button(world.last(ADMIN), "Queue"))
    assert "The queue is empty" in world.last(ADMIN)["text"]
    assert world.answers(ADMIN)[-1] == {"op": "callback_answer", "callback_id": world.answers(ADMIN)[-1]["callback_id"]}
    the_menu = world.sent(ADMIN, "text")[0]
    await world.press(ADMIN, button(the_menu, "Maintenance"))
    assert "Maintenance is off" in world.last(ADMIN)["text"]
    await world.press(ADMIN, button(world.last(ADMIN), "Turn maintenance on"))
    assert "Maintenance is on. Running downloads finish" in world.last(ADMIN)["text"]
    assert world.gates.maintenance.on and world.audit()[-1][:2] == (ADMIN, "maintenance")


async def test_a_command_that_needs_a_value_asks_for_it_and_never_mind_stops_asking(world):
    await world.say(ADMIN, "/admin")
    data = button(world.last(ADMIN), "A user")
    await world.press(ADMIN, data)
    assert world.last(ADMIN)["text"] == "👤 Send the user's id."
    await world.press(ADMIN, button(world.last(ADMIN), "Never mind"))
    assert world.last_answer(ADMIN) == "Nothing more is awaited."
    await world.say(ADMIN, "hello")  # a plain message again: the usual hint
    assert "User 0" not in world.last(ADMIN)["text"]
    await world.press(ADMIN, data)
    await world.say(ADMIN, "۴۲۴۲")  # Persian digits, as a Persian keyboard types them
    assert "User 4242" in world.last(ADMIN)["text"]


async def test_a_non_admin_is_refused_the_menu_its_buttons_and_command_buttons(world):
    await world.say(ADMIN, "/admin")
    queue_button = button(world.last(ADMIN), "Queue")
    ask_button = button(world.last(ADMIN), "A user")
    await world.say(NOT_ADMIN, "/admin")
    await world.press_as(NOT_ADMIN, queue_button)
    await world.press_as(NOT_ADMIN, ask_button)
    assert [(a, act, d[:8]) for a, act, d in world.audit()] == [(NOT_ADMIN, "denied", "/admin")]  # once a minute
    assert world.db.execute("SELECT count(*) FROM admin_steps").fetchone()[0] == 0


async def test_one_users_story_with_jobs_bans_and_locks(world):
    user = 1234
    await world.say(user, "/start", lang="fa")
    world.db.execute("UPDATE users SET first_name = '<b>علی</b>', username = 'ali_x' WHERE id = ?", [user])
    done, failed = world.add_job(user, "done"), world.add_job(user, "failed")
    world.db.execute("UPDATE jobs SET error_class = 'unsupported' WHERE id = ?", [failed])
    running = world.add_job(user, "downloading", url="https://www.youtube.com/watch?v=x")
    lock = await world.add_lock("@chan_one")
    world.db.execute(
        "INSERT INTO sponsor_users (sponsor_id, user_id, status, shown_at, joined_at) VALUES (?, ?, 'joined', ?, ?)",
        [lock, user, time.time(), time.time()],
    )
    await world.say(ADMIN, f"/ban {user} اسپم")
    await world.say(ADMIN, f"/unban {user}")
    await world.say(ADMIN, f"/user {user}")
    story = world.last(ADMIN)["text"]
    assert f"User {user}</b> &lt;b&gt;علی&lt;/b&gt; @ali_x" in story
    assert "Language fa" in story and "Blocked the bot: no · banned: no" in story
    assert f"✅ #{done} done" in story and f"❌ #{failed} failed (unsupported)" in story
    assert f"✖ #{running} cancelled" in story  # the ban cancelled it
    assert "banned by 4242 اسپم" in story and "unbanned by 4242" in story
    assert "@chan_one: joined" in story
    assert len(story) < TELEGRAM_TEXT_MAX
    await world.say(ADMIN, "/user 999999")
    assert world.last(ADMIN)["text"] == "User 999999 has never written to the bot."
    await world.say(ADMIN, "/user abc")
    assert world.last(ADMIN)["text"] == "Usage: /user &lt;user id&gt;"


async def test_the_users_buttons_ban_and_unban_after_a_confirmation(world):
    await world.say(55, "/start")
    await world.say(ADMIN, "/user 55", lang="fa")
    await world.press(ADMIN, button(world.last(ADMIN), "مسدود کن"))
    assert "کاربر ۵۵ مسدود شود؟" in world.last(ADMIN)["text"]
    await world.press(ADMIN, button(world.last(ADMIN), "نه"))
    assert world.db.execute("SELECT banned FROM users WHERE id = 55").fetchone()[0] == 0
    await world.press(ADMIN, button(world.last(ADMIN), "مسدود کن"))
    await world.press(ADMIN, button(world.last(ADMIN), "بله"))
    assert world.db.execute("SELECT banned FROM users WHERE id = 55").fetchone()[0] == 1
    await world.press(ADMIN, button(world.last(ADMIN), "رفع مسدودی"))
    await world.press(ADMIN, button(world.last(ADMIN), "بله"))
    assert world.db.execute("SELECT banned FROM users WHERE id = 55").fetchone()[0] == 0
    assert [act for _, act, _ in world.audit()] == ["ban", "unban"]


async def test_the_audit_log_is_paged_newest_first(world):
    for n in range(23):
        world.db.execute(
            "INSERT INTO admin_audit (admin_id, action, detail, at) VALUES (?, 'setlimit', ?, ?)",
            [ADMIN, f"n{n} <i>" + "ی" * 600, time.time()],
        )
    await world.say(ADMIN, "/audit")
    first = world.last(ADMIN)
    assert "1–10 of 23" in first["text"] and "n22 &lt;i&gt;" in first["text"] and "n12 " not in first["text"]
    assert len(first["text"]) < TELEGRAM_TEXT_MAX
    await world.press(ADMIN, button(first, "▶"))
    await world.press(ADMIN, button(world.last(ADMIN), "▶"))
    assert "21–23 of 23" in world.last(ADMIN)["text"] and "n0 " in world.last(ADMIN)["text"]
