"""Progress edits under a full send budget, with the sandbox enforcing the same limit: the edits
that cannot go in time are thinned, and no edit goes out while a file waits.

The budget is cut to a few sends a second (the bot's and the sandbox's alike), so that six slow
downloads asking for an edit every second ask for three times what Telegram would allow.
"""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
import trio

from tests.e2e.conftest import HTTP_TIMEOUT_S
from tests.support.bot import BotProcess, Chat
from tests.support.journey import set_default
from tests.support.poll import until

users = itertools.count(95_000)
RATE = 2  # sends a second, for the bot's budget and the sandbox's limit
EDIT_INTERVAL = 1.0  # seconds between a status message's progress edits
JOBS = 6  # the downloads running at once with --workers 2 (three download slots each)
SLOW_RATE = 100_000  # bytes/s
# 4, 6, ... 14 s downloads: several edits wanted per job, and the files come one at a time (each
# with the removal of its status, two sends: a second of this budget), not all in the same second.
SLOW_BYTES = [400_000 + 200_000 * i for i in range(JOBS)]
# A file waits for the next free send of the bot (1 / RATE s), not for the edits before it, which
# wait up to EDIT_INTERVAL and then give way. The bound leaves room for a noisy machine.
FILE_WAIT_BOUND_S = 2.0


@pytest.fixture(scope="module")
def tight_bot(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BotProcess]:
    env = {
        "SANDBOX_LIMITS": "1",
        "SANDBOX_BOT_RATE": str(RATE),
        "TG_GLOBAL_RATE": str(RATE),
        "PROGRESS_EDIT_INTERVAL": str(EDIT_INTERVAL),
    }
    bot = BotProcess(tmp_path_factory.mktemp("thinning"), env=env, workers=2)
    try:
        yield bot
    finally:
        bot.stop()


@pytest.fixture
async def http(tight_bot: BotProcess) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=tight_bot.url, timeout=HTTP_TIMEOUT_S) as client:
        yield client


def outbox_rows(bot: BotProcess) -> list[dict]:
    return bot.rows("SELECT id, chat_id, kind, role, state, error, created_at, sent_at FROM outbox")


def timeline(rows: list[dict]) -> str:
    t0 = min(r["created_at"] for r in rows)
    return "\n".join(
        f"{r['chat_id']} {r['kind']} {r['role']} {r['state']} {r['created_at'] - t0:.2f}"
        f" -> {(r['sent_at'] or t0) - t0:.2f}"
        for r in sorted(rows, key=lambda r: r["created_at"])
    )


async def test_progress_edits_are_thinned_when_the_budget_is_full_and_never_hold_up_a_file(tight_bot, http):
    chats = [Chat(http, next(users), tight_bot) for _ in range(JOBS)]
    for chat in chats:
        await set_default(chat, "best")  # no question: each link goes straight to its download
    async with trio.open_nursery() as nursery:
        for i, chat in enumerate(chats):
            url = f"{tight_bot.url}/media/slow?size={SLOW_BYTES[i]}&rate={SLOW_RATE}&t=thin{i}"
            nursery.start_soon(chat.say, url)
    for chat in chats:
        await chat.wait_files(1, timeout=120)

    async def settled() -> list[dict] | None:  # a file is in the chat a moment before its row says sent
        mine = [r for r in outbox_rows(tight_bot) if r["chat_id"] in {c.user_id for c in chats}]
        sent = [r for r in mine if r["kind"] == "media" and r["state"] == "sent"]
        return mine if len(sent) == JOBS else None

    rows = await until("every file's row to be marked sent", settled, 10)
    progress = [r for r in rows if r["role"] == "progress"]
    thinned = [r for r in progress if r["state"] == "dropped" and (r["error"] or "").startswith("thinned")]
    assert thinned, f"no progress edit was thinned: {[(r['state'], r['error']) for r in progress]}"
    assert any(r["state"] == "sent" for r in progress)  # thinned, not silenced: some edits still show

    files = [r for r in rows if r["kind"] == "media"]
    waits = sorted(r["sent_at"] - r["created_at"] for r in files)
    assert waits[-1] < FILE_WAIT_BOUND_S, waits
    # No edit went out while a file waited: the file had the next send. An edit already granted
    # when the file came may still be on its way for one slot (1 / RATE s), and the file holds
    # its own slot while it uploads.
    slot = 1 / RATE
    edits_while_a_file_waited = [
        (f["chat_id"], e["chat_id"])
        for f in files
        for e in progress
        if e["state"] == "sent" and f["created_at"] + slot < e["sent_at"] < f["sent_at"] - slot
    ]
    assert edits_while_a_file_waited == [], timeline(rows)

    after = (await http.get("/sandbox/stats")).json()
    assert after["flood_waits"] == 0 and after["peak_send_rate"] <= RATE
