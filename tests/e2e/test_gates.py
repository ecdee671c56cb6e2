"""Who may use the bot, and how much, as users and admins live it: sponsor locks, maintenance,
bans, the admin commands and their audit, concurrency, the rate, the queue cap and a flood;
through every process (`run.py --sandbox`), with channels and joins in the sandbox.

Two bots, one per class (starting one costs seconds): `TestLocks` runs with the default limits,
`TestLimits` with USER_REQUESTS_PER_MIN=2 and QUEUE_MAX=3 so the limits are reached with a few
links. Each test has its own users, channels and media URLs; a test that adds a lock removes it.
"""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from functools import partial
from typing import Any

import httpx
import pytest
import trio

from tests.support import journey
from tests.support.bot import BotProcess, Chat, button, buttons
from tests.support.journey import settled
from tests.support.poll import until

ADMIN = 4242
HTTP_TIMEOUT_S = 30.0
users = itertools.count(31_000)


# ---- helpers ------------------------------------------------------------------------------------


def link(bot: BotProcess, name: str, **query: object) -> str:
    return f"{bot.url}/media/{name}?" + "&".join(f"{k}={v}" for k, v in query.items())


def slow(bot: BotProcess, tag: str) -> str:
    """A file that takes about two seconds to download."""
    return link(bot, "slow", rate=150_000, size=300_000, t=tag)


def query(bot: BotProcess, sql: str, *params: object) -> list[tuple[Any, ...]]:
    return bot.query(sql, *params)


async def stats(http: httpx.AsyncClient) -> dict[str, Any]:
    return dict((await http.get("/sandbox/stats")).json())


async def member_checks(http: httpx.AsyncClient) -> int:
    return int((await stats(http))["requests"].get("getChatMember", 0))


async def set_best(chat: Chat) -> None:
    await chat.say("/settings")
    menu = await chat.wait_text("settings" if chat.lang == "en" else "تنظیمات")
    await chat.press(menu["message_id"], button(menu, "best" if chat.lang == "en" else "بهترین")["callback_data"])
    await until("the default to be saved", lambda: _answered(chat, "Saved" if chat.lang == "en" else "ذخیره"), 30)


async def answers(chat: Chat) -> list[dict[str, Any]]:
    response = await chat.http.get(f"/sandbox/users/{chat.user_id}/chat")
    return list(response.json()["callback_answers"])


async def _answered(chat: Chat, needle: str, skip: int = 0) -> dict[str, Any] | None:
    return next((a for a in (await answers(chat))[skip:] if needle in (a.get("text") or "")), None)


async def wait_answer(chat: Chat, needle: str, skip: int = 0) -> dict[str, Any]:
    return await until(f"an answer with {needle!r}", lambda: _answered(chat, needle, skip), 30, describe=chat._describe)


async def handled(bot: BotProcess, chat: Chat, message_id: int) -> None:
    await journey.handled(bot, chat.user_id, message_id)


def prompt_button(prompt: dict[str, Any]) -> str:
    return next(b["callback_data"] for b in buttons(prompt) if b.get("callback_data"))


@asynccontextmanager
async def sponsor(
    http: httpx.AsyncClient, bot: BotProcess, name: str, *terms: str, admin_of: bool = True
) -> AsyncIterator[str]:
    """A channel in the sandbox, locked with /addsponsor for the block; removed after it."""
    created = await http.post(
        "/sandbox/chats", json={"username": name, "type": "channel", "title": name, "bot_is_admin": admin_of}
    )
    assert created.status_code == 200, created.text
    admin = Chat(http, ADMIN, bot)
    await admin.say(" ".join(["/addsponsor", f"@{name}", *terms]))
    await admin.wait_text(f"@{name}")
    try:
        yield f"@{name}"
    finally:
        await admin.say(f"/delsponsor @{name}")
        await until("the lock removed", lambda: _removed(bot, name), 30, describe=bot.log)


async def _removed(bot: BotProcess, name: str) -> bool:
    return not query(bot, "SELECT 1 FROM sponsors WHERE username = ? AND active = 1", name)


