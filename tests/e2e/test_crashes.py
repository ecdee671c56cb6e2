"""kill -9 of any process mid-job loses no job and delivers it exactly once: a downloader's job
goes to another worker, a gateway's jobs go on without it, an uploader's upload is done again."""

from __future__ import annotations

import itertools
import sqlite3
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest

from tests.e2e.conftest import HTTP_TIMEOUT_S, spool_files
from tests.e2e.test_journey import set_default
from tests.support.bot import BotProcess, Chat
from tests.support.poll import until

users = itertools.count(50_000)
QUICK_TIMEOUTS = {"HEARTBEAT_TIMEOUT": "3", "HUNG_KILL_AFTER": "8", "ADMIN_IDS": "4242"}


@pytest.fixture(scope="module")
def crash_bot(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BotProcess]:
    bot = BotProcess(tmp_path_factory.mktemp("crash"), env=QUICK_TIMEOUTS, workers=2)
    try:
        yield bot
    finally:
        bot.stop()


@pytest.fixture
async def http(crash_bot: BotProcess) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=crash_bot.url, timeout=HTTP_TIMEOUT_S) as client:
        yield client


def job_row(bot: BotProcess, user_id: int) -> dict | None:
    with sqlite3.connect(f"file:{bot.data_dir / 'bot.sqlite3'}?mode=ro", uri=True) as db:
        db.row_factory = sqlite3.Row
        row = db.execute("SELECT * FROM jobs WHERE user_id = ? ORDER BY id DESC LIMIT 1", [user_id]).fetchone()
        return dict(row) if row else None


def file_row_state(bot: BotProcess, job_id: int) -> str | None:
    with sqlite3.connect(f"file:{bot.data_dir / 'bot.sqlite3'}?mode=ro", uri=True) as db:
        row = db.execute("SELECT state FROM outbox WHERE job_id = ? AND kind = 'media'", [job_id]).fetchone()
        return row[0] if row else None


async def downloading(bot: BotProcess, user_id: int) -> dict | None:
    row = job_row(bot, user_id)
    return row if row and row["state"] == "downloading" and row["worker"] else None


async def test_a_downloader_killed_mid_download_loses_nothing_and_the_job_is_delivered_once(crash_bot, http):
    chat = Chat(http, next(users), crash_bot)
    await set_default(chat, "best")
    await chat.say(f"{crash_bot.url}/media/slow?size=900000&rate=150000&t=kill-dl")
    job = await until("the job to be downloading", lambda: downloading(crash_bot, chat.user_id), 60)
    crash_bot.kill(job["worker"])
    [sent] = await chat.wait_files(1, timeout=120)
    after = job_row(crash_bot, chat.user_id)
    assert after is not None and after["state"] == "done" and after["lease"] >= 2  # handed out again
    with pytest.raises(AssertionError):  # and no second copy comes later
        await chat.wait_files(2, timeout=5)
    assert sent["media"]["size"] == 900000


async def test_the_gateway_killed_mid_job_loses_nothing_and_new_links_wait_for_it(crash_bot, http):
    chat = Chat(http, next(users), crash_bot)
    await set_default(chat, "best")
    await chat.say(f"{crash_bot.url}/media/slow?size=600000&rate=150000&t=kill-gw")
    await until("the job to be downloading", lambda: downloading(crash_bot, chat.user_id), 60)
    crash_bot.kill("gateway")
    await chat.say(f"{crash_bot.url}/media/sample.mp4?t=while-gateway-down")
    sent = await chat.wait_files(2, timeout=120)
    assert len(sent) == 2
    with pytest.raises(AssertionError):
        await chat.wait_files(3, timeout=5)


async def test_the_uploader_killed_mid_upload_uploads_again_after_its_restart(crash_bot, http):
    chat = Chat(http, next(users), crash_bot)
    await set_default(chat, "best")
    # Every Bot API call answers 3 s late, so the upload is surely in flight when the kill comes.
    await http.post("/sandbox/config", json={"faults": {"latency_ms": 3000}})
    try:
        await chat.say(f"{crash_bot.url}/media/blob?size=300000&t=kill-up")

        async def uploading() -> dict | None:
            row = job_row(crash_bot, chat.user_id)
            return row if row and file_row_state(crash_bot, row["id"]) == "sending" else None

        await until("the file to be uploading", uploading, 90)
        crash_bot.kill("uploader")
    finally:
        await http.post("/sandbox/config", json={"faults": {"latency_ms": 0}})
    [sent] = await chat.wait_files(1, timeout=120)
    assert sent["media"]["size"] == 300000
    await until("an empty spool", lambda: _spool_empty(crash_bot), 30)


async def _spool_empty(bot: BotProcess) -> bool:
    return not spool_files(bot)
