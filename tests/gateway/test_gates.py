"""The gate chain through Router.route on a real SQLite file: maintenance, ban, rate, concurrency,
the queue cap, the disk, the hint, forged and replayed buttons, a flood; admins pass them all.

Time passing is played by aging a mark's expiry in the table (the state is there, by design).
"""

from __future__ import annotations

import pytest

from gateway.admin.maintenance import Maintenance, PausingDispatcher
from gateway.dispatch import Dispatcher
from tests.gateway.gatekit import ADMIN, World, yt


def age(world: World, user_id: int, mark: str) -> None:
    world.db.execute("UPDATE user_marks SET expires_at = 0 WHERE user_id = ? AND mark = ?", [user_id, mark])


# ---- 1. maintenance -----------------------------------------------------------------------------


async def test_maintenance_tells_users_once_per_interval_lets_admins_through_and_pauses_dispatch(make):
    world = make()
    await world.say(7, yt(1))  # queued before maintenance
    await world.say(ADMIN, "/maintenance on Back at 18:00 <b>sharp</b>")
    for n in range(3):
        await world.say(7, yt(10 + n))
    await world.say(8, "/start")
    assert world.texts(7)[-1] == "🛠 Back at 18:00 &lt;b&gt;sharp&lt;/b&gt;" and len(world.texts(7)) == 2
    assert world.jobs(7) == [yt(1)] and world.texts(8) == ["🛠 Back at 18:00 &lt;b&gt;sharp&lt;/b&gt;"]
    age(world, 7, "notice:maintenance")  # MAINTENANCE_NOTICE_INTERVAL later
    await world.say(7, "hello")
    assert len(world.texts(7)) == 3
    await world.say(ADMIN, yt(2))
    assert world.jobs(ADMIN) == [yt(2)]
    paused = PausingDispatcher(world.settings, world.db, None, lambda items: None, world.gates.maintenance)  # type: ignore[arg-type]
    [(admins_job,)] = world.db.execute("SELECT id FROM jobs WHERE user_id = ?", [ADMIN]).fetchall()
    assert paused.next_job("probe") == admins_job  # an admin's own link goes (to test the bot)
    world.db.execute("UPDATE jobs SET state = 'choosing' WHERE id = ?", [admins_job])
    assert paused.next_job("probe") is None  # everyone else's queued jobs wait
    assert Maintenance.load(world.db).on  # it survives a restart
    await world.say(ADMIN, "/maintenance off")
    assert paused.next_job("probe") is not None
    await world.say(7, yt(3))
    assert world.jobs(7) == [yt(1), yt(3)]
    assert [a[1:] for a in world.audit()] == [
        ("maintenance", "on Back at 18:00 <b>sharp</b>"),
        ("maintenance", "off"),
    ]


# ---- 2. ban -------------------------------------------------------------------------------------


async def test_a_banned_user_gets_one_notice_then_silence_until_unbanned(make):
    world = make()
    await world.say(7, "/settings")
    await world.say(ADMIN, "/ban 7 spam links")
    before = len(world.sent(7))
    for n in range(5):
        await world.say(7, yt(n) if n % 2 else "/start")
    await world.press(7, world.codec.encode("s", "l", 0))
    after = world.sent(7)[before:]
    assert [p["text"] for p in after] == ["⛔ You can no longer use this bot."]  # no answer to the press either
    assert world.jobs(7) == []
    assert world.db.execute("SELECT language FROM users WHERE id = 7").fetchone()[0] == "en"  # the press did nothing
    await world.say(ADMIN, "/unban 7")
    await world.say(7, yt(9))
    assert world.jobs(7) == [yt(9)]
    await world.say(ADMIN, "/ban 7")
    await world.say(7, "hello")
    await world.say(7, "hello")
    told = world.db.execute("SELECT count(*) FROM outbox WHERE chat_id = 7 AND payload LIKE '%no longer use%'")
    assert told.fetchone()[0] == 2  # once per ban (the first, never sent here, was dropped by the second ban)
    assert [a[1:] for a in world.audit()] == [("ban", "7 spam links"), ("unban", "7"), ("ban", "7")]


async def test_a_ban_cancels_the_users_jobs_and_drops_what_was_still_to_be_sent(make):
    world = make()
    await world.say(7, yt(1) + " " + yt(2))
    assert len(world.sent(7)) == 2  # two queued statuses, not sent yet
    await world.say(ADMIN, "/ban 7")
    states = [r[0] for r in world.db.execute("SELECT state FROM jobs WHERE user_id = 7")]
    assert states == ["cancelled", "cancelled"] and world.sent(7) == []


async def test_a_user_who_never_wrote_can_be_banned_ahead_and_admins_cannot_be(make):
    world = make()
    await world.say(ADMIN, "/ban 99")
    await world.say(ADMIN, f"/ban {ADMIN}")
    await world.say(99, yt(1))
    assert world.jobs(99) == [] and len(world.texts(99)) == 1
    assert "can't be banned" in world.texts(ADMIN)[-1]


# ---- 4. rate ------------------------------------------------------------------------------------