async def peak_downloading(bot: BotProcess, user_id: int, chat: Chat, files: int, timeout: float) -> int:
    """Watch the user's jobs until `files` have arrived; the most that were downloading at once."""
    peak = 0
    with trio.move_on_after(timeout):
        while len(await chat.files()) < files:
            running = query(bot, "SELECT count(*) FROM jobs WHERE user_id = ? AND state = 'downloading'", user_id)
            peak = max(peak, running[0][0])
            await trio.sleep(0.05)
    assert len(await chat.files()) >= files, f"{len(await chat.files())} of {files} files came\n{bot.log()}"
    return peak


def start_bot(tmp_path_factory: pytest.TempPathFactory, **env: str) -> Iterator[BotProcess]:
    bot = BotProcess(tmp_path_factory.mktemp("gates"), env={"ADMIN_IDS": str(ADMIN), **env}, workers=1)
    try:
        yield bot
    finally:
        bot.stop()


# ---- sponsor locks, maintenance, bans, audit, restart ------------------------------------------


@pytest.fixture(scope="class")
def locks_bot(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BotProcess]:
    yield from start_bot(tmp_path_factory)


@pytest.fixture
async def ahttp(locks_bot: BotProcess) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=locks_bot.url, timeout=HTTP_TIMEOUT_S) as client:
        await Chat(client, ADMIN, locks_bot).say("/start")  # the bot may write to the admin from now on
        yield client


