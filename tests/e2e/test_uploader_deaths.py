"""The uploader killed -9 twice while it holds many claimed rows and only a few are on their way to
Telegram: a row counts a death only if its send had begun (its outcome unknown), so the rows that
were only waiting for the send budget are sent once, after the restarts, and nobody gets a
failure for a file that was fine.

The budget is made narrow (TG_GLOBAL_RATE) and every file's send slow (the sandbox's latency on
sendDocument), so that the uploader claims a whole crowd's files by their file_id while a few
calls at a time are in flight. Each kill comes just after a call reached the sandbox, so it is
surely cut mid-call; the sandbox counts such a call as abandoned (never carried out), which is
the test's own measure of what was in flight at each death.
"""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
import trio

from tests.e2e.conftest import HTTP_TIMEOUT_S
from tests.e2e.jobkit import ERROR_TEXTS, assert_no_failure_text, jobs_of, rows, settled
from tests.e2e.test_kills import restarted
from tests.support.bot import BotProcess, Chat
from tests.support.journey import stats
from tests.support.poll import until

users = itertools.count(63_000)
CROWD = 24  # users whose cached file waits in the uploader's window at once
CLAIMED_AT_DEATH = 12  # rows claimed (state 'sending') at each kill: far more than can be in flight
SEND_RATE = "3"  # TG_GLOBAL_RATE: three sends in flight at most
METHOD = "sendDocument"  # how a /media/blob file goes (by its file_id once cached)
LATENCY_MS = 4_000  # each send of a file is on its way this long: a kill just after it arrives cuts it
ARRIVAL_DEADLINE = 60.0
SETTLE_DEADLINE = 120.0


@pytest.fixture(scope="module")
def narrow_bot(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BotProcess]:
    env = {"HEARTBEAT_TIMEOUT": "3", "ADMIN_IDS": "4242", "TG_GLOBAL_RATE": SEND_RATE}
    bot = BotProcess(tmp_path_factory.mktemp("deaths"), env=env, workers=1)
    try:
        yield bot
    finally:
        bot.stop()


@pytest.fixture
async def http(narrow_bot: BotProcess) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=narrow_bot.url, timeout=HTTP_TIMEOUT_S) as client:
        yield client


def claimed(bot: BotProcess, crowd: list[Chat]) -> int:
    marks = ",".join("?" * len(crowd))
    found = rows(
        bot,
        f"SELECT count(*) AS n FROM outbox WHERE kind = 'media' AND state = 'sending' AND chat_id IN ({marks})",
        *[c.user_id for c in crowd],
    )
    return int(found[0]["n"])


async def kill_mid_call(bot: BotProcess, http: httpx.AsyncClient, crowd: list[Chat]) -> int:
    """Wait until many of the crowd's rows are claimed and a file's send has just reached the
    sandbox (it stays there LATENCY_MS), kill the uploader -9 and wait for its successor. Returns
    how many calls the kill cut (the sandbox's count of abandoned calls)."""
    seen = (await stats(http))["requests"].get(METHOD, 0)
    before = (await stats(http))["abandoned"].get(METHOD, 0)

    async def a_call_just_arrived() -> bool:
        nonlocal seen
        now = (await stats(http))["requests"].get(METHOD, 0)
        arrived, seen = now > seen, now
        return arrived and claimed(bot, crowd) >= CLAIMED_AT_DEATH

    await until(
        f"a {METHOD} arriving while {CLAIMED_AT_DEATH} rows are claimed",
        a_call_just_arrived,
        ARRIVAL_DEADLINE,
        describe=lambda: f"claimed: {claimed(bot, crowd)}\n{bot.log()}",
    )
    old = bot.kill("uploader")
    await restarted(bot, "uploader", old)
    cut = (await stats(http))["abandoned"].get(METHOD, 0) - before
    assert cut >= 1, "the kill cut no call: nothing was in flight (the test tested nothing)"
    return cut


async def outcome(chat: Chat, bot: BotProcess) -> tuple[str, int, list[dict[str, Any]]]:
    """The user's one job's state, the files in the chat, the bot's messages."""
    [job] = jobs_of(bot, chat.user_id)
    messages = await chat.bot_messages()
    return job["state"], len([m for m in messages if m.get("media")]), messages


async def test_rows_only_waiting_for_the_budget_survive_two_uploader_deaths(narrow_bot, http):
    bot = narrow_bot
    url = f"{bot.url}/media/blob?size=40000&t=deaths"
    seeder = Chat(http, next(users), bot)
    await seeder.say(url)
    await seeder.wait_files(1, timeout=90)  # in the cache now: the crowd's files go by its file_id
    crowd = [Chat(http, next(users), bot) for _ in range(CROWD)]
    await http.post("/sandbox/config", json={"faults": {"latency_ms": LATENCY_MS, "latency_methods": [METHOD]}})
    try:
        async with trio.open_nursery() as nursery:
            for chat in crowd:
                nursery.start_soon(chat.say, url)
        cut = [await kill_mid_call(bot, http, crowd) for _ in range(2)]
    finally:
        await http.post("/sandbox/config", json={"faults": {"latency_ms": 0, "latency_methods": []}})

    for chat in crowd:
        await settled(bot, chat.user_id, timeout=SETTLE_DEADLINE)
    sends = rows(bot, "SELECT chat_id, interrupted, error FROM outbox WHERE kind = 'media'")
    # A death counts against each send it cut (it may have arrived) and against no row that was
    # only claimed; only a row cut at both deaths is quarantined (not tried a third time).
    counted = sum(f["interrupted"] for f in sends)
    assert counted == sum(cut), f"{counted} deaths counted against rows; calls cut at the deaths: {cut}"
    quarantined = [f for f in sends if "quarantined" in (f["error"] or "")]
    assert len(quarantined) <= min(cut), f"{len(quarantined)} rows quarantined, calls cut at the deaths: {cut}"
    doomed = {r["chat_id"] for r in quarantined}
    for chat in crowd:
        state, files, messages = await outcome(chat, bot)
        if chat.user_id in doomed:  # its failure, answered once
            shown = [m.get("text") or "" for m in messages]
            assert (state, files, len([t for t in shown if t.startswith(ERROR_TEXTS)])) == ("failed", 0, 1), shown
        else:  # delivered once, no failure shown
            assert (state, files) == ("done", 1), (chat.user_id, state, messages)
            assert_no_failure_text(messages)
