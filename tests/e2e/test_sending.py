"""The send budget at Telegram's ceiling, with the sandbox enforcing Telegram's limits: thousands
of sends earn no 429 and never pass the limit; a heavy user does not starve a light one; a forced
FloodWait is waited out and the send completes; a user who blocked the bot costs one try."""

from __future__ import annotations

import itertools
import os
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
import trio

from tests.e2e.conftest import HTTP_TIMEOUT_S
from tests.support.bot import BotProcess, Chat
from tests.support.journey import set_default, settled
from tests.support.poll import until

users = itertools.count(90_000)
# The suite's figure; the full 3,000 sends across 500 users run with SEND_TEST_USERS=500.
USERS_IN_THE_SUITE = int(os.environ.get("SEND_TEST_USERS", "150"))
SENDS_PER_USER = 6  # the welcome, the file, /settings, its edit, a hint, /cancel's answer
SEND_LIMIT = 30  # the sandbox's (and Telegram's) sends a second for a bot


@pytest.fixture(scope="module")
def limited_bot(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BotProcess]:
    bot = BotProcess(tmp_path_factory.mktemp("sending"), env={"ADMIN_IDS": "4242", "SANDBOX_LIMITS": "1"}, workers=2)
    try:
        yield bot
    finally:
        bot.stop()


@pytest.fixture
async def http(limited_bot: BotProcess) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=limited_bot.url, timeout=HTTP_TIMEOUT_S) as client:
        yield client


async def stats(http: httpx.AsyncClient) -> dict:
    return dict((await http.get("/sandbox/stats")).json())


async def cached_link(bot: BotProcess, http: httpx.AsyncClient, tag: str) -> str:
    """A link whose file is in the cache already (a plain file: no question asked)."""
    url = f"{bot.url}/media/blob?size=40000&t={tag}"
    seeder = Chat(http, next(users), bot)
    await seeder.say(url)
    await seeder.wait_files(1, timeout=90)
    return url


async def test_thousands_of_sends_with_files_mixed_in_earn_no_429_and_never_pass_the_limit(limited_bot, http):
    url = await cached_link(limited_bot, http, "budget")
    before = await stats(http)
    people = [Chat(http, next(users), limited_bot) for _ in range(USERS_IN_THE_SUITE)]

    async def behave(chat: Chat) -> None:
        for words in ("/start", "/cancel", url, "/settings", "hello there"):  # /cancel: nothing yet
            await chat.say(words)
        menu = await chat.wait_text("Your settings", timeout=600)
        await chat.press(menu["message_id"], menu["reply_markup"]["inline_keyboard"][0][1]["callback_data"])

    limiter = trio.Semaphore(25)

    async def polite(chat: Chat) -> None:
        async with limiter:
            await behave(chat)

    async with trio.open_nursery() as nursery:
        for chat in people:
            nursery.start_soon(polite, chat)
    expected = before["sends"] + SENDS_PER_USER * len(people)

    async def all_sent() -> dict | None:
        now = await stats(http)
        return now if now["sends"] >= expected else None

    await until(f"{SENDS_PER_USER * len(people)} sends", all_sent, 30 + len(people) * 1.5)
    for chat in people:  # the barrier: nothing is left to send to anyone
        await settled(limited_bot, chat.user_id)
    after = await stats(http)
    assert after["flood_waits"] - before["flood_waits"] == 0
    assert after["peak_send_rate"] <= SEND_LIMIT
    assert [len(await chat.files()) for chat in people] == [1] * len(people)


async def test_a_heavy_user_does_not_starve_a_light_one(limited_bot, http):
    links = [await cached_link(limited_bot, http, f"heavy{i}") for i in range(8)]
    light_link = await cached_link(limited_bot, http, "light")
    heavy, light = Chat(http, next(users), limited_bot), Chat(http, next(users), limited_bot)
    for url in links:
        await heavy.say(url)
    await light.say(light_link)
    [mine] = await light.wait_files(1, timeout=60)
    theirs = await heavy.wait_files(len(links), timeout=120)
    # A private chat takes about one message a second: the heavy user's files come over seconds,
    # and the light user's one is not queued behind them.
    assert mine["at"] < sorted(m["at"] for m in theirs)[3]


async def test_a_forced_flood_wait_is_waited_out_and_the_send_completes(limited_bot, http):
    chat = Chat(http, next(users), limited_bot)
    await chat.say("/start")
    await chat.wait_text("Welcome")
    before = await stats(http)
    await http.post("/sandbox/config", json={"faults": {"flood_next": 1, "flood_retry_after": 3}})
    started = trio.current_time()
    await chat.say("/settings")
    await chat.wait_text("Your settings", timeout=60)
    assert trio.current_time() - started >= 3  # Telegram said wait 3 s: exactly that was waited
    after = await stats(http)
    assert after["flood_waits"] - before["flood_waits"] == 1  # and no second 429 came of it


async def test_a_user_who_blocked_the_bot_costs_one_try_per_send_and_no_retries(limited_bot, http):
    chat = Chat(http, next(users), limited_bot)
    await set_default(chat, "best")
    await chat.say(f"{limited_bot.url}/media/slow?size=300000&rate=100000&t=blocked")
    await chat.wait_text("In the queue", timeout=60)
    await http.post(f"/sandbox/users/{chat.user_id}/block")

    def rows() -> list[tuple[str, int]]:
        sql = "SELECT state, attempts FROM outbox WHERE chat_id = ? AND kind = 'media'"
        return [(state, attempts) for state, attempts in limited_bot.query(sql, chat.user_id)]

    async def refused() -> list[tuple[str, int]] | None:
        found = rows()
        return found if found and all(state == "failed" for state, _ in found) else None

    assert await until("the file's send to be refused", refused, 90) == [("failed", 1)]
    [(blocked,)] = limited_bot.query("SELECT blocked_bot FROM users WHERE id = ?", chat.user_id)
    assert blocked == 1

    def job_state() -> str | None:  # the gateway moves the job when the uploader's report reaches it
        [(state,)] = limited_bot.query("SELECT state FROM jobs WHERE user_id = ?", chat.user_id)
        return state if state in ("failed", "done", "cancelled") else None

    assert await until("the job to end", job_state, 30) == "failed"