class TestLocks:
    async def test_a_lock_blocks_until_the_user_joins_then_the_held_link_arrives_and_counts_once(
        self, locks_bot, ahttp
    ):
        bot, user = locks_bot, Chat(ahttp, next(users), locks_bot)
        await set_best(user)
        async with sponsor(ahttp, bot, "g_join") as channel:
            asked = await user.say(link(bot, "sample.mp4", t="g-join"))
            prompt = await user.wait_text("join")
            assert [b["url"] for b in buttons(prompt) if b.get("url")] == ["https://t.me/g_join"]
            seen = len(await answers(user))  # the re-check before joining still refuses
            await user.press(prompt["message_id"], prompt_button(prompt))
            refused = await wait_answer(user, "haven't joined", seen)
            assert channel in refused["text"] and refused["show_alert"]
            await user.press(prompt["message_id"], prompt_button(prompt))  # again: JOIN_RECHECK_INTERVAL first
            await wait_answer(user, "I've just checked", seen + 1)
            assert await user.files() == []
            await ahttp.post(f"/sandbox/users/{user.user_id}/join", json={"chat": channel})
            await user.press(prompt["message_id"], prompt_button(prompt))
            [sent] = await user.wait_files(1)
            assert sent["reply_to_message_id"] == asked  # the held link, never sent again
            admin = Chat(ahttp, ADMIN, bot)
            await admin.say("/sponsors")
            figures = "@g_join\n   joins 1 · already members 0 · shown, not joined 0 · left after joining 0"
            await until("the lock's figures", lambda: _admin_has(admin, "Active locks", figures), 30, describe=bot.log)

    async def test_a_lock_ends_at_its_cap_and_at_its_date_and_the_admins_are_told(self, locks_bot, ahttp):
        bot, user, admin = locks_bot, Chat(ahttp, next(users), locks_bot), Chat(ahttp, ADMIN, locks_bot)
        async with sponsor(ahttp, bot, "g_cap", "1") as channel:
            await user.say(link(bot, "sample.mp4", t="g-cap"))
            prompt = await user.wait_text("join")
            await ahttp.post(f"/sandbox/users/{user.user_id}/join", json={"chat": channel})  # seen: the cap is reached
            ended = await until("the cap alert", lambda: _admin_has(admin, "@g_cap", "🔓"), 30, describe=bot.log)
            assert "reached its cap of 1 joins" in ended["text"]  # in the admin's language
            await user.press(prompt["message_id"], prompt_button(prompt))
            await user.wait_buttons()  # the held link became a job: its formats are offered
        async with sponsor(ahttp, bot, "g_exp", "0", "2s"):
            expired = await until("the expiry alert", lambda: _admin_has(admin, "@g_exp", "🔓"), 30, describe=bot.log)
            assert "its time is up" in expired["text"]
        assert query(bot, "SELECT username, end_reason FROM sponsors WHERE username IN ('g_cap', 'g_exp')") == [
            ("g_cap", "cap"),
            ("g_exp", "expired"),
        ]

    async def test_a_lock_the_bot_cannot_check_is_skipped_and_alerted_and_users_are_served(self, locks_bot, ahttp):
        bot, user, admin = locks_bot, Chat(ahttp, next(users), locks_bot), Chat(ahttp, ADMIN, locks_bot)
        async with sponsor(ahttp, bot, "g_hidden", admin_of=False):
            told = await until("the alert", lambda: _admin_has(admin, "@g_hidden", "⚠️ Lock"), 30, describe=bot.log)
            assert "inaccessible" in told["text"]
            await user.say(link(bot, "sample.mp4", t="g-hidden"))
            offer = await user.wait_buttons()
            assert not any(b.get("url") for b in buttons(offer))
            assert not [m for m in await user.bot_messages() if "join" in (m.get("text") or "")]

    async def test_fifty_messages_from_a_verified_user_cost_one_get_chat_member(self, locks_bot, ahttp):
        bot, user = locks_bot, Chat(ahttp, next(users), locks_bot)
        # A member from before the lock (no chat-member update tells the bot): the first link asks.
        await ahttp.post("/sandbox/chats", json={"username": "g_fifty", "type": "channel", "bot_is_admin": True})
        await ahttp.post(f"/sandbox/users/{user.user_id}/join", json={"chat": "@g_fifty"})
        async with sponsor(ahttp, bot, "g_fifty"):
            before = await member_checks(ahttp)
            url = link(bot, "sample.mp4", t="g-fifty")
            for n in range(50):
                last = await user.say(url if n % 2 == 0 else f"{url} and some words {n}")
            await handled(bot, user, last)
            assert await member_checks(ahttp) - before == 1

    async def test_five_slow_links_run_two_at_a_time_and_all_arrive(self, locks_bot, ahttp):
        bot, user = locks_bot, Chat(ahttp, next(users), locks_bot)
        await set_best(user)
        await user.say(" ".join(slow(bot, f"g-five-{n}") for n in range(5)))
        peak = await peak_downloading(bot, user.user_id, user, 5, timeout=90)
        assert peak == 2

        async def all_done() -> bool:  # the gateway marks a job done once the uploader says its file went
            return query(bot, "SELECT state FROM jobs WHERE user_id = ?", user.user_id) == [("done",)] * 5

        await until("all five jobs done (none was refused)", all_done, 30, describe=bot.log)
        texts = [m.get("text") or "" for m in await user.bot_messages(with_deleted=True)]
        assert any("In the queue: number" in t for t in texts)  # the waiting ones were told their place

    async def test_maintenance_lets_running_jobs_finish_holds_the_queue_and_tells_users_once(self, locks_bot, ahttp):
        bot, admin = locks_bot, Chat(ahttp, ADMIN, locks_bot)
        worker, other = Chat(ahttp, next(users), bot), Chat(ahttp, next(users), bot)
        await set_best(worker)
        await worker.say(" ".join(slow(bot, f"g-maint-{n}") for n in range(3)))
        await until("two downloads running", lambda: _running(bot, worker.user_id, 2), 30, describe=bot.log)
        await admin.say("/maintenance on Back at six")
        await admin.wait_text("Maintenance is on")
        try:
            await worker.wait_files(2, timeout=60)  # the running ones finish
            for n in range(3):
                last = await other.say(link(bot, "sample.mp4", t=f"g-maint-other-{n}"))
            await other.wait_text("Back at six")
            await settled(bot, other.user_id, last_message=last)
            assert len(await other.bot_messages()) == 1  # one notice for three messages
            assert query(bot, "SELECT count(*) FROM jobs WHERE user_id = ? AND state = 'queued'", worker.user_id) == [
                (1,)
            ]
        finally:
            await admin.say("/maintenance off")
            await admin.wait_text("Maintenance is off")
        await worker.wait_files(3, timeout=60)
        # Held, not slow: the third was handed out only once maintenance was off, though a slot
        # had been free since the first two were done, before the other user's three messages.
        [(off_at,)] = query(bot, "SELECT max(at) FROM admin_audit WHERE action = 'maintenance' AND admin_id = ?", ADMIN)
        [one, two, third] = query(
            bot, "SELECT finished_at, started_at FROM jobs WHERE user_id = ? ORDER BY id", worker.user_id
        )
        assert max(one[0], two[0]) < off_at < third[1], (one, two, third, off_at)

    async def test_a_banned_user_hears_once_then_nothing_until_unbanned(self, locks_bot, ahttp):
        bot, admin, user = locks_bot, Chat(ahttp, ADMIN, locks_bot), Chat(ahttp, next(users), locks_bot)
        await admin.say(f"/ban {user.user_id} flooding")
        await admin.wait_text(f"User {user.user_id} is banned")
        for text in ("/start", link(bot, "sample.mp4", t="g-ban"), "hello", "/settings"):
            last = await user.say(text)
        await user.wait_text("no longer use")
        await settled(bot, user.user_id, last_message=last)  # every message handled, nothing left to send
        assert len(await user.bot_messages()) == 1
        assert query(bot, "SELECT count(*) FROM jobs WHERE user_id = ?", user.user_id) == [(0,)]
        await admin.say(f"/unban {user.user_id}")
        await admin.wait_text(f"User {user.user_id} is no longer banned")
        await user.say(link(bot, "sample.mp4", t="g-unban"))
        await user.wait_buttons()

    async def test_a_stale_join_button_is_expired_and_delivers_nothing_twice(self, locks_bot, ahttp):
        bot, user = locks_bot, Chat(ahttp, next(users), locks_bot)
        async with sponsor(ahttp, bot, "g_stale") as channel:
            await user.say(link(bot, "sample.mp4", t="g-stale-1"))
            prompt = await user.wait_text("join")
            await ahttp.post(f"/sandbox/users/{user.user_id}/join", json={"chat": channel})
            last = await user.say(link(bot, "sample.mp4", t="g-stale-2"))  # passes, and takes the held link along
            await handled(bot, user, last)
            await user.press(prompt["message_id"], prompt_button(prompt))  # the old prompt's button
            await wait_answer(user, "expired")
            assert query(bot, "SELECT count(*) FROM jobs WHERE user_id = ?", user.user_id) == [(2,)]

    async def test_non_admins_are_refused_the_admin_commands_and_every_action_is_audited(self, locks_bot, ahttp):
        bot, user, admin = locks_bot, Chat(ahttp, next(users), locks_bot), Chat(ahttp, ADMIN, locks_bot)
        [(since,)] = query(bot, "SELECT coalesce(max(id), 0) FROM admin_audit")
        commands = ["/addsponsor @g_x", "/delsponsor 1", "/sponsors", "/ban 1", "/unban 1", "/maintenance on"]
        for command in commands:
            last = await user.say(command)
        await handled(bot, user, last)
        await user.wait_text("for the bot's admins")
        denied = query(bot, "SELECT detail FROM admin_audit WHERE admin_id = ? AND action = 'denied'", user.user_id)
        assert [d for (d,) in denied] == commands[:1]  # answered and audited once a minute
        async with sponsor(ahttp, bot, "g_audit"):
            for command, answer in (
                (f"/ban {user.user_id}", "is banned"),
                (f"/unban {user.user_id}", "no longer banned"),
            ):
                await admin.say(command)
                await until(command, partial(_admin_has, admin, str(user.user_id), answer), 30)
            await admin.say("/maintenance off")
            await admin.wait_text("Maintenance is off")
        done = query(bot, "SELECT DISTINCT action FROM admin_audit WHERE admin_id = ? AND id > ?", ADMIN, since)
        assert {a for (a,) in done} == {"addsponsor", "delsponsor", "ban", "unban", "maintenance"}

    async def test_a_held_link_survives_a_gateway_kill_9(self, locks_bot, ahttp):
        bot, user = locks_bot, Chat(ahttp, next(users), locks_bot)
        await set_best(user)
        async with sponsor(ahttp, bot, "g_kill") as channel:
            await user.say(link(bot, "sample.mp4", t="g-kill"))
            prompt = await user.wait_text("join")
            old = bot.kill("gateway")
            await ahttp.post(f"/sandbox/users/{user.user_id}/join", json={"chat": channel})
            await user.press(prompt["message_id"], prompt_button(prompt))  # waits for the new gateway
            await until("a new gateway", lambda: _restarted(bot, old), 60, describe=bot.log)
            await user.wait_files(1, timeout=90)


