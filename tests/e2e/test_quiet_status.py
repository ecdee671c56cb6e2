"""Fewer sends per file: a quick job's chat holds only its file; a slow job's chat its status,
then its file; a status never lands after its file, even when its own send is the slow one; a
quick job that fails is answered once.

Every chat is read with its deleted messages: a status that came and went still counts.
"""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest

from tests.e2e.conftest import HTTP_TIMEOUT_S
from tests.support.bot import BotProcess, Chat
from tests.support.journey import set_default
from tests.support.poll import until

users = itertools.count(97_000)
QUICK_BYTES = 40_000  # a blob the bot fetches in a blink
SLOW_RATE = 100_000  # bytes/s of /media/slow
# The status's own send is slowed down this much (the sandbox holds every sendMessage), and the
# download takes SLOW_RACE_S: it ends while the status is on its way, whenever in its first
# second or two the uploader took the status up.
STATUS_LATENCY_MS = 5000
SLOW_RACE_BYTES = 350_000
WARM_UP_JOBS = 4


@pytest.fixture(scope="module")
def bot(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BotProcess]:
    bot = BotProcess(tmp_path_factory.mktemp("quiet"), env={"STATUS_DELAY_S": "1.5"}, workers=2)
    try:
        yield bot
    finally:
        bot.stop()


@pytest.fixture
async def http(bot: BotProcess) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=bot.url, timeout=HTTP_TIMEOUT_S) as client:
        if not WARM:  # a fresh downloader's first probe takes seconds (yt-dlp loads): none is quick
            for i in range(WARM_UP_JOBS):  # at once: every downloader gets one
                await Chat(client, next(users), bot).say(f"{bot.url}/media/blob?size={QUICK_BYTES}&q=warm-{i}")
            await until("the warm-up jobs done", lambda: _done(bot), 90, describe=bot.log)
            WARM.append(True)
        yield client


WARM: list[bool] = []


def _done(bot: BotProcess) -> bool | None:
    return len(bot.query("SELECT 1 FROM jobs WHERE state = 'done'")) >= WARM_UP_JOBS or None


def status_rows(bot: BotProcess, chat_id: int) -> list[dict]:
    return bot.rows("SELECT id, kind, role, state FROM outbox WHERE chat_id = ? AND kind = 'text'", chat_id)


async def history(chat: Chat, after: int = 0) -> list[dict]:
    """Every message the bot posted in the chat after message `after`, the deleted ones too, in
    the order they landed."""
    shown = [m for m in await chat.bot_messages(with_deleted=True) if m["message_id"] > after]
    return sorted(shown, key=lambda m: m["message_id"])


async def test_a_quick_job_sends_its_file_and_nothing_else(bot, http):
    chat = Chat(http, next(users), bot)
    await chat.say(f"لینک: {bot.url}/media/blob?size={QUICK_BYTES}&q=quick")
    await chat.wait_files(1)

    async def settled() -> list[dict] | None:  # the status row was dropped unsent, nothing pending
        rows = status_rows(bot, chat.user_id)
        return rows if rows and all(r["state"] == "dropped" for r in rows) else None

    rows = await until("the quick job's status dropped unsent", settled, 30, describe=bot.log)
    shown = await history(chat)
    assert [bool(m.get("media")) for m in shown] == [True], shown
    assert [r["role"] for r in rows] == ["quiet_status"]


async def test_a_slow_job_shows_its_status_then_its_file(bot, http):
    chat = Chat(http, next(users), bot)
    await set_default(chat, "best")  # no question: the link goes straight to its download
    link = await chat.say(f"{bot.url}/media/slow?size={3 * SLOW_RATE}&rate={SLOW_RATE}&q=slow")

    async def first() -> dict | None:
        shown = await history(chat, link)
        return shown[0] if shown else None

    status = await until("the slow job's status", first, 30, describe=bot.log)
    assert not status.get("media"), status
    cancel = [b for row in status["reply_markup"]["inline_keyboard"] for b in row]
    assert [b["callback_data"][:2] for b in cancel] == ["x|"], "the slow job's status offers cancel"
    await chat.wait_files(1, timeout=60)

    async def status_removed() -> list[dict] | None:
        shown = await history(chat, link)
        return shown if shown[0]["deleted"] else None

    shown = await until("the status removed after the file", status_removed, 30, describe=bot.log)
    assert [bool(m.get("media")) for m in shown] == [False, True], shown
    assert [m["deleted"] for m in shown] == [True, False]


