"""The circuit breaker as users and admins see it: after 5 platform-side failures in a row the
platform is paused with an honest answer, the admins hear it once; after CIRCUIT_RECOVERY one job
goes through as a probe, and its success reopens the platform, told once too."""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import httpx
import pytest

from core.texts import text
from tests.e2e.conftest import HTTP_TIMEOUT_S
from tests.support.bot import BotProcess, Chat
from tests.support.journey import set_default
from tests.support.poll import until

ADMIN = 4242
RECOVERY_S = 6
BREAKER = {"ADMIN_IDS": str(ADMIN), "CIRCUIT_RECOVERY": str(RECOVERY_S), "JOB_ATTEMPTS": "1"}
users = itertools.count(80_000)
CIRCUITS = text("en", "panel_circuits")
RETRY_WORDS = text("en", "panel_circuit_retry", seconds=0).split("0")[0]  # ", test download in "


@pytest.fixture(scope="module")
def breaker_bot(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BotProcess]:
    bot = BotProcess(tmp_path_factory.mktemp("breaker"), env=BREAKER, workers=2)
    try:
        yield bot
    finally:
        bot.stop()


async def alerts(admin: Chat, word: str) -> list[dict]:
    return [m for m in await admin.bot_messages() if word in (m.get("text") or "")]


async def probe_allowed(admin: Chat) -> bool:
    """Ask /circuit as the admin; true once the open breaker counts down no more (its recovery
    time has passed: the next job goes through as the probe)."""
    before = len(await admin.bot_messages())
    await admin.say("/circuit")

    async def answer() -> str | None:
        found = [m["text"] for m in (await admin.bot_messages())[before:] if CIRCUITS in (m.get("text") or "")]
        return found[0] if found else None

    words = await until("the /circuit answer", answer, 30)
    line = next((row for row in words.splitlines() if "open" in row), "")
    return bool(line) and RETRY_WORDS not in line


async def test_five_platform_failures_open_the_breaker_one_probe_closes_it(breaker_bot):
    async with httpx.AsyncClient(base_url=breaker_bot.url, timeout=HTTP_TIMEOUT_S) as http:
        admin = Chat(http, ADMIN, breaker_bot)
        await admin.say("/start")  # admins must have opened the chat for the bot to write to them
        await admin.wait_text("Welcome")
        failing = [Chat(http, next(users), breaker_bot) for _ in range(5)]
        for n, chat in enumerate(failing):
            await set_default(chat, "best")
            await chat.say(f"{breaker_bot.url}/media/status?code=500&n={n}")
            await chat.wait_text(text("en", "error_network"))
        opened = await until("the admin's alert", lambda: alerts(admin, "paused"), 30)
        assert len(opened) == 1

        late = Chat(http, next(users), breaker_bot)
        await set_default(late, "best")
        await late.say(f"{breaker_bot.url}/media/sample.mp4?late=1")
        await late.wait_text(text("en", "error_unavailable", minutes=1))
        assert await late.files() == []

        await until("the breaker to let a test download through", lambda: probe_allowed(admin), RECOVERY_S * 3)
        probe = Chat(http, next(users), breaker_bot)
        await set_default(probe, "best")
        await probe.say(f"{breaker_bot.url}/media/sample.mp4?probe=1")
        await probe.wait_files(1, timeout=60)
        closed = await until("the all-clear", lambda: alerts(admin, "open again"), 30)
        assert len(closed) == 1 and len(await alerts(admin, "paused")) == 1
