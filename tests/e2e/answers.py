"""What the SSRF tests of the whole bot share: a loopback canary, and a link's final answer."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import partial

import httpx
import trio

from tests.support.bot import BotProcess, Chat
from tests.support.journey import set_default, settled
from tests.support.poll import until

ANSWER_DEADLINE_S = 90.0
CANARY_ANSWER_S = 2.0
WORKING_MARKS = ("⏳", "⬇️", "⚙️", "🔁", "⬆️")  # a status, not an answer


@dataclass
class Canary:
    """A loopback server that must never hear from the bot: it counts every connection."""

    host: str = "127.0.0.1"  # or "::1"
    port: int = 0
    connections: list[str] = field(default_factory=list)

    async def start(self, nursery: trio.Nursery) -> Canary:
        async def answer(stream: trio.SocketStream) -> None:
            self.connections.append("connected")
            with trio.move_on_after(CANARY_ANSWER_S):  # a plausible answer: a leak would show as a file too
                await stream.receive_some(4096)
                await stream.send_all(b"HTTP/1.1 200 OK\r\ncontent-type: video/mp4\r\ncontent-length: 4\r\n\r\nlost")
            await stream.aclose()

        listeners = await nursery.start(partial(trio.serve_tcp, answer, 0, host=self.host))
        self.port = listeners[0].socket.getsockname()[1]
        return self

    def url(self, path: str = "/seg.ts") -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}{path}"


async def final_answer(
    bot: BotProcess,
    http: httpx.AsyncClient,
    users: Iterator[int],
    url: str,
    label: str,
    lang: str = "en",
    **extra: object,
) -> str:
    """Send `url` as a new user whose default format is `label` (no question asked); the bot's
    last words once it has answered and nothing more can happen in the chat. No file may come."""
    chat = Chat(http, next(users), bot, lang=lang)
    await set_default(chat, label)
    before = len(await chat.bot_messages())
    await chat.say(url, **extra)

    async def final() -> str | None:
        for m in reversed((await chat.bot_messages())[before:]):
            words = m.get("text") or ""
            if words and not any(mark in words for mark in WORKING_MARKS):
                return words
        return None

    words = await until(f"the answer to {url}", final, ANSWER_DEADLINE_S, describe=bot.log)
    await settled(bot, chat.user_id)
    assert await chat.files() == [], f"a file came for {url}"
    return words
