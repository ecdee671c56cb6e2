"""Every admin action in `admin_audit`: who did what, and when; the polite refusal of anyone else,
whose attempt is recorded too (action `denied`); and /audit, the last entries, paged."""

from __future__ import annotations

import html
import logging
import time
from collections.abc import Callable
from datetime import datetime

import sqlite_utils

from core.callback_data import Callback
from core.logs import uid
from core.telegram import CallbackQuery, IncomingMessage
from core.texts import digits
from gateway.admin import pages
from gateway.context import Request
from gateway.limits import notice_due

log = logging.getLogger("gateway.admin")

DETAIL_CHARS = 500  # a command's text kept in the audit log is cut to this
ACTION_DENIED = "denied"

ACTION_AUDIT = "au"  # callback data au|p|<page>

MessageHandler = Callable[[Request, IncomingMessage], None]
PressHandler = Callable[[Request, CallbackQuery, Callback], None]


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
        log.warning("user %s is no admin and tried %r; refused", uid(req.user.id), msg.text[:80])
        if notice_due(req.db, req.user.id, "admin_only", req.settings.notice_interval):
            req.reply(req.t("admin_only"))

    guarded.__name__ = getattr(handler, "__name__", "admin_command")
    return guarded


def admin_only_press(handler: PressHandler) -> PressHandler:
    """The handler of an admin panel button; anyone else's press is refused and recorded."""

    def guarded(req: Request, query: CallbackQuery, callback: Callback) -> None:
        if req.user.is_admin:
            handler(req, query, callback)
            return
        record(req.db, req.user.id, ACTION_DENIED, f"button {query.data[:40]}")
        log.warning("user %s is no admin and pressed an admin button; refused", uid(req.user.id))
        req.answer(query.id, req.t("panel_admin_only"))

    guarded.__name__ = getattr(handler, "__name__", "admin_button")
    return guarded


def arguments(msg: IncomingMessage) -> list[str]:
    """The words after the command."""
    return msg.text.split()[1:]


def when(lang: str, at: float) -> str:
    """A moment as admins read it: server time, in their digits."""
    return digits(lang, datetime.fromtimestamp(at).strftime("%Y-%m-%d %H:%M"))


# ---- /audit -------------------------------------------------------------------------------------


def audit_page(req: Request, page: int) -> pages.Page:
    total = int(req.db.execute("SELECT count(*) FROM admin_audit").fetchone()[0])
    if not total:
        return pages.Page(req.t("ap_audit_none"))
    first, page, count = pages.window(total, page)
    rows = req.db.execute(
        "SELECT at, admin_id, action, detail FROM admin_audit ORDER BY id DESC LIMIT ? OFFSET ?",
        [pages.PER_PAGE, first],
    ).fetchall()
    lines = [req.t("ap_audit_head"), pages.count_line(req, first, len(rows), total)]
    for at, admin_id, action, detail in rows:
        entry = req.t(
            "ap_audit_line",
            when=when(req.lang, at),
            admin=digits(req.lang, admin_id),
            action=html.escape(action),
            detail=html.escape(pages.clip(detail or "", pages.LINE_CHARS // 2)),
        )
        lines.append(entry)
    return pages.Page("\n".join(lines), [pages.nav(req, ACTION_AUDIT, page, count)])


def audit_log(req: Request, msg: IncomingMessage) -> None:
    pages.show(req, audit_page(req, 0))


def audit_pressed(req: Request, query: CallbackQuery, callback: Callback) -> None:
    pages.show(req, audit_page(req, callback.int_arg(1) or 0), query)


COMMANDS = {"/audit": admin_only(audit_log)}
CALLBACKS = {ACTION_AUDIT: admin_only_press(audit_pressed)}