@pytest.mark.parametrize(("lang", "words"), [("en", "3 links"), ("fa", "۳ لینک")])
async def test_links_over_the_rate_are_refused_with_one_message_a_minute(make, lang, words):
    world = make(USER_REQUESTS_PER_MIN="3")
    await world.say(7, " ".join(yt(n) for n in range(5)), lang=lang)
    assert world.jobs(7) == [yt(0), yt(1), yt(2)]
    [refusal] = [t for t in world.texts(7) if "⏱" in t]
    assert words in refusal
    await world.say(7, yt(9), lang=lang)
    assert len(world.jobs(7)) == 3 and len([t for t in world.texts(7) if "⏱" in t]) == 1
    await world.say(8, yt(8))  # another user has a window of their own
    assert world.jobs(8) == [yt(8)]
    age(world, 7, "rate")  # a minute later
    await world.say(7, yt(9), lang=lang)
    assert len(world.jobs(7)) == 4


async def test_the_global_rate_when_an_operator_sets_it(make):
    world = make(GLOBAL_REQUESTS_PER_MIN="2")
    await world.say(7, yt(1) + " " + yt(2))
    await world.say(8, yt(3))
    assert world.jobs(8) == [] and "busy" in world.texts(8)[-1]


# ---- 5. concurrency (gateway.dispatch) ----------------------------------------------------------


async def test_a_user_runs_two_downloads_at_once_and_the_rest_queue_for_their_turn(make):
    world = make()
    for user in (7, 8):
        await world.say(user, "/start")
        world.db.execute("UPDATE users SET default_format = 'v:720' WHERE id = ?", [user])
    await world.say(7, " ".join(yt(n) for n in range(5)))
    await world.say(8, yt(9))
    assert len(world.jobs(7)) == 5  # queued, not refused
    dispatcher = Dispatcher(world.settings, world.db, None, lambda items: None)  # type: ignore[arg-type]
    taken = []
    while (job := dispatcher.next_job("download")) is not None:
        dispatcher._begin(job, "download")
        taken.append(world.db.execute("SELECT user_id FROM jobs WHERE id = ?", [job]).fetchone()[0])
    assert sorted(taken) == [7, 7, 8]


# ---- 6. the queue cap, 7. the disk --------------------------------------------------------------


async def test_past_the_queue_cap_the_user_hears_the_bot_is_busy_and_admins_still_pass(make):
    world = make(QUEUE_MAX="2")
    await world.say(7, yt(1) + " " + yt(2))
    await world.say(8, yt(3))
    assert world.jobs(8) == []
    assert "busy" in world.texts(8)[-1] and "2 in the queue" in world.texts(8)[-1]
    await world.say(ADMIN, yt(4))
    assert world.jobs(ADMIN) == [yt(4)]


async def test_no_new_jobs_while_the_spool_is_over_its_budget(make):
    world = make(SPOOL_MAX_GB="0.001")
    folder = world.settings.spool_dir / "5"
    folder.mkdir(parents=True)
    (folder / "part").write_bytes(b"x" * 2 * 1024 * 1024)
    await world.say(7, yt(1))
    assert world.jobs(7) == [] and "space" in world.texts(7)[-1]
    await world.say(ADMIN, yt(2))
    assert world.jobs(ADMIN) == [yt(2)]


# ---- the hint, buttons, a flood -----------------------------------------------------------------


async def test_chatter_gets_the_hint_at_most_once_a_minute(make):
    world = make()
    for _ in range(3):
        await world.say(7, "hello?")
    assert len(world.texts(7)) == 1
    age(world, 7, "notice:hint")
    await world.say(7, "/nosuchcommand")
    assert len(world.texts(7)) == 2


async def test_forged_buttons_change_nothing_and_are_answered_expired(make):
    world = make()
    await world.say(7, "/settings")
    good = world.codec.encode("s", "l", 0)  # language: fa
    action, field, _index, mac = good.split("|")
    flipped = good[:-1] + ("A" if good[-1] != "A" else "B")
    for forged in (f"{action}|{field}|1|{mac}", flipped, "s|l|0", "", "x" * 64):
        await world.press(7, forged)
    assert [a["text"] for a in world.answers(7)] == ["This button has expired."] * 5
    assert world.db.execute("SELECT language FROM users WHERE id = 7").fetchone()[0] == "en"


async def test_a_replayed_cancel_is_expired_and_someone_elses_is_too(make):
    world = make()
    await world.say(7, yt(1))
    job = world.db.execute("SELECT id FROM jobs").fetchone()[0]
    cancel = world.codec.encode("x", job)
    await world.say(8, "hi")
    await world.press(8, cancel)  # a valid button, the wrong user
    assert world.db.execute("SELECT state FROM jobs").fetchone()[0] == "queued"
    await world.press(7, cancel)
    await world.press(7, cancel)  # the same press again
    assert world.db.execute("SELECT state FROM jobs").fetchone()[0] == "cancelled"
    assert [a["text"] for a in world.answers(7)] == ["✖ Cancelled.", "This button has expired."]
    assert [a["text"] for a in world.answers(8)] == ["This button has expired."]


async def test_a_flood_of_a_hundred_messages_costs_at_most_three_sends_and_others_are_served(make):
    world = make(USER_REQUESTS_PER_MIN="1")
    for n in range(100):
        await world.say(7, yt(n) if n % 3 else f"spam {n}")
        if n == 50:
            await world.say(8, yt(500))
    assert len(world.sent(7)) <= 3, world.texts(7)
    assert len(world.jobs(7)) == 1 and world.jobs(8) == [yt(500)]
