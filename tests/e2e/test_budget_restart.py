"""A FloodWait outlives the uploader that got it: the bot, with the sandbox enforcing Telegram's
limits, is told to wait by a forced 429; its uploader is killed -9 and restarted by the
supervisor while the wait runs; the new uploader sends nothing until the wait is over (the
sandbox, which holds the whole bot for the wait, would answer any send with another 429), and
then every answer goes out."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest

from tests.e2e.conftest import HTTP_TIMEOUT_S
from tests.support.bot import BotProcess, Chat
from tests.support.poll import until

RETRY_AFTER = 10  # seconds of the forced FloodWait: longer than the uploader takes to come back
RESTART_DEADLINE = 30.0
ANSWER_DEADLINE = 60.0
POLL_SLACK = 0.5  # the test sees the 429 at most this late (its polling), so it dates it this early


@pytest.fixture(scope="module")
def bot(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BotProcess]:
    bot = BotProcess(tmp_path_factory.mktemp("budget"), env={"SANDBOX_LIMITS": "1"}, workers=1)
    try:
        yield bot
    finally:
        bot.stop()


@pytest.fixture
async def http(bot: BotProcess) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=bot.url, timeout=HTTP_TIMEOUT_S) as client:
        yield client


async def stats(http: httpx.AsyncClient) -> dict:
    return dict((await http.get("/sandbox/stats")).json())


async def test_a_flood_wait_is_waited_out_across_an_uploader_restart(bot, http):
    first = Chat(http, 61_001, bot)
    await first.say("/start")
    await first.wait_text("Welcome")
    before = (await stats(http))["flood_waits"]

    await http.post("/sandbox/config", json={"faults": {"flood_next": 1, "flood_retry_after": RETRY_AFTER}})
    waiting = Chat(http, 61_002, bot)
    await waiting.say("/start")

    async def refused() -> bool:
        return (await stats(http))["flood_waits"] > before

    await until("the forced 429", refused, RESTART_DEADLINE, describe=bot.log)
    refused_at = time.time() - POLL_SLACK
    old_pid = bot.kill("uploader")

    async def restarted() -> dict | None:
        info = bot.processes()["uploader"]
        return info if info["pid"] not in (0, old_pid) and info["state"] == "ready" else None

    await until("a new uploader", restarted, RESTART_DEADLINE, describe=bot.log)
    assert time.time() < refused_at + RETRY_AFTER, "the uploader came back after the wait: nothing was tested"
    late = Chat(http, 61_003, bot)
    await late.say("/start")

    answers = [await chat.wait_text("Welcome", timeout=ANSWER_DEADLINE) for chat in (waiting, late)]
    assert all(m["at"] >= refused_at + RETRY_AFTER for m in answers), (refused_at, answers)
    assert (await stats(http))["flood_waits"] == before + 1  # nothing was sent into the wait
    assert any("a FloodWait from before the restart still runs" in line for line in bot.log_lines()), bot.log()
