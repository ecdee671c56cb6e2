"""The gates one user cannot get around, as users see them through every process
(`run.py --sandbox`): 100 links held behind a lock and released by a join get the limits' worth of
jobs and a polite answer for the rest; one user with a default format cannot fill the queue; a
FloodWait the sandbox forces on getChatMember lets nobody through; a member of some of three locks
is asked to join only the missing ones; refused admin commands cost one answer and one audit row;
an admin's link is taken during maintenance.

One bot for the module, with USER_REQUESTS_PER_MIN=6 and USER_QUEUE_MAX=3; each test has its own
users, channels and media URLs, and a test that adds a lock or a fault removes it.
"""

from __future__ import annotations

import itertools
import sqlite3
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, closing
from typing import Any

import httpx
import pytest
import trio

from tests.support.bot import BotProcess, Chat, button, buttons
from tests.support.poll import until

ADMIN = 4242
DEADLINE_S = 60.0
FLOOD_S = 8  # the FloodWait the sandbox forces on getChatMember
users = itertools.count(41_000)


@pytest.fixture(scope="module")
def shared_bot(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BotProcess]:
    """This module's bot (conftest's `http` talks to it), with limits reached in a few links."""
    env = {"ADMIN_IDS": str(ADMIN), "USER_REQUESTS_PER_MIN": "6", "USER_QUEUE_MAX": "3"}
    process = BotProcess(tmp_path_factory.mktemp("holes"), env=env, workers=1)
    try:
        yield process
    finally:
        process.stop()


@pytest.fixture
def bot(shared_bot: BotProcess) -> BotProcess:
    return shared_bot


# ---- what a user and the database show ------------------------------------------------------------


def media(bot: BotProcess, tag: str) -> str:
    return f"{bot.url}/media/sample.mp4?t={tag}"


def rows(bot: BotProcess, sql: str, *params: object) -> list[tuple[Any, ...]]:
    """The bot's database, read-only beside the running bot (WAL)."""
    with closing(sqlite3.connect(f"file:{bot.data_dir / 'bot.sqlite3'}?mode=ro", uri=True)) as db:
        return db.execute(sql, params).fetchall()


def jobs_of(bot: BotProcess, user_id: int) -> int:
    return int(rows(bot, "SELECT count(*) FROM jobs WHERE user_id = ?", user_id)[0][0])


async def seen(bot: BotProcess, chat: Chat, message_id: int) -> None:
    """The gateway has handled the user's messages up to `message_id` (in order, one chat)."""

    async def done() -> bool:
        last = rows(bot, "SELECT last_message_id FROM users WHERE id = ?", chat.user_id)
        return bool(last) and last[0][0] >= message_id

    await until(f"message {message_id} of user {chat.user_id} handled", done, DEADLINE_S, describe=bot.log)


async def answered(chat: Chat, needle: str, after: int = 0) -> dict[str, Any]:
    """The first answer to a button press, after the first `after`, that contains `needle`."""

    async def found() -> dict[str, Any] | None:
        response = await chat.http.get(f"/sandbox/users/{chat.user_id}/chat")
        answers = response.json()["callback_answers"][after:]
        return next((a for a in answers if needle in (a.get("text") or "")), None)

    return await until(f"an answer with {needle!r}", found, DEADLINE_S, describe=chat._describe)


async def answer_count(chat: Chat) -> int:
    return len((await chat.http.get(f"/sandbox/users/{chat.user_id}/chat")).json()["callback_answers"])


async def member_checks(http: httpx.AsyncClient) -> int:
    return int((await http.get("/sandbox/stats")).json()["requests"].get("getChatMember", 0))


async def press(chat: Chat, prompt: dict[str, Any]) -> dict[str, Any]:
    """Press the prompt's "I've joined"; its answer."""
    before = await answer_count(chat)
    await chat.press(prompt["message_id"], check_data(prompt))
    return await answered(chat, "", before)


async def offered(chat: Chat, prompt: dict[str, Any]) -> None:
    """The held link became a job: its formats are offered (a message with buttons, not the prompt)."""

    async def choice() -> bool:
        for m in await chat.bot_messages():
            data = [b.get("callback_data", "") for b in buttons(m)]
            if m["message_id"] != prompt["message_id"] and any(d and not d.startswith("x|") for d in data):
                return True
        return False

    await until(f"a choice in chat {chat.user_id}", choice, DEADLINE_S, describe=chat._describe)


def check_data(prompt: dict[str, Any]) -> str:
    return next(b["callback_data"] for b in buttons(prompt) if b.get("callback_data"))


def join_urls(prompt: dict[str, Any]) -> list[str]:
    return [b["url"] for b in buttons(prompt) if b.get("url")]


async def join(http: httpx.AsyncClient, chat: Chat, channel: str) -> None:
    joined = await http.post(f"/sandbox/users/{chat.user_id}/join", json={"chat": channel})
    assert joined.status_code == 200, joined.text


