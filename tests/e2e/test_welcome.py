"""The first path through every layer: a user's /start reaches the gateway through the port, the
welcome goes through the outbox to the uploader, and the user sees it in the sandbox chat.

Replies are counted after a barrier: every /start handled and the outbox empty, so nothing more
can come. Each user gets one welcome: at most one extra copy, and only after a kill (a send
Telegram completed just before the uploader died, unrecorded, goes again)."""

from __future__ import annotations

import os
import re
import signal
import sqlite3
from contextlib import closing

import httpx
import pytest
import trio

from tests.supervisor.harness import Bot
from tests.support.journey import UNFINISHED_SENDS
from tests.support.poll import until

PERSIAN = re.compile(r"[\u0600-\u06FF]")
CHAT_URL = re.compile(r"\| chat (http://127\.0\.0\.1:\d+)/")


@pytest.fixture
async def sandbox_bot(tmp_path, nursery):
    bot = Bot(tmp_path, "--sandbox", "--workers", "1", "--sandbox-port", "0")
    try:
        await bot.start(nursery)
        line = await bot.ready_line(timeout=120)
        chat = CHAT_URL.search(line)
        assert chat and not chat.group(1).endswith(":0"), line  # the port the sandbox really got
        async with httpx.AsyncClient(base_url=chat.group(1), timeout=10) as http:
            yield bot, http
    finally:
        with trio.CancelScope(shield=True):
            await bot.stop()


async def bot_replies(http: httpx.AsyncClient, user_id: int) -> list[dict]:
    chat = (await http.get(f"/sandbox/users/{user_id}/chat")).json()["messages"]
    return [m for m in chat if m["from"] == "bot"]


def unsent(bot: Bot, user_ids: list[int]) -> int:
    """Rows still to send to these users (read-only, beside the running bot)."""
    with closing(sqlite3.connect(f"file:{bot.data_dir / 'bot.sqlite3'}?mode=ro", uri=True)) as db:
        marks = ", ".join("?" * len(user_ids))
        sql = f"SELECT count(*) FROM outbox WHERE chat_id IN ({marks}) AND state IN (?, ?)"
        return int(db.execute(sql, [*user_ids, *UNFINISHED_SENDS]).fetchone()[0])


async def wait_for_replies(bot: Bot, http: httpx.AsyncClient, user_ids: list[int], timeout: float) -> dict:
    """Every user's replies, once each has one and nothing is left to send to any of them."""
    waiting = set(user_ids)

    async def answered() -> bool:
        for uid in sorted(waiting):
            if await bot_replies(http, uid):
                waiting.discard(uid)
        return not waiting

    await until(
        f"a reply for each of {len(user_ids)} users",
        answered,
        timeout,
        describe=lambda: f"{sorted(waiting)[:5]}\n{bot.output()}",
    )
    await until("nothing left to send", lambda: unsent(bot, user_ids) == 0, timeout, describe=bot.output)
    return {uid: await bot_replies(http, uid) for uid in user_ids}


async def test_start_is_answered_in_persian_by_default_and_english_for_english_users(sandbox_bot):
    bot, http = sandbox_bot
    await http.post(
        "/sandbox/users/1001/messages", json={"text": "/start", "first_name": "Sara", "language_code": "fa"}
    )
    await http.post("/sandbox/users/1002/messages", json={"text": "/start", "first_name": "Tom", "language_code": "en"})
    await http.post("/sandbox/users/1003/messages", json={"text": "/start", "first_name": "Ana"})  # no language
    replies = await wait_for_replies(bot, http, [1001, 1002, 1003], timeout=60)
    fa, en, default = (replies[u][0]["text"] for u in (1001, 1002, 1003))
    assert PERSIAN.search(fa) and "Sara" in fa
    assert not PERSIAN.search(en) and "Welcome" in en and "Tom" in en
    assert PERSIAN.search(default)
    assert all(len(replies[u]) == 1 for u in replies)  # exactly one welcome each


async def test_two_hundred_users_at_once_are_all_answered_without_a_flood_wait(sandbox_bot):
    bot, http = sandbox_bot
    config = (await http.post("/sandbox/config", json={"limits": True})).json()
    assert config["limits"] is True
    users = list(range(5000, 5200))

    async def start(uid: int) -> None:
        lang = "en" if uid % 2 else "fa"
        r = await http.post(f"/sandbox/users/{uid}/messages", json={"text": "/start", "language_code": lang})
        r.raise_for_status()

    async with trio.open_nursery() as nursery:
        for uid in users:
            nursery.start_soon(start, uid)
    replies = await wait_for_replies(bot, http, users, timeout=120)
    assert all(len(r) == 1 for r in replies.values())
    stats = (await http.get("/sandbox/stats")).json()
    assert stats["flood_waits"] == 0, stats
    # Telegram takes 30 messages a second from a bot (TG_GLOBAL_RATE). The budget counts a send
    # from the moment it lets it go until its answer is back, so wherever in between the sandbox
    # counts its arrival, no second of the sandbox's own count holds more than 30.
    assert stats["peak_send_rate"] <= 30, {k: stats[k] for k in ("peak_send_rate", "flood_waits", "sends")}


async def test_no_start_is_lost_when_the_gateway_or_the_uploader_is_killed(sandbox_bot):
    bot, http = sandbox_bot
    procs = bot.processes()
    users = list(range(7000, 7040))

    async def start(uid: int) -> None:
        r = await http.post(f"/sandbox/users/{uid}/messages", json={"text": "/start", "language_code": "en"})
        r.raise_for_status()

    # Kill -9 the gateway and the uploader while users keep writing: the gateway confirms updates
    # only after their outbox rows are committed, and the uploader finds unsent rows at start.
    for uid in users[:10]:
        await start(uid)
    os.kill(procs["gateway"]["pid"], signal.SIGKILL)
    for uid in users[10:20]:
        await start(uid)
    os.kill(procs["uploader"]["pid"], signal.SIGKILL)
    for uid in users[20:]:
        await start(uid)
    replies = await wait_for_replies(bot, http, users, timeout=90)
    assert all(r and all("Welcome" in m["text"] for m in r) for r in replies.values())
    # At most one extra copy, and only after a kill: a welcome the dead uploader had under way
    # may come twice; one asked for after the kill comes once.
    copies = {uid: len(r) for uid, r in replies.items()}
    assert all(copies[uid] in (1, 2) for uid in users[:20]), copies
    assert all(copies[uid] == 1 for uid in users[20:]), copies
    after = bot.processes()
    assert after["gateway"]["restarts"] == 1 and after["uploader"]["restarts"] == 1