async def test_a_status_on_its_way_when_the_file_is_ready_lands_before_the_file(bot, http):
    """The status is due and sent; its send is slow (the sandbox holds every sendMessage), and
    the file is ready meanwhile: the file waits for it instead of overtaking it."""
    chat = Chat(http, next(users), bot)
    await set_default(chat, "best")
    await http.post(
        "/sandbox/config", json={"faults": {"latency_ms": STATUS_LATENCY_MS, "latency_methods": ["sendMessage"]}}
    )
    try:
        link = await chat.say(f"{bot.url}/media/slow?size={SLOW_RACE_BYTES}&rate={SLOW_RATE}&q=race")
        await chat.wait_files(1, timeout=60)
        shown = await until("the status and the file", lambda: _two(chat, link), 30, describe=bot.log)
    finally:
        await http.post("/sandbox/config", json={"faults": {"latency_ms": 0, "latency_methods": []}})
    assert [bool(m.get("media")) for m in shown] == [False, True], f"the status landed after its file: {shown}"


async def _two(chat: Chat, link: int) -> list[dict] | None:
    shown = await history(chat, link)
    return shown if len(shown) >= 2 else None


async def test_a_quick_job_that_fails_is_answered_once(bot, http):
    chat = Chat(http, next(users), bot)
    await chat.say(f"{bot.url}/media/no-such-thing?q=gone")
    await chat.wait_text("", timeout=30)

    async def over() -> list | None:
        rows = bot.query("SELECT state FROM jobs WHERE user_id = ?", chat.user_id)
        return rows if rows and rows[0][0] == "failed" else None

    await until("the job failed", over, 60, describe=bot.log)
    shown = await history(chat)
    assert len(shown) == 1 and not shown[0].get("media") and not shown[0]["deleted"], shown
    assert not (shown[0].get("reply_markup") or {}).get("inline_keyboard"), "no cancel on a failed job"


async def test_a_job_whose_slow_upload_is_refused_is_answered_once_in_its_status(bot, http):
    """The file was ready at once, Telegram took its time over it (the status fell due meanwhile:
    a file on its way does not make it moot, its user needs the cancel button), then refused it:
    the failure replaces the status's text, once, and no cancel button is left."""
    chat = Chat(http, next(users), bot)
    slow_upload = {"latency_ms": STATUS_LATENCY_MS, "latency_methods": ["sendDocument"]}
    await http.post("/sandbox/config", json={"upload_limit_mb": 1, "faults": slow_upload})
    try:
        await chat.say(f"{bot.url}/media/blob?size={2 * 1024 * 1024}&q=refused")

        async def over() -> list | None:
            rows = bot.query("SELECT state FROM jobs WHERE user_id = ?", chat.user_id)
            return rows if rows and rows[0][0] == "failed" else None

        await until("the job failed", over, 60, describe=bot.log)
        await chat.wait_text("", timeout=30)
    finally:
        await http.post(
            "/sandbox/config", json={"upload_limit_mb": 2000, "faults": {"latency_ms": 0, "latency_methods": []}}
        )
    shown = await history(chat)
    assert len(shown) == 1 and not shown[0].get("media") and not shown[0]["deleted"], shown
    roles = [(r["role"], r["state"]) for r in status_rows(bot, chat.user_id)]
    assert roles == [("quiet_status", "sent")], f"the status shown during the upload: {roles}"
    assert not (shown[0].get("reply_markup") or {}).get("inline_keyboard"), "no cancel on a failed job"