@asynccontextmanager
async def locked(http: httpx.AsyncClient, bot: BotProcess, *names: str) -> AsyncIterator[list[str]]:
    """Channels in the sandbox, each locked with /addsponsor for the block, removed after it."""
    admin = Chat(http, ADMIN, bot)
    for name in names:
        made = await http.post("/sandbox/chats", json={"username": name, "type": "channel", "title": name})
        assert made.status_code == 200, made.text
        await admin.say(f"/addsponsor @{name}")
        await admin.wait_text(f"@{name}")
    try:
        yield [f"@{name}" for name in names]
    finally:
        for name in names:
            await admin.say(f"/delsponsor @{name}")
        await until("the locks removed", lambda: _unlocked(bot, names), DEADLINE_S, describe=bot.log)


async def _unlocked(bot: BotProcess, names: tuple[str, ...]) -> bool:
    marks = ",".join("?" * len(names))
    return not rows(bot, f"SELECT 1 FROM sponsors WHERE active = 1 AND username IN ({marks})", *names)


@asynccontextmanager
async def faults(http: httpx.AsyncClient, **values: Any) -> AsyncIterator[None]:
    """Faults of the sandbox for the block."""
    response = await http.post("/sandbox/config", json={"faults": values})
    assert response.status_code == 200, response.text
    try:
        yield
    finally:
        await http.post("/sandbox/config", json={"faults": {"flood_methods": []}})


# ---- held links ------------------------------------------------------------------------------------


async def test_a_hundred_held_links_released_by_a_join_get_the_limits_worth_of_jobs_and_one_polite_answer(bot, http):
    user = Chat(http, next(users), bot, lang="fa")
    async with locked(http, bot, "h_hundred") as [channel]:
        for n in range(20):
            links = " ".join(media(bot, f"h-hundred-{n}-{k}") for k in range(5))
            last = await user.say(f"سلام، لطفاً این‌ها را بفرست: {links} ممنون")
        await seen(bot, user, last)
        prompt = await user.wait_text("عضو")
        assert jobs_of(bot, user.user_id) == 0 and join_urls(prompt) == ["https://t.me/h_hundred"]
        held = rows(bot, "SELECT count(*) FROM held_links WHERE user_id = ?", user.user_id)
        assert held == [(20,)]
        await join(http, user, channel)
        await user.press(prompt["message_id"], check_data(prompt))
        await answered(user, "سپاس")
        refusal = await user.wait_text("📥")  # three are waiting already: USER_QUEUE_MAX
        assert "۳ لینک" in refusal["text"] and "3" not in refusal["text"]
        assert jobs_of(bot, user.user_id) == 3
        texts = [m.get("text") or "" for m in await user.bot_messages(with_deleted=True)]
        assert len([t for t in texts if "📥" in t or "⏱" in t]) == 1  # one answer for 97 links
        late = await user.say(media(bot, "h-hundred-late"))  # a new link: nothing held slips in with it
        await seen(bot, user, late)
        urls = [url for (url,) in rows(bot, "SELECT url FROM jobs WHERE user_id = ? ORDER BY id", user.user_id)]
        assert urls[:3] == [media(bot, f"h-hundred-0-{k}") for k in range(3)]  # the oldest first
        assert urls[3:] in ([], [media(bot, "h-hundred-late")])  # taken if a job has left the queue by now


async def test_one_user_with_a_default_format_cannot_fill_the_queue(bot, http):
    user, other = Chat(http, next(users), bot), Chat(http, next(users), bot)
    await user.say("/settings")
    menu = await user.wait_text("settings")
    await user.press(menu["message_id"], button(menu, "best")["callback_data"])
    await answered(user, "Saved")
    slow = [f"{bot.url}/media/slow?rate=30000&size=300000&t=h-queue-{n}" for n in range(5)]
    await user.say("please: " + " ".join(slow))
    refusal = await user.wait_text("📥")
    assert "3 links waiting" in refusal["text"]
    assert jobs_of(bot, user.user_id) == 3
    await other.say(media(bot, "h-queue-other"))
    await other.wait_buttons()  # the others still find room
    await user.say("/cancel")
    await user.wait_text("Cancelled")


# ---- "I've joined" during a FloodWait ------------------------------------------------------------------


