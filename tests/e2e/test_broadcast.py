"""Broadcast through the whole bot against the sandbox with Telegram's limits on: an admin replies
/broadcast to one of their messages, confirms, and every active user gets exactly one copy; users
who blocked the bot are counted and marked; pause and resume through the real buttons; a kill -9
of the uploader mid-broadcast sends nobody a second copy (the sandbox counts copies per chat), and
/health then shows the restart.

Making the users costs time too: each /start is answered with a welcome, and the bot's own send
budget paces those at 30/s whatever the sandbox allows, so turning the sandbox's limits off while
the users are made would save nothing; the limits stay on throughout (and refuse nothing). The
2,000-user broadcast runs at PAID_RATE, the bot's TG_GLOBAL_RATE and the sandbox's alike (Telegram
lets a bot with paid broadcasts send up to 1,000 messages/s): its 4,000 sends then take under a
minute instead of over two, and keeping to 30/s is proved by the pause test here and by
test_sending.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import trio

from tests.e2e.conftest import HTTP_TIMEOUT_S
from tests.support.bot import BotProcess, Chat, button
from tests.support.poll import until

ADMIN = 4242
POLITE = 50  # users writing to the sandbox at once while the audience is made
PER_SECOND = 30  # Telegram's (and the sandbox's) rate for the whole bot
PAID_RATE = 90  # a bot with paid broadcasts, for the big broadcast
STOPPED_PAUSED = re.compile(r"broadcast \d+: stopped sending \(paused\)")


@pytest.fixture
def bot(tmp_path) -> Iterator[BotProcess]:
    bot = BotProcess(tmp_path, env={"ADMIN_IDS": str(ADMIN)}, workers=1)
    try:
        yield bot
    finally:
        bot.stop()


@pytest.fixture
def paid_bot(tmp_path) -> Iterator[BotProcess]:
    rate = str(PAID_RATE)
    bot = BotProcess(
        tmp_path, env={"ADMIN_IDS": str(ADMIN), "TG_GLOBAL_RATE": rate, "SANDBOX_BOT_RATE": rate}, workers=1
    )
    try:
        yield bot
    finally:
        bot.stop()


def query(bot: BotProcess, sql: str, params: list[Any] | None = None) -> list[tuple[Any, ...]]:
    return bot.query(sql, *(params or []))


async def make_users(bot: BotProcess, http: httpx.AsyncClient, ids: list[int], rate: float = PER_SECOND) -> None:
    """Each user writes /start; return once the bot knows them all and every welcome is out."""
    limiter = trio.CapacityLimiter(POLITE)

    async def start(user_id: int) -> None:
        async with limiter:
            r = await http.post(f"/sandbox/users/{user_id}/messages", json={"text": "/start", "language_code": "en"})
            r.raise_for_status()

    async with trio.open_nursery() as nursery:
        for user_id in ids:
            nursery.start_soon(start, user_id)

    async def settled() -> tuple[int, int] | None:
        known = query(bot, "SELECT count(*) FROM users WHERE id != ?", [ADMIN])[0][0]
        waiting = query(bot, "SELECT count(*) FROM outbox WHERE state IN ('pending', 'sending')")[0][0]
        return (known, waiting) if known == len(ids) and not waiting else None

    await until(f"{len(ids)} users welcomed", settled, len(ids) / rate * 3 + 60, describe=bot.log)


async def ask_for_broadcast(admin: Chat, users: int) -> dict[str, Any]:
    """The admin replies /broadcast to one of their messages; the confirmation, pressed."""
    news = await admin.say("📣 The bot now sends audio too!")
    await admin.say("/broadcast", reply_to_message_id=news)
    confirm = await admin.wait_text(f"to {users} users?")
    await admin.press(confirm["message_id"], button(confirm, "Send")["callback_data"])
    return confirm


def figures(report: str) -> dict[str, int]:
    return {k.lower(): int(v) for k, v in re.findall(r"^(Sent|Blocked|Failed|Unknown): (\d+)", report, re.M)}


async def copies(http: httpx.AsyncClient) -> dict[int, int]:
    stats = (await http.get("/sandbox/stats")).json()
    return {int(chat): n for chat, n in stats["copies_per_chat"].items()}


@pytest.mark.timeout(900)
async def test_two_thousand_users_two_hundred_blocked_get_exactly_one_copy_each(paid_bot):
    bot = paid_bot
    users = list(range(100_000, 102_000))
    blocked = set(users[::10])
    async with httpx.AsyncClient(base_url=bot.url, timeout=HTTP_TIMEOUT_S) as http:
        config = (await http.get("/sandbox/config")).json()
        assert (config["limits"], config["bot_rate"]) == (True, PAID_RATE)
        await make_users(bot, http, users, PAID_RATE)
        for user_id in sorted(blocked):
            (await http.post(f"/sandbox/users/{user_id}/block")).raise_for_status()
        admin = Chat(http, ADMIN, bot)
        await admin.say("/start")
        confirm = await ask_for_broadcast(admin, len(users))

        async def running() -> dict[str, Any] | None:
            status = next(m for m in await admin.bot_messages() if m["message_id"] == confirm["message_id"])
            texts = [b["text"] for b in (status.get("reply_markup") or {}).get("inline_keyboard", [[]])[0]]
            return status if "Broadcast under way" in status["text"] and "⏸ Pause" in texts else None

        await until("the progress message with its buttons", running, 60, describe=bot.log)
        report = await admin.wait_text("Broadcast report", timeout=len(users) / PAID_RATE * 3 + 60)
        assert figures(report["text"]) == {"sent": 1800, "blocked": 200, "failed": 0}, report["text"]
        assert "Duration:" in report["text"]
        copied = await copies(http)
        stats = (await http.get("/sandbox/stats")).json()
    assert copied == {user_id: 1 for user_id in users if user_id not in blocked}
    assert stats["flood_waits"] == 0
    marked = {r[0] for r in query(bot, "SELECT id FROM users WHERE blocked_bot = 1")}
    assert marked == blocked  # skipped by the next broadcast


@pytest.mark.timeout(600)
async def test_pause_resume_and_a_killed_uploader_send_nobody_a_second_copy(bot):
    users = list(range(200_000, 200_400))
    async with httpx.AsyncClient(base_url=bot.url, timeout=HTTP_TIMEOUT_S) as http:
        await make_users(bot, http, users)
        admin = Chat(http, ADMIN, bot)
        await admin.say("/start")
        confirm = await ask_for_broadcast(admin, len(users))

        async def copied_at_least(count: int) -> int | None:
            total = sum((await copies(http)).values())
            return total if total >= count else None

        async def status_with(word: str) -> dict[str, Any] | None:
            status = next(m for m in await admin.bot_messages() if m["message_id"] == confirm["message_id"])
            labels = [b["text"] for row in (status.get("reply_markup") or {}).get("inline_keyboard", []) for b in row]
            return status if any(word in label for label in labels) else None

        await until("40 copies", lambda: copied_at_least(40), 120, describe=bot.log)
        status = await until("a pause button", lambda: status_with("Pause"), 60, describe=bot.log)
        await admin.press(status["message_id"], button(status, "Pause")["callback_data"])
        paused = await until("a resume button", lambda: status_with("Resume"), 60, describe=bot.log)
        assert "paused" in paused["text"]
        # The barrier: the runner has stopped sending (it withdrew the copies waiting for the budget
        # and every copy under way has its outcome written). From then on a copy needs a claim,
        # and a paused broadcast grants none: what arrived now is all that arrives until resume.
        await until("the runner to stop sending", lambda: STOPPED_PAUSED.search(bot.log(tail=100_000)), 60)
        held = sum((await copies(http)).values())
        claimed = dict(query(bot, "SELECT state, count(*) FROM broadcast_deliveries GROUP BY state"))
        assert "sending" not in claimed and held < len(users), claimed
        assert claimed.get("sent", 0) <= held <= claimed.get("sent", 0) + claimed.get("unknown", 0), (held, claimed)
        await admin.press(paused["message_id"], button(paused, "Resume")["callback_data"])

        await until("copies again after resume", lambda: copied_at_least(held + 60), 120, describe=bot.log)
        old_pid = bot.kill("uploader")

        async def restarted() -> bool:
            p = bot.processes().get("uploader", {})
            return p.get("pid") not in (None, old_pid) and p.get("state") == "ready"

        await until("the uploader to be restarted", restarted, 60, describe=bot.log)
        report = await admin.wait_text("Broadcast report", timeout=len(users) / PER_SECOND * 3 + 60)
        copied = await copies(http)
        await admin.say("/health")  # the monitor's table, through the gateway's RPC, shows the restart
        health = await admin.wait_text("Health")
    assert re.search(r"✅ uploader: ready, pid \d+, \d+ MB, CPU \d+ %, restarts 1", health["text"]), health["text"]
    counts = figures(report["text"])
    deliveries = dict(query(bot, "SELECT user_id, state FROM broadcast_deliveries"))
    assert max(copied.values()) == 1  # nobody got two copies
    assert sum(counts.values()) == len(users) == len(deliveries)
    sent = {u for u, s in deliveries.items() if s == "sent"}
    unknown = {u for u, s in deliveries.items() if s == "unknown"}
    assert counts["sent"] == len(sent) and counts.get("unknown", 0) == len(unknown)
    assert sent <= set(copied) <= sent | unknown  # an unknown copy may or may not have arrived
