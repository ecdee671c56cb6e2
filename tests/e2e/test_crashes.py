"""kill -9 of any process mid-job loses no job: a downloader's job goes to another worker, a
gateway's jobs go on without it, an uploader's upload is done again after its restart.

The promise on copies: each message and file arrives once: at most one extra copy, and only after
a kill (a send Telegram completed just before the uploader died, unrecorded, goes again; one cut
before Telegram had it whole, such as an upload half way, never arrives). So a file whose upload
was cut by the kill arrives exactly once. Every count here is taken after a barrier (`settled`):
the jobs are final and nothing is left to send to the chat, so no further copy can come.
"""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest

from tests.e2e.conftest import HTTP_TIMEOUT_S
from tests.support.bot import BotProcess, Chat
from tests.support.journey import set_default, settled, stats
from tests.support.poll import until

users = itertools.count(50_000)
QUICK_TIMEOUTS = {"HEARTBEAT_TIMEOUT": "3", "HUNG_KILL_AFTER": "8", "ADMIN_IDS": "4242"}
UPLOADS = ("sendVideo", "sendDocument", "sendAudio")  # the Bot API calls that upload a file


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


def jobs(bot: BotProcess, user_id: int) -> list[dict]:
    return bot.rows("SELECT * FROM jobs WHERE user_id = ? ORDER BY id", user_id)


def media_rows(bot: BotProcess, user_id: int) -> list[str]:
    return [r[0] for r in bot.query("SELECT state FROM outbox WHERE chat_id = ? AND kind = 'media'", user_id)]


async def cut_uploads(http: httpx.AsyncClient) -> int:
    """Uploads whose client went away before the sandbox (Telegram) had them whole."""
    abandoned = (await stats(http))["abandoned"]
    return sum(abandoned.get(method, 0) for method in UPLOADS)


async def upload_calls(http: httpx.AsyncClient) -> int:
    """Uploads that have reached the sandbox (counted as they arrive, before their body is read)."""
    requests = (await stats(http))["requests"]
    return sum(requests.get(method, 0) for method in UPLOADS)


async def downloading(bot: BotProcess, user_id: int) -> dict | None:
    found = jobs(bot, user_id)
    return found[-1] if found and found[-1]["state"] == "downloading" and found[-1]["worker"] else None


async def test_a_downloader_killed_mid_download_loses_nothing_and_the_job_is_delivered_once(crash_bot, http):
    chat = Chat(http, next(users), crash_bot)
    await set_default(chat, "best")
    await chat.say(f"{crash_bot.url}/media/slow?size=900000&rate=150000&t=kill-dl")
    job = await until("the job to be downloading", lambda: downloading(crash_bot, chat.user_id), 60)
    crash_bot.kill(job["worker"])
    await chat.wait_files(1, timeout=120)
    await settled(crash_bot, chat.user_id)
    [after] = jobs(crash_bot, chat.user_id)
    assert after["state"] == "done" and after["lease"] >= 2  # handed out again
    [sent] = await chat.files()  # and no second copy
    assert sent["media"]["size"] == 900000
    assert media_rows(crash_bot, chat.user_id) == ["sent"]


async def test_the_gateway_killed_mid_job_loses_nothing_and_new_links_wait_for_it(crash_bot, http):
    chat = Chat(http, next(users), crash_bot)
    await set_default(chat, "best")
    await chat.say(f"{crash_bot.url}/media/slow?size=600000&rate=150000&t=kill-gw")
    await until("the job to be downloading", lambda: downloading(crash_bot, chat.user_id), 60)
    crash_bot.kill("gateway")
    last = await chat.say(f"{crash_bot.url}/media/sample.mp4?t=while-gateway-down")
    await chat.wait_files(2, timeout=120)
    await settled(crash_bot, chat.user_id, last_message=last)
    assert len(await chat.files()) == 2  # one each, no third
    assert [j["state"] for j in jobs(crash_bot, chat.user_id)] == ["done", "done"]


async def test_the_uploader_killed_mid_upload_uploads_again_and_the_cut_upload_never_arrives(crash_bot, http):
    chat = Chat(http, next(users), crash_bot)
    await set_default(chat, "best")
    abandoned_before, asked_before = await cut_uploads(http), await upload_calls(http)
    # Every Bot API call is on its way for 3 s before Telegram has it: the upload is surely in
    # flight, not completed, when the kill comes.
    await http.post("/sandbox/config", json={"faults": {"latency_ms": 3000}})
    try:
        await chat.say(f"{crash_bot.url}/media/blob?size=300000&t=kill-up")

        async def uploading() -> bool:  # the call is at Telegram, and cannot complete for 3 s
            return media_rows(crash_bot, chat.user_id) == ["sending"] and await upload_calls(http) > asked_before

        await until("the upload to reach Telegram", uploading, 90)
        crash_bot.kill("uploader")

        async def cut() -> int | None:
            now = await cut_uploads(http)
            return now if now > abandoned_before else None

        await until("the killed upload to be cut before it completed", cut, 30)
    finally:
        await http.post("/sandbox/config", json={"faults": {"latency_ms": 0}})
    await chat.wait_files(1, timeout=120)
    await settled(crash_bot, chat.user_id)
    [sent] = await chat.files()  # the cut upload never arrived: exactly one copy, not one extra
    assert sent["media"]["size"] == 300000
    assert media_rows(crash_bot, chat.user_id) == ["sent"]
    await until("an empty spool", lambda: not crash_bot.spool_files(), 30)
