"""Every admin action in `admin_audit`: who did what, and when; and the polite refusal of anyone
else, whose attempt is recorded too (action `denied`)."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

import sqlite_utils

from core.telegram import IncomingMessage
from gateway.context import Request
from gateway.limits import notice_due

log = logging.getLogger("gateway.admin")

DETAIL_CHARS = 500  # a command's text kept in the audit log is cut to this
ACTION_DENIED = "denied"

MessageHandler = Callable[[Request, IncomingMessage], None]


def record(db: sqlite_utils.Database, admin_id: int, action: str, detail: str) -> None:
    db.execute(
        "INSERT INTO admin_audit (admin_id, action, detail, at) VALUES (?, ?, ?, ?)",
        [admin_id, action, detail[:DETAIL_CHARS], time.time()],
    )


def admin_only(handler: MessageHandler) -> MessageHandler:
    """The handler for admins; anyone else is refused (at most once per NOTICE_INTERVAL) and logged."""

    def guarded(req: Request, msg: IncomingMessage) -> None:
        if req.user.is_admin:
            handler(req, msg)
            return
        record(req.db, req.user.id, ACTION_DENIED, msg.text)
        log.warning("user %d is no admin and tried %r; refused", req.user.id, msg.text[:80])
        if notice_due(req.db, req.user.id, "admin_only", req.settings.notice_interval):
            req.reply(req.t("admin_only"))

    guarded.__name__ = getattr(handler, "__name__", "admin_command")
    return guarded


def arguments(msg: IncomingMessage) -> list[str]:
    """The words after the command."""
    return msg.text.split()[1:]
