"""/maintenance on|off [message]: the switch, its durable state, and the pause of dispatch.

While it is on, everyone but the admins gets the notice (at most once per
MAINTENANCE_NOTICE_INTERVAL) instead of an answer; running jobs finish, and queued ones wait:
the dispatcher hands out only the admins' own jobs (`PausingDispatcher`), so that an admin can
test the bot, until it is off again. The state is the
`settings` row "maintenance" (JSON {"on": bool, "message": str}), read at start, so a restart
keeps it; the gateway, its only writer, keeps a copy in memory.
"""

from __future__ import annotations

import html
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import sqlite_utils

from core.config import Settings
from core.logs import uid
from core.telegram import IncomingMessage
from gateway.admin.audit import arguments, record
from gateway.commands import command_button
from gateway.context import Request
from gateway.dispatch import Dispatcher
from ipc.channels import JobDispatcher

log = logging.getLogger("gateway.admin")

SETTING_KEY = "maintenance"
MESSAGE_CHARS = 1000  # an admin's maintenance message is cut to this


@dataclass
class Maintenance:
    on: bool = False
    message: str = ""

    @classmethod
    def load(cls, db: sqlite_utils.Database) -> Maintenance:
        row = db.execute("SELECT value FROM settings WHERE key = ?", [SETTING_KEY]).fetchone()
        if row is None:
            return cls()
        value: dict[str, Any] = json.loads(row[0])
        return cls(bool(value.get("on")), str(value.get("message") or ""))

    def save(self, db: sqlite_utils.Database, admin_id: int) -> None:
        value = json.dumps({"on": self.on, "message": self.message})
        db.execute(
            "INSERT INTO settings (key, value, updated_by, updated_at) VALUES (?, ?, ?, ?) ON CONFLICT (key)"
            " DO UPDATE SET value = excluded.value, updated_by = excluded.updated_by, updated_at = excluded.updated_at",
            [SETTING_KEY, value, admin_id, time.time()],
        )

    def notice(self, req: Request) -> str:
        """What a user is told: the admin's words, or the standard notice."""
        if self.message:
            return req.t("maintenance_custom", message=html.escape(self.message))
        return req.t("maintenance")


class PausingDispatcher(Dispatcher):
    """The dispatcher, handing out only the admins' jobs while maintenance is on (everyone
    else's queued jobs wait their turn)."""

    def __init__(
        self,
        settings: Settings,
        db: sqlite_utils.Database,
        jobs: JobDispatcher,
        announce: Callable[[list[int]], None],
        maintenance: Maintenance,
    ) -> None:
        super().__init__(settings, db, jobs, announce)
        self.maintenance = maintenance

    def only_users(self) -> tuple[int, ...] | None:
        return tuple(self.settings.admin_ids) if self.maintenance.on else None


def command(maintenance: Maintenance) -> Callable[[Request, IncomingMessage], None]:
    def switch(req: Request, msg: IncomingMessage) -> None:
        args = arguments(msg)
        word = args[0].lower() if args else ""
        if word not in ("on", "off"):
            state = req.t("maintenance_is_on" if maintenance.on else "maintenance_is_off")
            flip = ("off", "ap_maintenance_turn_off") if maintenance.on else ("on", "ap_maintenance_turn_on")
            switch_button = command_button(req.codec, req.t(flip[1]), "maintenance", flip[0])
            req.reply(req.t("admin_maintenance_usage", state=state), [[switch_button]])
            return
        message = msg.text.split(maxsplit=2)[2].strip()[:MESSAGE_CHARS] if len(args) > 1 else ""
        maintenance.on, maintenance.message = word == "on", message if word == "on" else ""
        maintenance.save(req.db, req.user.id)
        record(req.db, req.user.id, "maintenance", f"{word} {message}".strip())
        log.warning("admin %s turned maintenance %s", uid(req.user.id), word)
        if maintenance.on:
            req.reply(req.t("admin_maintenance_on", notice=maintenance.notice(req)))
        else:
            req.reply(req.t("admin_maintenance_off"))

    return switch
