"""Routing an update to its handler: one table merged from each handler module's tables.

A handler module exports `COMMANDS` (command -> handler of a message) and/or `CALLBACKS` (button
action -> handler of a press). A private message that is no command goes to the links handler.
Handlers are synchronous and run inside the update's transaction; whatever must wait for
Telegram (a membership check) happens before it, in the gates (`gateway.gates`): `before` ahead
of the transaction, then `admit` (maintenance, ban) ahead of the handler. The gates bring their own
tables too (the admin commands, "I've joined"), and see chat-member updates. A command that needs an
answer from another process (/health asks the monitor) has a `prepare` step: awaited before the
transaction, with its own deadline, it returns the handler to run (None: the usual one).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import TYPE_CHECKING

import sqlite_utils

from core.callback_data import Callback, CallbackCodec
from core.config import Settings
from core.db import write_tx
from core.telegram import CallbackQuery, ChatMemberChange, IncomingMessage, Update
from gateway.context import Request
from gateway.users import remember

if TYPE_CHECKING:
    from gateway.gates import Gates

log = logging.getLogger("gateway.router")

MessageHandler = Callable[[Request, IncomingMessage], None]
CallbackHandler = Callable[[Request, CallbackQuery, Callback], None]
Prepare = Callable[[IncomingMessage], Awaitable[MessageHandler | None]]


def command_of(text: str) -> str:
    """`/start@my_bot args` -> `/start`; "" for a message that is no command."""
    first = text.strip().split(maxsplit=1)[0] if text.strip() else ""
    return first.split("@")[0].lower() if first.startswith("/") else ""


class Router:
    def __init__(
        self,
        settings: Settings,
        db: sqlite_utils.Database,
        codec: CallbackCodec,
        modules: Iterable[object],
        fallback: MessageHandler,
        gates: Gates | None = None,
        prepare: Mapping[str, Prepare] | None = None,
    ) -> None:
        """`modules`: handler modules (or objects) with COMMANDS/CALLBACKS tables. Without `gates`
        every update passes (for tests of the handlers alone)."""
        self.settings = settings
        self.prepare = dict(prepare or {})
        self.db = db
        self.codec = codec
        self.fallback = fallback
        self.gates = gates
        self.commands: dict[str, MessageHandler] = {}
        self.callbacks: dict[str, CallbackHandler] = {}
        for module in [*modules, *([gates] if gates is not None else [])]:
            tables = (
                (getattr(module, "COMMANDS", {}), self.commands),
                (getattr(module, "CALLBACKS", {}), self.callbacks),
            )
            for table, merged in tables:
                clash = set(table) & set(merged)
                if clash:
                    raise ValueError(f"{getattr(module, '__name__', module)} handles {sorted(clash)} again")
                merged.update(table)

    async def route(self, update: Update) -> list[int]:
        """Commit what one update causes; return the outbox rows to announce."""
        if self.gates is not None:
            await self.gates.before(update)
        if isinstance(update, IncomingMessage) and update.chat.type == "private":
            step = self.prepare.get(command_of(update.text))
            return self._message(update, await step(update) if step is not None else None)
        if isinstance(update, CallbackQuery):
            return self._press(update)
        if isinstance(update, ChatMemberChange) and self.gates is not None:
            return self.gates.member_changed(update)
        return []

    def _message(self, msg: IncomingMessage, prepared: MessageHandler | None = None) -> list[int]:
        with write_tx(self.db):
            user = remember(self.db, self.settings, msg.sender, msg.message_id)
            if user is None:
                return []
            req = Request(self.settings, self.db, self.codec, user, msg.chat.id)
            if self.gates is None or self.gates.admit(req, msg):
                handler = prepared or self.commands.get(command_of(msg.text), self.fallback)
                handler(req, msg)
        return req.notices

    def _press(self, query: CallbackQuery) -> list[int]:
        callback = self.codec.decode(query.data)
        with write_tx(self.db):
            user = remember(self.db, self.settings, query.sender)
            assert user is not None  # no message id: never a repeat
            req = Request(self.settings, self.db, self.codec, user, query.chat_id)
            handler = self.callbacks.get(callback.action) if callback is not None else None
            if self.gates is not None and not self.gates.admit_press(req, query):
                log.info("banned user %d pressed a button; not answered", user.id)
            elif callback is None or handler is None:
                log.info("user %d pressed a button with bad data; answered as expired", user.id)
                req.answer(query.id, req.t("button_expired"))
            else:
                handler(req, query, callback)
        return req.notices
