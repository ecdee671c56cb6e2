"""Single flight and cancel on slow links: ten users on one link share one download, and a
cancelled download stops, leaves no file in the spool, and sends nothing later."""

from __future__ import annotations

import itertools

import trio

from tests.support.bot import BotProcess, Chat, button
from tests.support.journey import set_default, settled, stats
from tests.support.poll import until

users = itertools.count(30_000)
SLOW_BYTES = 600_000
SLOW_RATE = 150_000  # bytes/s: a download of about 4 s


def slow(bot: BotProcess, tag: str, size: int = SLOW_BYTES, rate: int = SLOW_RATE) -> str:
    return f"{bot.url}/media/slow?size={size}&rate={rate}&t={tag}"


async def test_ten_users_on_one_slow_link_make_the_requests_of_one_download_and_get_ten_files(shared_bot, http):
    chats = [Chat(http, next(users), shared_bot) for _ in range(10)]
    for chat in chats:
        await set_default(chat, "best")
    url = slow(shared_bot, "flight")
    solo = Chat(http, next(users), shared_bot)
    await set_default(solo, "best")
    before = (await stats(http))["media_requests"].get("/media/slow", 0)
    await solo.say(slow(shared_bot, "flight-solo"))
    await solo.wait_files(1, timeout=90)
    one_download = (await stats(http))["media_requests"]["/media/slow"] - before

    before = (await stats(http))["media_requests"]["/media/slow"]
    async with trio.open_nursery() as nursery:
        for chat in chats:
            nursery.start_soon(chat.say, url)
    got = [await chat.wait_files(1, timeout=120) for chat in chats]
    assert len({files[0]["media"]["file_id"] for files in got}) == 1  # one upload, sent ten times
    assert (await stats(http))["media_requests"]["/media/slow"] - before == one_download


async def test_cancel_during_a_download_stops_it_and_no_file_comes(shared_bot, http):
    chat = Chat(http, next(users), shared_bot)
    await set_default(chat, "best")
    await chat.say(slow(shared_bot, "cancel-dl", size=3_000_000, rate=100_000))  # about 30 s
    status = await chat.wait_text("Downloading", timeout=60)
    job_folder = await until("the job's spool folder", lambda: _spool_folder(shared_bot, chat.user_id), 30)
    await chat.press(status["message_id"], button(status, "Cancel")["callback_data"])
    await chat.wait_text("Cancelled")
    await until("the partial file to be removed", lambda: _gone(job_folder), 10)
    await settled(shared_bot, chat.user_id)  # the job is final and nothing is left to send
    assert await chat.files() == []
    assert shared_bot.query("SELECT state FROM jobs WHERE user_id = ?", chat.user_id) == [("cancelled",)]


async def _spool_folder(bot: BotProcess, user_id: int):
    """The user's job's spool folder, once the download has put a file in it."""
    [(job_id,)] = bot.query("SELECT id FROM jobs WHERE user_id = ?", user_id)
    found = [f for f in (bot.data_dir / "spool").glob(f"{job_id}-*") if f.is_dir() and any(f.iterdir())]
    return found[0] if found else None  # its attempt's folder, spool/<job>-<lease>


async def _gone(folder) -> bool:
    return not folder.exists()


def media_row_state(bot: BotProcess, user_id: int) -> str | None:
    rows = bot.query("SELECT state FROM outbox WHERE chat_id = ? AND kind = 'media'", user_id)
    return rows[0][0] if rows else None


async def test_cancel_during_an_upload_stops_it_and_no_file_comes(shared_bot, http):
    chat = Chat(http, next(users), shared_bot)
    await set_default(chat, "best")
    # A slow uplink: 40 MB at 2 MB/s take 20 s to upload, so the cancel comes half way.
    await http.post("/sandbox/config", json={"faults": {"upload_rate": 2_000_000}})
    try:
        asked = await chat.say(f"{shared_bot.url}/media/blob?size=40000000&t=cancel-up")

        async def status() -> dict | None:
            found = [m for m in await chat.bot_messages() if m.get("reply_to_message_id") == asked]
            return found[0] if found and found[0].get("reply_markup") else None

        shown = await until("the status with its cancel button", status, 60)
        await until("the upload to start", lambda: _sending(shared_bot, chat.user_id), 90)
        await chat.press(shown["message_id"], button(shown, "Cancel")["callback_data"])
        await chat.wait_text("Cancelled")
        await until("the upload to stop", lambda: _stopped(shared_bot, chat.user_id), 10)
    finally:
        await http.post("/sandbox/config", json={"faults": {"upload_rate": 0}})
    await until("the spool to be emptied", lambda: _no_spool(shared_bot), 20)
    await settled(shared_bot, chat.user_id)  # an upload cut half way delivers nothing, then or later
    assert await chat.files() == []
    assert shared_bot.query("SELECT state FROM jobs WHERE user_id = ?", chat.user_id) == [("cancelled",)]


async def _sending(bot: BotProcess, user_id: int) -> bool:
    return media_row_state(bot, user_id) == "sending"


async def _stopped(bot: BotProcess, user_id: int) -> bool:
    return media_row_state(bot, user_id) in ("dropped", "failed")


async def _no_spool(bot: BotProcess) -> bool:
    return not bot.spool_files()


async def test_a_file_id_telegram_no_longer_knows_is_downloaded_again(shared_bot, http):
    url = f"{shared_bot.url}/media/sample.mp4?t=forgotten"
    first = Chat(http, next(users), shared_bot)
    await set_default(first, "best")
    await first.say(url)
    [old] = await first.wait_files(1, timeout=90)
    # Telegram forgets every file it had (the sandbox starts over): the cached file_id is refused.
    (await http.post("/sandbox/reset")).raise_for_status()
    second = Chat(http, next(users), shared_bot)
    await set_default(second, "best")
    await second.say(url)
    [new] = await second.wait_files(1, timeout=120)
    assert new["media"]["file_id"] != old["media"]["file_id"] and new["media"]["kind"] == "video"