async def test_a_flood_wait_forced_on_get_chat_member_lets_nobody_through(bot, http):
    stranger, other = Chat(http, next(users), bot), Chat(http, next(users), bot)
    member = Chat(http, next(users), bot)
    async with locked(http, bot, "h_flood") as [channel]:
        await join(http, member, channel)
        await member.say(media(bot, "h-flood-member-1"))
        await member.wait_buttons()  # a member, known before the flood
        before = await member_checks(http)
        async with faults(http, flood_methods=["getChatMember"], flood_retry_after=FLOOD_S):
            started = trio.current_time()
            await stranger.say(media(bot, "h-flood-1"))
            later = await stranger.wait_text("can't check")
            assert channel in later["text"] and "try again in" in later["text"]
            await other.say(media(bot, "h-flood-2"))
            await other.wait_text("can't check")
            for _ in range(3):
                assert "try again in" in (await press(stranger, later))["text"]
            await member.say(media(bot, "h-flood-member-2"))  # the cached member is not held up
            await until("the member's second job", lambda: _jobs(bot, member.user_id, 2), DEADLINE_S)
            periods = 1 + int((trio.current_time() - started) // FLOOD_S)
            assert await member_checks(http) - before <= periods  # not one question per press or user
            assert jobs_of(bot, stranger.user_id) == jobs_of(bot, other.user_id) == 0
        # Over: a press asks Telegram again (the user presses once a second until the FloodWait
        # they were told of has passed), and still nobody passes without joining.
        with trio.fail_after(FLOOD_S * 3):
            while "haven't joined" not in (reply := await press(stranger, later))["text"]:
                assert "try again in" in reply["text"], reply
                await trio.sleep(1)
        assert jobs_of(bot, stranger.user_id) == 0
        await join(http, stranger, channel)
        await stranger.press(later["message_id"], check_data(later))
        await offered(stranger, later)  # the held link, at last


async def _jobs(bot: BotProcess, user_id: int, count: int) -> bool:
    return jobs_of(bot, user_id) >= count


# ---- several locks -----------------------------------------------------------------------------------


async def test_a_member_of_some_of_three_locks_is_asked_to_join_only_the_missing_ones(bot, http):
    user = Chat(http, next(users), bot, lang="fa")
    async with locked(http, bot, "h_one", "h_two", "h_three") as [one, two, three]:
        await join(http, user, one)
        await user.say("سلام " + media(bot, "h-some") + " ممنون")
        prompt = await user.wait_text("عضو")
        assert join_urls(prompt) == ["https://t.me/h_two", "https://t.me/h_three"]
        await join(http, user, two)
        await user.press(prompt["message_id"], check_data(prompt))
        not_yet = await answered(user, "عضو نشده‌اید")
        assert three in not_yet["text"] and one not in not_yet["text"] and two not in not_yet["text"]

        async def narrowed() -> dict[str, Any] | None:
            for m in await user.bot_messages():
                if m["message_id"] == prompt["message_id"] and join_urls(m) == ["https://t.me/h_three"]:
                    return m
            return None

        await until("the prompt showing only the channel left", narrowed, DEADLINE_S, describe=bot.log)
        assert jobs_of(bot, user.user_id) == 0
        await join(http, user, three)
        await user.press(prompt["message_id"], check_data(prompt))
        await offered(user, prompt)
        assert jobs_of(bot, user.user_id) == 1


# ---- admins ---------------------------------------------------------------------------------------------

ADMIN_COMMANDS = [
    "/addsponsor @h_x", "/delsponsor 1", "/sponsors", "/ban 1", "/unban 1", "/maintenance on",
    "/stats", "/health", "/circuit", "/cleanup", "/reset_stats", "/broadcast",
]  # fmt: skip


async def test_refused_admin_commands_cost_one_answer_and_one_audit_row(bot, http):
    user = Chat(http, next(users), bot)
    for _ in range(2):
        for command in ADMIN_COMMANDS:
            await user.say(command)
    last = await user.say("/start")  # the sentinel: handled after every attempt before it
    await seen(bot, user, last)
    await user.wait_text("Welcome")
    texts = [m.get("text") or "" for m in await user.bot_messages(with_deleted=True)]
    assert len(texts) == 2 and "for the bot's admins only" in texts[0], texts
    denied = rows(bot, "SELECT detail FROM admin_audit WHERE admin_id = ? AND action = 'denied'", user.user_id)
    assert denied == [("/addsponsor @h_x",)]
    assert rows(bot, "SELECT count(*) FROM outbox WHERE chat_id = ?", user.user_id) == [(2,)]


async def test_during_maintenance_an_admins_link_is_taken_and_others_hear_the_notice(bot, http):
    admin, user = Chat(http, ADMIN, bot), Chat(http, next(users), bot)
    await admin.say("/maintenance on")
    await admin.wait_text("Maintenance is on")
    try:
        taken = await admin.say(media(bot, "h-maint-admin"))
        await seen(bot, admin, taken)
        assert rows(bot, "SELECT count(*) FROM jobs WHERE user_id = ? AND request_message_id = ?", ADMIN, taken) == [
            (1,)
        ]
        await user.say(media(bot, "h-maint-user"))
        await user.wait_text("maintenance")
        assert jobs_of(bot, user.user_id) == 0
    finally:
        await admin.say("/maintenance off")
        await admin.wait_text("Maintenance is off")
