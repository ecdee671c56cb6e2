"""Receiving updates: poll the port, handle each update durably, then confirm the batch.

An update is confirmed only after what it caused (a user row, an outbox row) is committed, so
a gateway killed at any moment gets the same updates again instead of losing them.
"""

from __future__ import annotations

import html
import logging
import time

import sqlite_utils
import trio

from core import outbox
from core.config import Settings
from core.db import write_tx
from core.telegram import IncomingMessage, TelegramError, TelegramPort, Update, User
from core.texts import language_for, text
from ipc.channels import Pusher
from ipc.messages import OutboxNotice

log = logging.getLogger("gateway.updates")

POLL_TIMEOUT = 25.0  # seconds a long poll waits for updates
RETRY_MIN, RETRY_MAX = 0.5, 30.0  # back-off while Telegram is unreachable


class UpdateLoop:
    def __init__(self, settings: Settings, db: sqlite_utils.Database, port: TelegramPort, outbox_push: Pusher) -> None:
        self.settings = settings
        self.db = db
        self.port = port
        self.outbox = outbox_push

    async def run(self) -> None:
        delay = RETRY_MIN
        while True:
            try:
                batch = await self.port.get_updates(POLL_TIMEOUT)
            except TelegramError as exc:
                log.warning("getting updates failed (%s); retrying in %.1fs", exc, delay)
                await trio.sleep(delay)
                delay = min(delay * 2, RETRY_MAX)
                continue
            delay = RETRY_MIN
            notices = []
            for update in batch.updates:
                notices += self.handle(update)
            await self.port.confirm(batch)
            for item_id in notices:
                await self.outbox.send(OutboxNotice(item_id=item_id))

    def handle(self, update: Update) -> list[int]:
        """Commit what one update causes; return the outbox rows to announce."""
        if not isinstance(update, IncomingMessage) or update.chat.type != "private":
            return []
        sender = update.sender
        with write_tx(self.db):
            row = self.db.execute("SELECT language, last_message_id FROM users WHERE id = ?", [sender.id]).fetchone()
            # Message ids grow within a private chat, so one at or below the last handled is a repeat
            # (updates are confirmed after their effects commit: a crash in between redelivers them).
            if row is not None and update.message_id <= row[1]:
                log.info("message %d of user %d was handled before a restart; skipped", update.message_id, sender.id)
                return []
            lang = self.remember_user(sender, update.message_id, row[0] if row is not None else None)
            command = update.text.strip().split(maxsplit=1)[0].split("@")[0].lower() if update.text.strip() else ""
            if command == "/start":
                name = html.escape(sender.first_name or "")
                item = outbox.enqueue(self.db, update.chat.id, "text", {"text": text(lang, "welcome", name=name)})
                log.info("welcome for user %d queued as outbox %d (%s)", sender.id, item, lang)
                return [item]
        return []

    def remember_user(self, user: User, message_id: int, language: str | None) -> str:
        """Insert or refresh the user's row with the message being handled; return the language to
        answer in: the one the user has, or one chosen from their Telegram language."""
        now = time.time()
        lang = language or language_for(user.language_code, self.settings.default_language)
        self.db.execute(
            "INSERT INTO users (id, first_name, username, language, joined_at, last_seen_at, last_message_id)"
            " VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT(id) DO UPDATE SET first_name = excluded.first_name,"
            " username = excluded.username, language = excluded.language, last_seen_at = excluded.last_seen_at,"
            " last_message_id = excluded.last_message_id",
            [user.id, user.first_name, user.username, lang, now, now, message_id],
        )
        return lang
