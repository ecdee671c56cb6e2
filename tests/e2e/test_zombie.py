"""A zombie worker: a downloader stopped (SIGSTOP) past HEARTBEAT_TIMEOUT while it holds a job
loses the job to another worker; woken again (SIGCONT) it goes on with a stale lease, and nothing
it does lands: its attempt is stopped by the gateway, or its result refused by the lease, and its
spool folder removed. The user gets one file.
"""

from __future__ import annotations

import itertools
import os
import signal
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest

from tests.e2e.conftest import HTTP_TIMEOUT_S
from tests.e2e.jobkit import exactly_one_file, job_where, jobs_of, pid_of, streaming
from tests.e2e.test_journey import set_default
from tests.support.bot import BotProcess, Chat
from tests.support.poll import until

users = itertools.count(63_000)
# The supervisor must not kill the stopped worker itself (that would be a crash, not a zombie).
ENV = {"HEARTBEAT_TIMEOUT": "3", "HUNG_KILL_AFTER": "300", "ADMIN_IDS": "4242"}


@pytest.fixture(scope="module")
def zombie_bot(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BotProcess]:
    bot = BotProcess(tmp_path_factory.mktemp("zombie"), env=ENV, workers=2)
    try:
        yield bot
    finally:
        bot.stop()


@pytest.fixture
async def http(zombie_bot: BotProcess) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=zombie_bot.url, timeout=HTTP_TIMEOUT_S) as client:
        yield client


async def test_a_zombie_workers_stale_attempt_never_lands_and_the_user_gets_one_file(zombie_bot, http):
    bot, chat = zombie_bot, Chat(http, next(users), zombie_bot)
    await set_default(chat, "best")
    await chat.say(f"{bot.url}/media/slow?size=900000&rate=150000&t=zombie")
    first = await job_where(bot, chat.user_id, "the download running", state="downloading", worker=None)
    zombie, zombie_pid = first["worker"], pid_of(bot, first["worker"])
    await streaming(http, "zombie", least_bytes=150_000)
    os.kill(zombie_pid, signal.SIGSTOP)
    try:
        taken = await job_where(
            bot,
            chat.user_id,
            "the job given to the other worker",
            state="downloading",
            lease=first["lease"] + 1,
            worker=None,  # dispatched, then taken: the taker's name comes with its word
        )
        assert taken["worker"] not in (zombie, None)
    finally:
        os.kill(zombie_pid, signal.SIGCONT)
    await exactly_one_file(chat, bot, size=900_000)

    async def stale_attempt_over() -> list[str] | None:
        # The zombie's own word, from its process: stopped by the gateway, or its result refused.
        said = [
            line
            for line in bot.log_lines()
            if f" pid={zombie_pid} " in line
            and f"job {first['id']}" in line
            and ("stopped" in line or "refused" in line)
        ]
        return said or None

    said = await until("the zombie to give up its stale attempt", stale_attempt_over, 60, describe=bot.log)
    assert said, said
    await until("the stale attempt's folder removed", lambda: _no_folder(bot, first["id"], first["lease"]), 30)
    assert jobs_of(bot, chat.user_id)[0]["lease"] == first["lease"] + 1  # nothing it sent moved the job
    assert len(await chat.files()) == 1


async def _no_folder(bot: BotProcess, job_id: int, lease: int) -> bool:
    return not [p for p in bot.spool_files() if p.parent.name == f"{job_id}-{lease}"]
