"""The holes one user could get through (issue 14, section 5), each tried through Router.route on a
real SQLite file: held links released past every limit, one user filling the queue, "I've joined"
pressed over and over or during a FloodWait, a member of some locks only, refused admin commands
answered and audited without end, and the admission chain importing the command table.

Time passing is played by aging a mark in the table, or by moving the locks' clock forward.
"""

from __future__ import annotations

import ast
import subprocess
import sys
import time
from pathlib import Path

import pytest

from core.config import SettingsError, load_settings
from core.telegram import IncomingMessage
from gateway.context import Request
from gateway.main import HANDLERS
from gateway.router import Router
from tests.gateway.gatekit import ADMIN, World, buttons, check_button, prompt_of, yt

CHANNEL = "@gate_sponsor"
ROOT = Path(__file__).resolve().parents[2]


def later(world: World, seconds: float) -> None:
    """The locks' clock moves `seconds` ahead of now, and stands there (re-check throttles, FloodWaits)."""
    ahead = time.time() + seconds
    world.gates.locks.clock = lambda: ahead


def age(world: World, user_id: int, mark: str) -> None:
    world.db.execute("UPDATE user_marks SET expires_at = 0 WHERE user_id = ? AND mark = ?", [user_id, mark])


def held(world: World, user_id: int) -> int:
    rows = world.db.execute("SELECT links FROM held_links WHERE user_id = ? AND released_at IS NULL", [user_id])
    return sum(row[0].count("http") for row in rows)


async def hold_a_hundred(world: World, user_id: int, lang: str = "en") -> None:
    """A non-member holds 100 links: 20 messages of 5, with Persian words around them."""
    for n in range(20):
        links = " ".join(yt(n * 5 + k) for k in range(5))
        await world.say(user_id, f"سلام، این‌ها را بفرست: {links} ممنون", lang=lang)
    assert held(world, user_id) == 100 and world.jobs(user_id) == []


# ---- held links pass the same gates as new ones ------------------------------------------------


@pytest.mark.parametrize(("lang", "words"), [("en", "10 links within a minute"), ("fa", "۱۰ لینک")])
async def test_a_hundred_held_links_released_by_a_join_get_the_rate_and_a_polite_answer_for_the_rest(make, lang, words):
    world = make()
    await world.add_lock(CHANNEL)
    await hold_a_hundred(world, 7, lang)
    world.port.join(CHANNEL, 7)
    await world.press(7, check_button(prompt_of(world, 7)))
    assert len(world.jobs(7)) == world.settings.user_requests_per_min == 10
    [refusal] = [t for t in world.texts(7) if "⏱" in t]
    assert words in refusal
    assert held(world, 7) == 0  # answered: the rest are not kept to slip through later
    await world.say(7, yt(999), lang=lang)  # the window is full: a new link waits its minute too
    assert len(world.jobs(7)) == 10


async def test_held_links_released_by_a_new_link_go_first_and_share_its_rate(make):
    world = make(USER_REQUESTS_PER_MIN="4")
    await world.add_lock(CHANNEL)
    await world.say(7, " ".join(yt(n) for n in range(3)))
    world.port.join(CHANNEL, 7)
    world.gates.locks.cache.forget(7, [1])  # NONMEMBER_CACHE_TTL later
    await world.say(7, yt(10) + " " + yt(11))
    assert world.jobs(7) == [yt(0), yt(1), yt(2), yt(10)]
    assert any("⏱" in t for t in world.texts(7))


async def test_held_links_released_past_the_queue_cap_hear_the_bot_is_busy(make):
    world = make(QUEUE_MAX="4")
    await world.add_lock(CHANNEL)
    await world.say(7, " ".join(yt(n) for n in range(5)))
    await world.say(7, " ".join(yt(10 + n) for n in range(5)))
    world.port.join(CHANNEL, 7)
    await world.press(7, check_button(prompt_of(world, 7)))
    assert len(world.jobs(7)) == 4
    assert any("busy" in t for t in world.texts(7))


async def test_held_links_released_while_the_disk_is_full_make_no_jobs(make):
    world = make(SPOOL_MAX_GB="0.001")
    await world.add_lock(CHANNEL)
    await world.say(7, yt(1) + " " + yt(2))
    folder = world.settings.spool_dir / "5"
    folder.mkdir(parents=True)
    (folder / "part").write_bytes(b"x" * 2 * 1024 * 1024)
    world.gates.disk.measured_at = float("-inf")  # the next update measures again
    world.port.join(CHANNEL, 7)
    await world.press(7, check_button(prompt_of(world, 7)))
    assert world.jobs(7) == [] and "space" in world.texts(7)[-1]


# ---- one user's share of the queue -------------------------------------------------------------


