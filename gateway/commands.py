"""The command table: which handler answers a command or a button, merged from the handler tables.

A handler module (or an object) exports `COMMANDS` (command -> handler of a message) and/or
`CALLBACKS` (button action -> handler of a press); handlers bound to some state come as a `Table`.
Every table from the `gateway.admin` package (a module there, or an object of a class defined
there) is for admins only, and the table refuses everyone else itself, so no admin handler checks
for itself and a new admin module is guarded by being in that package. An admin module names the
commands anyone may use in `FOR_EVERYONE` (/cancel: alone, one's own jobs). A refusal is
throttled per user: one answer and one `admin_audit` row per NOTICE_INTERVAL however often they
try, so that nobody can make the bot send or write without end.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from types import ModuleType
from typing import TypeVar

from core.callback_data import Callback, CallbackCodec
from core.logs import uid
from core.payloads import Button
from core.telegram import CallbackQuery, IncomingMessage
from gateway.admin.audit import ACTION_DENIED, record
from gateway.context import Request
from gateway.limits import notice_due

log = logging.getLogger("gateway.commands")

MessageHandler = Callable[[Request, IncomingMessage], None]
CallbackHandler = Callable[[Request, CallbackQuery, Callback], None]
Prepare = Callable[[IncomingMessage], Awaitable[MessageHandler | None]]
H = TypeVar("H")

ADMIN_PACKAGE = "gateway.admin"
NOTICE_REFUSED = "admin_only"  # the notice kind (and text key) of the refusal
PRESS_DETAIL_CHARS = 40  # a refused button's data kept in the audit log is cut to this
ACTION_COMMAND = "cmd"  # callback data cmd|<command>|<arg>...: the button types "/<command> <arg>..."


def command_of(text: str) -> str:
    """`/start@my_bot args` -> `/start`; "" for a message that is no command."""
    first = text.strip().split(maxsplit=1)[0] if text.strip() else ""
    return first.split("@")[0].lower() if first.startswith("/") else ""


def command_button(codec: CallbackCodec, label: str, command: str, *args: int | str) -> Button:
    """A button that types `/command args` when pressed (`command` without its slash); the router
    runs it as the command, through the same gates and refusals."""
    return Button(text=label, data=codec.encode(ACTION_COMMAND, command, *args))


@dataclass(frozen=True)
class Table:
    """Handlers bound to some state (the locks, the maintenance switch), named like the module
    they come from: a name in `gateway.admin` makes them admins' only."""

    name: str
    commands: Mapping[str, MessageHandler] = field(default_factory=dict)
    callbacks: Mapping[str, CallbackHandler] = field(default_factory=dict)
    for_everyone: frozenset[str] = frozenset()  # commands of an admin table that anyone may use


def _table(source: object) -> Table:
    """A module's tables, or an object's (named after the module its class is defined in)."""
    if isinstance(source, Table):
        return source
    name = source.__name__ if isinstance(source, ModuleType) else type(source).__module__
    tables = (getattr(source, "COMMANDS", {}), getattr(source, "CALLBACKS", {}))
    return Table(name, *tables, frozenset(getattr(source, "FOR_EVERYONE", ())))


def for_admins(name: str) -> bool:
    return name == ADMIN_PACKAGE or name.startswith(ADMIN_PACKAGE + ".")


def _merge(name: str, entries: Mapping[str, H], merged: dict[str, H]) -> None:
    clash = set(entries) & set(merged)
    if clash:
        raise ValueError(f"{name} handles {sorted(clash)} again")
    merged.update(entries)


class CommandTable:
    """Every command and button action, each handled once; which of them are admins' only."""

    def __init__(self, sources: Iterable[object]) -> None:
        self.commands: dict[str, MessageHandler] = {}
        self.callbacks: dict[str, CallbackHandler] = {}
        self.admin_commands: set[str] = set()
        self.admin_callbacks: set[str] = set()
        for source in sources:
            self.add(source)

    def add(self, source: object) -> None:
        table = _table(source)
        _merge(table.name, table.commands, self.commands)
        _merge(table.name, table.callbacks, self.callbacks)
        if for_admins(table.name):
            self.admin_commands.update(set(table.commands) - table.for_everyone)
            self.admin_callbacks.update(table.callbacks)

    def refuses_command(self, req: Request, command: str) -> bool:
        return command in self.admin_commands and not req.user.is_admin

    def refuses_press(self, req: Request, action: str) -> bool:
        return action in self.admin_callbacks and not req.user.is_admin


def refuse(req: Request, attempt: str, callback_id: str | None = None) -> None:
    """Someone who is no admin tried an admin command (or pressed an admin button, `callback_id`):
    answered and audited at most once per NOTICE_INTERVAL; the attempts between are only logged."""
    if not notice_due(req.db, req.user.id, NOTICE_REFUSED, req.settings.notice_interval):
        log.debug("user %s is no admin and tried %r again; refused silently", uid(req.user.id), attempt[:80])
        return
    record(req.db, req.user.id, ACTION_DENIED, attempt)
    log.warning(
        "user %s is no admin and tried %r; refused (told once per NOTICE_INTERVAL)", uid(req.user.id), attempt[:80]
    )
    if callback_id is None:
        req.reply(req.t(NOTICE_REFUSED))
    else:
        req.answer(callback_id, req.t(NOTICE_REFUSED))


def press_detail(query: CallbackQuery) -> str:
    return f"button {query.data[:PRESS_DETAIL_CHARS]}"
