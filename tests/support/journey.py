"""A user's way through the bot, and the barriers a test waits at before it says that something
did not happen.

A fixed "nothing arrives within N s" window fails open: on a slow machine nothing has arrived
yet. A barrier waits instead for the state after which nothing more can come: the gateway has
handled the user's messages, every job of the user is in a final state, and no send to the chat
is left in the outbox (every message to a chat is an outbox row first). Only then does the test
count what arrived.
"""

from __future__ import annotations

from typing import Any

import httpx

from core.schema import JOB_FINAL_STATES
from tests.support.bot import BotProcess, Chat, button, buttons
from tests.support.poll import until

UNFINISHED_SENDS = ("pending", "sending")  # outbox rows that may still reach a chat
SETTLE_TIMEOUT_S = 60.0


def link(bot: BotProcess, name: str, **query: object) -> str:
    """A sandbox media URL; a query of its own per test keeps tests apart (and out of the cache)."""
    qs = "&".join(f"{k}={v}" for k, v in query.items())
    return f"{bot.url}/media/{name}" + (f"?{qs}" if qs else "")


async def stats(http: httpx.AsyncClient) -> dict[str, Any]:
    return dict((await http.get("/sandbox/stats")).json())


async def set_default(chat: Chat, label: str) -> None:
    """Save a default quality through /settings (links then go straight to their download)."""
    await chat.say("/settings")
    menu = await chat.wait_text("settings" if chat.lang == "en" else "تنظیمات")
    await chat.press(menu["message_id"], button(menu, label)["callback_data"])

    async def checked() -> bool:
        for m in await chat.bot_messages():
            if m["message_id"] == menu["message_id"]:
                return any(b["text"].startswith("✓") and label.lower() in b["text"].lower() for b in buttons(m))
        return False

    await until("the setting to be saved", checked, 30)


async def handled(bot: BotProcess, user_id: int, message_id: int, timeout: float = SETTLE_TIMEOUT_S) -> None:
    """Wait until the gateway has handled the user's messages up to `message_id` (it handles a
    chat's messages in order, and keeps the last one's id with their effects)."""

    def done() -> bool:
        rows = bot.query("SELECT last_message_id FROM users WHERE id = ?", user_id)
        return bool(rows) and rows[0][0] is not None and rows[0][0] >= message_id

    await until(f"message {message_id} of user {user_id} handled", done, timeout, describe=bot.log)


def unsettled(bot: BotProcess, user_id: int) -> dict[str, list[Any]]:
    """What may still reach the user's chat: jobs not in a final state, sends not yet done."""
    marks = ", ".join("?" * len(JOB_FINAL_STATES))
    jobs = bot.query(
        f"SELECT id, state FROM jobs WHERE user_id = ? AND state NOT IN ({marks})", user_id, *JOB_FINAL_STATES
    )
    sends = bot.query(
        "SELECT id, kind, state FROM outbox WHERE chat_id = ? AND state IN (?, ?)", user_id, *UNFINISHED_SENDS
    )
    return {"jobs": jobs, "sends": sends} if jobs or sends else {}


async def settled(
    bot: BotProcess, user_id: int, *, last_message: int | None = None, timeout: float = SETTLE_TIMEOUT_S
) -> None:
    """The barrier: the user's messages (up to `last_message`) are handled, every job of theirs
    is final and nothing is left to send to their chat. What the chat holds now is all it gets."""
    if last_message is not None:
        await handled(bot, user_id, last_message, timeout)
    await until(f"nothing left to happen in chat {user_id}", lambda: not unsettled(bot, user_id) or None,
                timeout, describe=lambda: f"{unsettled(bot, user_id)}\n{bot.log()}")  # fmt: skip
