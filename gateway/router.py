"""Routing an update: the gates (`gateway.gates`), then its handler from the command table
(`gateway.commands`). The router depends on both; neither depends on the router, and the gates
know nothing of the table.

Handlers are synchronous and run inside the update's transaction; whatever must wait for Telegram
(a membership check) happens before it: the gates' `before` ahead of the transaction, then their
`admit` (maintenance, ban) ahead of the handler. A message that is no command goes to the
fallback (the gates' links). A command that needs an answer from another process (/health asks
the monitor) has a `prepare` step: awaited before the transaction, with its own deadline, it
returns the handler to run (None: the usual one). The gates' state answers a few commands of its
own (`gates_tables`: the locks, maintenance, bans, "I've joined").
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from functools import partial

import sqlite_utils

from core.callback_data import CallbackCodec
from core.config import Settings
from core.db import write_tx
from core.telegram import CallbackQuery, ChatMemberChange, IncomingMessage, Update
from gateway.admin import bans, maintenance, sponsors

# MessageHandler and Prepare are imported from here by handler modules too.
from gateway.commands import CommandTable, MessageHandler, Prepare, Table, command_of, press_detail, refuse
from gateway.context import Request
from gateway.gates import Gates
from gateway.handlers import joined
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

    async def route(self, update: Update) -> list[int]:
        """Commit what one update causes; return the outbox rows to announce."""
        command = command_of(update.text) if isinstance(update, IncomingMessage) else ""
        if self.gates is not None:
            await self.gates.before(update, command)
        if isinstance(update, IncomingMessage) and update.chat.type == "private":
            step = self.prepare.get(command)
            return self._message(update, command, await step(update) if step is not None else None)
        if isinstance(update, CallbackQuery):
            return self._press(update)
        if isinstance(update, ChatMemberChange) and self.gates is not None:
            return self.gates.member_changed(update)
        return []

    def _message(self, msg: IncomingMessage, command: str, prepared: MessageHandler | None = None) -> list[int]:
        with write_tx(self.db):
            user = remember(self.db, self.settings, msg.sender, msg.message_id)
            if user is None:
                return []
            req = Request(self.settings, self.db, self.codec, user, msg.chat.id)
            if self.gates is None or self.gates.admit(req, msg):
                if self.table.refuses_command(req, command):
                    refuse(req, msg.text)
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
                log.info("banned user %d pressed a button; not answered", user.id)
            elif callback is None or handler is None:
                log.info("user %d pressed a button with bad data; answered as expired", user.id)
                req.answer(query.id, req.t("button_expired"))
            elif self.table.refuses_press(req, callback.action):
                refuse(req, press_detail(query), callback_id=query.id)
            else:
                handler(req, query, callback)
        return req.notices