@pytest.mark.parametrize(("lang", "words"), [("en", "3 links waiting"), ("fa", "۳ لینک")])
async def test_one_user_with_a_default_format_cannot_fill_the_queue_for_everyone(make, lang, words):
    world = make(USER_QUEUE_MAX="3", USER_REQUESTS_PER_MIN="100", QUEUE_MAX="5")
    await world.say(7, "/start", lang=lang)
    world.db.execute("UPDATE users SET default_format = 'v:720' WHERE id = 7")
    await world.say(7, "لطفاً " + " ".join(yt(n) for n in range(5)) + " را بفرست", lang=lang)
    assert len(world.jobs(7)) == 3
    [refusal] = [t for t in world.texts(7) if "📥" in t]
    assert words in refusal
    await world.say(8, yt(100))
    assert world.jobs(8) == [yt(100)]  # the others still find room
    world.db.execute("UPDATE jobs SET state = 'downloading' WHERE user_id = 7 AND url = ?", [yt(0)])
    await world.say(7, yt(50), lang=lang)  # one left the queue: one more is taken
    assert len(world.jobs(7)) == 4
    await world.say(ADMIN, " ".join(yt(200 + n) for n in range(5)))
    assert len(world.jobs(ADMIN)) == 5  # admins pass every gate


def test_user_queue_max_defaults_to_twenty_and_a_bad_value_is_named():
    assert load_settings(environ={}, env_file=None).user_queue_max == 20
    with pytest.raises(SettingsError, match="USER_QUEUE_MAX"):
        load_settings(environ={"USER_QUEUE_MAX": "0"}, env_file=None)
    with pytest.raises(SettingsError, match="JOIN_RECHECK_INTERVAL"):
        load_settings(environ={"JOIN_RECHECK_INTERVAL": "-1"}, env_file=None)


# ---- "I've joined": throttled, and a FloodWait lets nobody through --------------------------------


async def test_presses_of_ive_joined_check_again_at_most_once_per_user_every_ten_seconds(make):
    world = make()
    await world.add_lock(CHANNEL)
    await world.say(7, yt(1))
    button = check_button(prompt_of(world, 7))
    calls = world.port.calls[CHANNEL]
    for _ in range(5):
        await world.press(7, button)
    assert world.port.calls[CHANNEL] - calls == 1
    answers = [a["text"] for a in world.answers(7)]
    assert CHANNEL in answers[0] and all("again in" in a for a in answers[1:]), answers
    await world.say(8, yt(2))  # another user's press is not held back by this one
    await world.press(8, check_button(prompt_of(world, 8)))
    assert world.port.calls[CHANNEL] - calls == 3
    world.port.join(CHANNEL, 7)
    await world.press(7, button)  # joined, but within the 10 s: no question, no link
    assert world.port.calls[CHANNEL] - calls == 3 and world.jobs(7) == []
    later(world, world.settings.join_recheck_interval)
    await world.press(7, button)
    assert world.port.calls[CHANNEL] - calls == 4 and world.jobs(7) == [yt(1)]


async def test_a_flood_wait_on_get_chat_member_lets_nobody_through_and_nothing_is_asked_while_it_lasts(make):
    world = make()
    await world.add_lock(CHANNEL)
    world.port.join(CHANNEL, 8)
    await world.say(8, yt(1))  # a member, cached
    world.port.flood = 30
    await world.say(7, yt(2))
    assert world.jobs(7) == [] and held(world, 7) == 1
    told = world.texts(7)[-1]
    assert "can't check" in told and CHANNEL in told and "again in" in told
    calls = world.port.calls[CHANNEL]
    for user in (7, 9, 10):
        await world.say(user, yt(user * 10))
    button = check_button(prompt_of(world, 7))
    for _ in range(3):
        await world.press(7, button)
    assert world.port.calls[CHANNEL] == calls  # while it lasts nobody is asked about
    assert world.jobs(7) == world.jobs(9) == world.jobs(10) == []
    assert all("again in" in a["text"] for a in world.answers(7))
    await world.say(8, yt(3))  # a cached member is not held up by someone else's check
    assert world.jobs(8) == [yt(1), yt(3)]
    world.port.flood = 0
    later(world, 31)
    await world.press(7, button)  # asked again: still no member
    assert world.jobs(7) == [] and CHANNEL in world.answers(7)[-1]["text"]
    world.port.join(CHANNEL, 7)
    later(world, 31 + world.settings.join_recheck_interval)
    await world.press(7, button)
    assert world.jobs(7) == [yt(2), yt(70)]


async def test_the_waits_read_well_in_persian(make):
    world = make()
    await world.add_lock(CHANNEL)
    later(world, 0)  # the locks' clock stands still: the waits told are exact
    await world.say(8, "سلام " + yt(2) + " ممنون", lang="fa")
    await world.press(8, check_button(prompt_of(world, 8)))
    await world.press(8, check_button(prompt_of(world, 8)))
    assert world.answers(8)[-1]["text"] == "⏳ همین الان بررسی کردم. ۱۰ ثانیه دیگر دوباره «عضو شدم» را بزنید."
    world.port.flood = 30
    await world.say(7, "سلام " + yt(1) + " ممنون", lang="fa")
    told = world.texts(7)[-1]
    assert "نمی‌توانم" in told and "۳۰ ثانیه" in told and "can't" not in told
    await world.press(7, check_button(prompt_of(world, 7)))
    assert world.answers(7)[-1]["text"] == "⏳ الان نمی‌توانم بررسی کنم. لطفاً ۳۰ ثانیه دیگر دوباره بزنید."