async def _admin_has(admin: Chat, *needles: str) -> dict[str, Any] | None:
    for m in reversed(await admin.bot_messages()):
        if all(n in (m.get("text") or "") for n in needles):
            return m
    return None


async def _running(bot: BotProcess, user_id: int, count: int) -> bool:
    rows = query(bot, "SELECT count(*) FROM jobs WHERE user_id = ? AND state = 'downloading'", user_id)
    return rows[0][0] >= count


async def _restarted(bot: BotProcess, old_pid: int) -> bool:
    try:
        gateway = bot.processes()["gateway"]
    except OSError:
        return False
    return int(gateway["pid"]) != old_pid


# ---- the rate, the queue cap, a flood ----------------------------------------------------------


@pytest.fixture(scope="class")
def limits_bot(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BotProcess]:
    yield from start_bot(tmp_path_factory, USER_REQUESTS_PER_MIN="2", QUEUE_MAX="3")


@pytest.fixture
async def lhttp(limits_bot: BotProcess) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=limits_bot.url, timeout=HTTP_TIMEOUT_S) as client:
        yield client


class TestLimits:
    @pytest.mark.parametrize(("lang", "words"), [("en", "2 links within a minute"), ("fa", "۲ لینک")])
    async def test_links_over_the_rate_are_refused_with_one_message(self, limits_bot, lhttp, lang, words):
        bot, user = limits_bot, Chat(lhttp, next(users), limits_bot, lang=lang)
        await user.say(" ".join(link(bot, "sample.mp4", t=f"l-rate-{lang}-{n}") for n in range(3)))
        last = await user.say(link(bot, "sample.mp4", t=f"l-rate-{lang}-more"))
        refusal = await user.wait_text("⏱")
        assert words in refusal["text"]
        await handled(bot, user, last)
        assert query(bot, "SELECT count(*) FROM jobs WHERE user_id = ?", user.user_id) == [(2,)]
        assert len([m for m in await user.bot_messages() if "⏱" in (m.get("text") or "")]) == 1

    async def test_past_the_queue_cap_a_user_hears_the_bot_is_busy(self, limits_bot, lhttp):
        bot, admin, late = limits_bot, Chat(lhttp, ADMIN, limits_bot), Chat(lhttp, next(users), limits_bot)
        await set_best(admin)
        # An admin passes the rate: five links, two download (USER_CONCURRENT_DOWNLOADS), three wait.
        slower = [link(bot, "slow", rate=30_000, size=300_000, t=f"l-cap-{n}") for n in range(5)]
        await admin.say(" ".join(slower))
        await until("two downloads", lambda: _running(bot, ADMIN, 2), 30, describe=bot.log)
        assert query(bot, "SELECT count(*) FROM jobs WHERE state = 'queued'") == [(3,)]  # QUEUE_MAX reached
        await late.say(link(bot, "sample.mp4", t="l-cap-late"))
        busy = await late.wait_text("busy")
        assert "3 in the queue" in busy["text"] and "send your link again in" in busy["text"]
        assert query(bot, "SELECT count(*) FROM jobs WHERE user_id = ?", late.user_id) == [(0,)]
        await admin.say("/cancel")
        await admin.wait_text("Cancelled")
        await settled(bot, ADMIN)
        jobs = query(bot, "SELECT id, state FROM jobs WHERE user_id = ?", ADMIN)
        assert [state for _, state in jobs] == ["cancelled"] * 5, jobs
        assert await admin.files() == []
        await until("the jobs' spool folders removed", lambda: not _spooled(bot, [j for j, _ in jobs]), 30)

    async def test_a_flood_costs_at_most_three_sends_a_minute_and_others_are_served(self, limits_bot, lhttp):
        bot, flood, other = limits_bot, Chat(lhttp, next(users), limits_bot), Chat(lhttp, next(users), limits_bot)
        url = link(bot, "sample.mp4", t="l-flood")
        with trio.fail_after(50):  # the whole flood within its rate window
            for n in range(100):
                last = await flood.say(url)
                if n == 50:
                    await other.say(link(bot, "sample.mp4", t="l-flood-other"))
            await handled(bot, flood, last)
            await other.wait_buttons()  # served meanwhile
            await until("nothing left to send", lambda: _all_sent(bot, flood.user_id), 40, describe=bot.log)
        sent = await flood.bot_messages(with_deleted=True)
        assert len(sent) <= 3, [m.get("text") for m in sent]


def _spooled(bot: BotProcess, job_ids: list[int]) -> list[int]:
    return [j for j in job_ids if (bot.data_dir / "spool" / str(j)).exists()]


async def _all_sent(bot: BotProcess, chat_id: int) -> bool:
    return not query(bot, "SELECT 1 FROM outbox WHERE chat_id = ? AND state IN ('pending', 'sending')", chat_id)
