"""Sending the outbox: claim due rows, pass each through the throttle, send, record the outcome."""

from __future__ import annotations

import logging

import sqlite_utils
import trio

from core import outbox
from core.config import Settings
from core.db import write_tx
from core.outbox import OutboxItem
from core.telegram import Blocked, Button, FloodWait, Keyboard, TelegramError, TelegramPort, Transient
from ipc.channels import Puller
from ipc.messages import OutboxNotice
from uploader.throttle import Throttle

log = logging.getLogger("uploader.sender")

CLAIM_BATCH = 64  # rows taken from the outbox at once
IDLE_POLL = 1.0  # seconds between looks at the outbox when no notice arrives
MAX_ATTEMPTS = 5  # transient failures before a row is given up
RETRY_BASE = 1.0  # seconds; doubled per attempt


def keyboard_from(rows: list[list[dict[str, str]]] | None) -> Keyboard | None:
    if not rows:
        return None
    return tuple(tuple(Button(b["text"], b.get("callback_data"), b.get("url")) for b in row) for row in rows)


class OutboxSender:
    def __init__(self, settings: Settings, db: sqlite_utils.Database, port: TelegramPort) -> None:
        self.settings = settings
        self.db = db
        self.port = port
        self.throttle = Throttle(settings)
        self.wake = trio.Event()
        self.in_flight = 0

    async def listen(self, inbox: Puller) -> None:
        """Notices only wake the claim loop; the rows themselves are the truth."""
        while True:
            if isinstance(await inbox.recv(), OutboxNotice):
                self.wake.set()

    async def run(self, draining: trio.Event, concurrency: int) -> None:
        send, receive = trio.open_memory_channel[OutboxItem](0)
        async with trio.open_nursery() as nursery:
            for _ in range(concurrency):
                nursery.start_soon(self._worker, receive.clone())
            receive.close()
            async with send:
                while not draining.is_set():
                    items = outbox.claim(self.db, CLAIM_BATCH)
                    for item in items:
                        await send.send(item)
                    if not items:
                        self.wake = trio.Event()
                        with trio.move_on_after(IDLE_POLL):
                            await _first(self.wake, draining)

    async def _worker(self, items: trio.MemoryReceiveChannel[OutboxItem]) -> None:
        async with items:
            async for item in items:
                self.in_flight += 1
                try:
                    await self.send_one(item)
                finally:
                    self.in_flight -= 1

    async def send_one(self, item: OutboxItem) -> None:
        await self.throttle.acquire(item.chat_id)
        try:
            message_id = await self._deliver(item)
        except FloodWait as exc:
            log.warning("outbox %d: %s; waiting exactly that", item.id, exc)
            self.throttle.flood(item.chat_id, exc.seconds, exc.scope)
            outbox.retry_later(self.db, item.id, exc.seconds, str(exc))
        except Blocked:
            log.info("outbox %d: user %d blocked the bot", item.id, item.chat_id)
            with write_tx(self.db):
                self.db.execute("UPDATE users SET blocked_bot = 1 WHERE id = ?", [item.chat_id])
            outbox.mark_failed(self.db, item.id, "blocked")
        except Transient as exc:
            if item.attempts >= MAX_ATTEMPTS:
                log.error("outbox %d: giving up after %d attempts: %s", item.id, item.attempts, exc)
                outbox.mark_failed(self.db, item.id, str(exc))
            else:
                delay = RETRY_BASE * 2 ** (item.attempts - 1)
                log.warning("outbox %d: %s; retry %d in %.0fs", item.id, exc, item.attempts, delay)
                outbox.retry_later(self.db, item.id, delay, str(exc))
        except TelegramError as exc:
            log.error("outbox %d to chat %d refused: %s", item.id, item.chat_id, exc)
            outbox.mark_failed(self.db, item.id, str(exc))
        else:
            outbox.mark_sent(self.db, item.id, message_id)

    async def _deliver(self, item: OutboxItem) -> int | None:
        p = item.payload
        if item.kind == "text":
            sent = await self.port.send_text(
                item.chat_id,
                p["text"],
                keyboard=keyboard_from(p.get("keyboard")),
                reply_to=p.get("reply_to"),
                html=p.get("html", True),
            )
            return sent.message_id
        raise TelegramError(f"unknown outbox kind {item.kind!r}")


async def _first(*events: trio.Event) -> None:
    """Return when any of the events is set."""
    async with trio.open_nursery() as nursery:
        for event in events:

            async def wait(e: trio.Event = event) -> None:
                await e.wait()
                nursery.cancel_scope.cancel()

            nursery.start_soon(wait)