# ---- several locks: only the missing ones ---------------------------------------------------------


async def test_a_member_of_some_locks_is_asked_to_join_only_the_missing_ones(make):
    world = make()
    for name in ("@gate_a", "@gate_b", "@gate_c"):
        await world.add_lock(name)
    world.port.join("@gate_a", 7)
    await world.say(7, yt(1))
    prompt = prompt_of(world, 7)
    assert [b["url"] for b in buttons(prompt) if b.get("url")] == ["https://t.me/gate_b", "https://t.me/gate_c"]
    world.port.join("@gate_b", 7)
    await world.press(7, check_button(prompt), message_id=77)
    assert world.answers(7)[-1]["text"] == "You haven't joined @gate_c yet. Join, then tap “I've joined” again."
    edited = prompt_of(world, 7)  # the prompt now shows only what is left
    assert edited["message_id"] == 77
    assert [b["url"] for b in buttons(edited) if b.get("url")] == ["https://t.me/gate_c"]
    world.port.join("@gate_c", 7)
    later(world, world.settings.join_recheck_interval)
    await world.press(7, check_button(edited), message_id=77)
    assert world.jobs(7) == [yt(1)]


# ---- maintenance: admins test the bot -------------------------------------------------------------


async def test_during_maintenance_an_admins_links_are_taken_past_locks_and_limits(make):
    world = make(USER_REQUESTS_PER_MIN="1", USER_QUEUE_MAX="1")
    await world.add_lock(CHANNEL)
    await world.say(ADMIN, "/maintenance on")
    await world.say(ADMIN, yt(1) + " " + yt(2))
    await world.say(7, yt(3))
    assert world.jobs(ADMIN) == [yt(1), yt(2)] and world.jobs(7) == []


# ---- refused admin commands ---------------------------------------------------------------------

ADMIN_COMMANDS = [
    "/addsponsor @x_chan", "/delsponsor 1", "/sponsors", "/ban 5", "/unban 5", "/maintenance on",
    "/stats", "/health", "/circuit", "/cleanup", "/reset_stats", "/broadcast",
]  # fmt: skip


async def test_refused_admin_commands_are_answered_and_audited_once_per_interval(make):
    world = make()
    for _ in range(3):
        for command in ADMIN_COMMANDS:
            await world.say(7, command)
    assert world.texts(7) == ["Sorry, this is for the bot's admins only."]
    assert world.audit() == [(7, "denied", "/addsponsor @x_chan")]
    assert not world.gates.maintenance.on
    age(world, 7, "notice:admin_only")  # NOTICE_INTERVAL later
    await world.say(7, "/stats")
    await world.say(9, "/stats سلام", lang="fa")
    assert world.texts(7)[-1] == "Sorry, this is for the bot's admins only."
    assert world.texts(9) == ["متأسفم، این فرمان فقط برای مدیران ربات است."]
    assert [a[2] for a in world.audit()] == ["/addsponsor @x_chan", "/stats", "/stats سلام"]


async def test_admin_buttons_pressed_by_someone_else_are_answered_and_audited_once_per_interval(make):
    world = make()
    await world.say(7, "/start")
    for _ in range(4):
        await world.press(7, world.codec.encode("ap", "rs"))  # the panel's "reset the counters"
        await world.press(7, world.codec.encode("bc", 1, "go"))  # a broadcast's button
    assert [a["text"] for a in world.answers(7)] == ["Sorry, this is for the bot's admins only."]
    assert [(a[0], a[1]) for a in world.audit()] == [(7, "denied")]


async def test_every_admin_table_gets_the_refusal_without_code_of_its_own(tmp_path):
    from gateway.commands import Table

    ran: list[int] = []

    def example(req: Request, msg: IncomingMessage) -> None:
        ran.append(req.user.id)
        req.reply("done")

    table = Table("gateway.admin.example", commands={"/example": example})
    world = World(tmp_path)
    try:
        world.router = Router(world.settings, world.db, world.codec, [*HANDLERS, table], world.gates.links, world.gates)
        await world.say(7, "/example")
        await world.say(ADMIN, "/example")
        assert ran == [ADMIN] and world.texts(7) == ["Sorry, this is for the bot's admins only."]
        assert world.audit() == [(7, "denied", "/example")]
    finally:
        world.close()


# ---- no circle -----------------------------------------------------------------------------------


def loaded_by(module: str, *others: str) -> list[str]:
    """Which of `others` importing `module` loads, in a fresh interpreter."""
    probe = f"import sys, {module}; print(sorted(m for m in {others!r} if m in sys.modules))"
    done = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return list(ast.literal_eval(done.stdout.strip()))


def test_the_admission_chain_and_the_command_table_depend_one_way():
    assert loaded_by("gateway.gates", "gateway.router") == []
    assert loaded_by("gateway.commands", "gateway.gates", "gateway.router") == []
