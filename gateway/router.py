"""Routing an update: the gates (`gateway.gates`), then its handler from the command table
(`gateway.commands`). The router depends on both; neither depends on the router, and the gates
know nothing of the table.

Handlers are synchronous and run inside the update's transaction; whatever must wait for Telegram
(a membership check) happens before it: the gates' `before` ahead of the transaction, then their
`admit` (maintenance, ban) ahead of the handler. A message that is no command goes to the
fallback (the gates' links). A command that needs an answer from another process (/health asks
the monitor) has a `prepare` step: awaited before the transaction, with its own deadline, it
returns the handler to run (None: the usual one). The gates' state answers a few commands of its
own (`gates_tables`: the locks, maintenance, bans, "I've joined"). A button made with
`command_button` stands for a command (the admin menu): pressing it is typing the command, so it
passes the same gates, steps and refusals.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import partial

import sqlite_utils

from core.callback_data import CallbackCodec
from core.config import Settings
from core.db import write_tx
from core.logs import uid
from core.telegram import (
    CallbackQuery,
    Chat,
    ChatMemberChange,
    ChosenInlineResult,
    IncomingMessage,
    InlineQuery,
    Update,
)
from gateway.admin import bans, maintenance, sponsors

# MessageHandler and Prepare are imported from here by handler modules too.
from gateway.commands import (
    ACTION_COMMAND,
    CallbackHandler,
    CommandTable,
    MessageHandler,
    Prepare,
    Table,
    command_of,
    press_detail,
    refuse,
)
from gateway.context import Request
from gateway.gates import Gates
from gateway.handlers import inline, joined
from gateway.locks import ACTION_JOINED
from gateway.users import remember

log = logging.getLogger("gateway.router")


def gates_tables(gates: Gates) -> list[object]:
    """The commands and buttons the gates' state answers."""
    return [
        bans,
        Table(sponsors.__name__, commands=sponsors.commands(gates.locks)),
        Table(maintenance.__name__, commands={"/maintenance": maintenance.command(gates.maintenance)}),
        Table(joined.__name__, callbacks={ACTION_JOINED: partial(joined.pressed, gates)}),
    ]


def gates_steps(gates: Gates) -> dict[str, Prepare]:
    """/addsponsor checks, before its transaction, that the bot can see the channel's members."""

    async def probe_sponsor(msg: IncomingMessage) -> MessageHandler | None:
        if msg.sender.id in gates.settings.admin_ids:
            spec = sponsors.parse_spec(msg.text.split()[1:])
            if spec is not None:
                await gates.locks.probe(spec.ref, msg.sender.id)
        return None

    return {"/addsponsor": probe_sponsor}


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
        """`modules`: handler modules (or `Table`s). Without `gates` every update passes (for tests
        of the handlers alone)."""
        self.settings = settings
        self.db = db
        self.codec = codec
        self.fallback = fallback
        self.gates = gates
        self.table = CommandTable([*modules, *(gates_tables(gates) if gates is not None else [])])
        self.prepare = dict(gates_steps(gates)) if gates is not None else {}
        clash = set(self.prepare) & set(prepare or {})
        if clash:
            raise ValueError(f"{sorted(clash)} prepared twice")
        self.prepare.update(prepare or {})

    @property
    def commands(self) -> dict[str, MessageHandler]:
        return self.table.commands

    @property
    def callbacks(self) -> dict[str, CallbackHandler]:
        return self.table.callbacks

    async def route(self, update: Update) -> list[int]:
        """Commit what one update causes; return the outbox rows to announce."""
        typed = self._typed(update) if isinstance(update, CallbackQuery) else None
        message = typed or update
        command = command_of(message.text) if isinstance(message, IncomingMessage) else ""
        if self.gates is not None:
            await self.gates.before(update, command)
        if isinstance(message, IncomingMessage) and message.chat.type == "private":
            step = self.prepare.get(command)
            prepared = await step(message) if step is not None else None
            return self._message(message, command, prepared, pressed=typed)
        if isinstance(update, CallbackQuery):
            return self._press(update)
        if isinstance(update, ChatMemberChange) and self.gates is not None:
            return self.gates.member_changed(update)
        if isinstance(update, InlineQuery | ChosenInlineResult):
            return self._inline(update)
        return []

    def _inline(self, update: InlineQuery | ChosenInlineResult) -> list[int]:
        """Inline mode (`handlers.inline`): the gates are asked inside, as they differ there."""
        with write_tx(self.db):
            user = remember(self.db, self.settings, update.sender)
            assert user is not None  # no message id: never a repeat
            req = Request(self.settings, self.db, self.codec, user, update.sender.id)
            if isinstance(update, InlineQuery):
                inline.query(self.gates, req, update)
            else:
                inline.chosen(self.gates, req, update)
        return req.notices

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
        self,
        msg: IncomingMessage,
        command: str,
        prepared: MessageHandler | None = None,
        pressed: _Pressed | None = None,
    ) -> list[int]:
        with write_tx(self.db):
            user = remember(self.db, self.settings, msg.sender, None if pressed else msg.message_id)
            if user is None:
                return []
            req = Request(self.settings, self.db, self.codec, user, msg.chat.id)
            refused = self.table.refuses_command(req, command)
            if pressed is not None and not refused:
                req.answer(pressed.query_id)  # the button stops spinning; the command answers
            if self.gates is None or self.gates.admit(req, msg):
                if refused:  # a pressed command is answered only when the refusal is told
                    refuse(req, msg.text, callback_id=pressed.query_id if pressed is not None else None)
                else:
                    handler = prepared or self.table.commands.get(command, self.fallback)
                    handler(req, msg)
        return req.notices

    def _press(self, query: CallbackQuery) -> list[int]:
        callback = self.codec.decode(query.data)
        with write_tx(self.db):
            user = remember(self.db, self.settings, query.sender)
            assert user is not None  # no message id: never a repeat
            req = Request(self.settings, self.db, self.codec, user, query.chat_id)
            handler = self.table.callbacks.get(callback.action) if callback is not None else None
            if self.gates is not None and not self.gates.admit_press(req, query):
                log.info("banned user %s pressed a button; not answered", uid(user.id))
            elif callback is None or handler is None:
                log.info("user %s pressed a button with bad data; answered as expired", uid(user.id))
                req.answer(query.id, req.t("button_expired"))
            elif self.table.refuses_press(req, callback.action):
                refuse(req, press_detail(query), callback_id=query.id)
            else:
                handler(req, query, callback)
        return req.notices


@dataclass(frozen=True)
class _Pressed(IncomingMessage):
    """A command typed by pressing its button: the message, and the press to answer."""

    query_id: str = ""
