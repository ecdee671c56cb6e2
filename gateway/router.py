"""Routing an update to its handler: one table merged from each handler module's tables.

A handler module exports `COMMANDS` (command -> handler of a message) and/or `CALLBACKS` (button
action -> handler of a press). A private message that is no command goes to the links handler.
Handlers are synchronous and run inside the update's transaction; whatever must wait for
Telegram (a membership check) happens before it, in the gates (`gateway.gates`): `before` ahead
of the transaction, then `admit` (maintenance, ban) ahead of the handler. The gates bring their own
tables too (the admin commands, "I've joined"), and see chat-member updates. A command that needs an
answer from another process (/health asks the monitor) has a `prepare` step: awaited before the
transaction, with its own deadline, it returns the handler to run (None: the usual one).
A button made with `command_button` stands for a command (the admin menu): pressing it is typing
the command, so it passes the same gates, steps and refusals.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

import sqlite_utils

from core.callback_data import Callback, CallbackCodec
from core.config import Settings
from core.db import write_tx
from core.payloads import Button
from core.telegram import CallbackQuery, Chat, ChatMemberChange, IncomingMessage, Update
from gateway.context import Request
from gateway.users import remember

if TYPE_CHECKING:
    from gateway.gates import Gates

log = logging.getLogger("gateway.router")

MessageHandler = Callable[[Request, IncomingMessage], None]
CallbackHandler = Callable[[Request, CallbackQuery, Callback], None]
Prepare = Callable[[IncomingMessage], Awaitable[MessageHandler | None]]


ACTION_COMMAND = "cmd"  # callback data cmd|<command>|<arg>...: the button types "/<command> <arg>..."


def command_button(codec: CallbackCodec, label: str, command: str, *args: int | str) -> Button:
    """A button that types `/command args` when pressed (`command` without its slash)."""
    return Button(text=label, data=codec.encode(ACTION_COMMAND, command, *args))


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
        typed = self._typed(update) if isinstance(update, CallbackQuery) else None
        message = typed or update
        if isinstance(message, IncomingMessage) and message.chat.type == "private":
            step = self.prepare.get(command_of(message.text))
            return self._message(message, await step(message) if step is not None else None, pressed=typed)
        if isinstance(update, CallbackQuery):
            return self._press(update)
        if isinstance(update, ChatMemberChange) and self.gates is not None:
            return self.gates.member_changed(update)
        return []

    def _typed(self, query: CallbackQuery) -> _Pressed | None:
        """The command a command button stands for (None: not one, or no such command)."""
        callback = self.codec.decode(query.data)
        if callback is None or callback.action != ACTION_COMMAND or f"/{callback.str_arg(0)}" not in self.commands:
            return None
        text = " ".join(["/" + str(callback.args[0]), *map(str, callback.args[1:])])
        # The query's own id stands in for the message's: `remember` skips no press as a repeat.
        sender, chat = query.sender, Chat(id=query.chat_id)
        return _Pressed(query.update_id, query.message_id, chat, sender, 0, text, query_id=query.id)

    def _message(
        self, msg: IncomingMessage, prepared: MessageHandler | None = None, pressed: _Pressed | None = None
    ) -> list[int]:
        with write_tx(self.db):
            user = remember(self.db, self.settings, msg.sender, None if pressed else msg.message_id)
            if user is None:
                return []
            req = Request(self.settings, self.db, self.codec, user, msg.chat.id)
            if pressed is not None:
                req.answer(pressed.query_id)  # the button stops spinning; the command answers
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


@dataclass(frozen=True)
class _Pressed(IncomingMessage):
    """A command typed by pressing its button: the message, and the press to answer."""

    query_id: str = ""
