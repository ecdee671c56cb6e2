"""Single flight and cancel on slow links: ten users on one link share one download, and a
cancelled download stops, leaves no file in the spool, and sends nothing later."""

from __future__ import annotations

import itertools

import trio

from tests.e2e.conftest import spool_files
from tests.e2e.test_journey import set_default, stats
from tests.support.bot import BotProcess, Chat, button
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
    before = (await stats(solo))["media_requests"].get("/media/slow", 0)
    await solo.say(slow(shared_bot, "flight-solo"))
    await solo.wait_files(1, timeout=90)
    one_download = (await stats(solo))["media_requests"]["/media/slow"] - before

    before = (await stats(solo))["media_requests"]["/media/slow"]
    async with trio.open_nursery() as nursery:
        for chat in chats:
            nursery.start_soon(chat.say, url)
    got = [await chat.wait_files(1, timeout=120) for chat in chats]
    assert len({files[0]["media"]["file_id"] for files in got}) == 1  # one upload, sent ten times
    assert (await stats(solo))["media_requests"]["/media/slow"] - before == one_download


async def test_cancel_during_a_download_stops_it_and_no_file_comes(shared_bot, http):
    chat = Chat(http, next(users), shared_bot)
    await set_default(chat, "best")
    await chat.say(slow(shared_bot, "cancel-dl", size=3_000_000, rate=100_000))  # about 30 s
    status = await chat.wait_text("Downloading", timeout=60)
    job_folder = await until("the job's spool folder", lambda: _spool_folder(shared_bot), 30)
    await chat.press(status["message_id"], button(status, "Cancel")["callback_data"])
    await chat.wait_text("Cancelled")
    await until("the partial file to be removed", lambda: _gone(job_folder), 10)
    with trio.move_on_after(3):  # whatever was in flight has had time to arrive by now
        await until("a file", chat.files, 3)
    assert await chat.files() == []


async def _spool_folder(bot: BotProcess):
    files = spool_files(bot)
    return files[0].parent if files else None


async def _gone(folder) -> bool:
    return not folder.exists()
