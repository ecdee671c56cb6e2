"""/ban <user_id> [reason] and /unban <user_id>.

A banned user gets one notice, then silence (`gateway.gates`), so a spammer cannot make the bot
spend sends: banning also cancels their unfinished jobs and drops what was still to be sent to
them. A user who never wrote to the bot can be banned ahead; admins cannot be banned.
"""

from __future__ import annotations

import html
import logging
import time

from core import jobs as job_rows
from core.jobstates import ACTIVE, sql_in
from core.logs import uid
from core.telegram import IncomingMessage
from core.texts import digits
from gateway.admin.audit import admin_only, arguments, record
from gateway.context import Request
from gateway.handlers.cancel import cancel_job
from gateway.limits import forget_notice

log = logging.getLogger("gateway.admin")

REASON_CHARS = 200
NOTICE_BANNED = "banned"  # the notice kind of the ban's one message (gateway.gates)


def _target(req: Request, msg: IncomingMessage, usage: str) -> int | None:
    args = arguments(msg)
    if not args or not args[0].isdecimal() or int(args[0]) <= 0:
        req.reply(req.t(usage))
        return None
    return int(args[0])


def ban(req: Request, msg: IncomingMessage) -> None:
    user_id = _target(req, msg, "admin_ban_usage")
    if user_id is None:
        return
    if user_id in req.settings.admin_ids:
        req.reply(req.t("admin_ban_admin"))
        return
    parts = msg.text.split(maxsplit=2)
    reason = parts[2].strip()[:REASON_CHARS] if len(parts) > 2 else ""
    ban_user(req, user_id, reason)
    shown = req.t("admin_ban_reason", reason=html.escape(reason)) if reason else ""
    req.reply(req.t("admin_banned", user=digits(req.lang, user_id), reason=shown))


def ban_user(req: Request, user_id: int, reason: str = "") -> int:
    """Ban (audited), cancel their unfinished jobs and drop what was to be sent to them; the
    number of jobs cancelled. The caller has checked that `user_id` is no admin."""
    now = time.time()
    req.db.execute(
        "INSERT INTO users (id, joined_at, last_seen_at, banned, banned_at, banned_by, ban_reason)"
        " VALUES (?1, ?2, ?2, 1, ?2, ?3, ?4) ON CONFLICT (id) DO UPDATE SET banned = 1, banned_at = ?2,"
        " banned_by = ?3, ban_reason = ?4",
        [user_id, now, req.user.id, reason or None],
    )
    forget_notice(req.db, user_id, NOTICE_BANNED)  # they hear it once, at their next message
    cancelled = _stop_jobs(req, user_id)
    record(req.db, req.user.id, "ban", f"{user_id} {reason}".strip())
    log.warning(
        "admin %s banned user %s (%s); %d job(s) cancelled", uid(req.user.id), uid(user_id), reason or "-", cancelled
    )
    return cancelled


def _stop_jobs(req: Request, user_id: int) -> int:
    mine = job_rows.load_where(
        req.db,
        req.settings,
        f"j.user_id = ? AND j.parent_id IS NULL AND j.state IN {sql_in(*ACTIVE)}",
        [user_id],
    )
    count = sum(cancel_job(req, job) for job in mine)
    # Nothing more goes to them: not the "cancelled" edits just written, nor anything else pending.
    req.db.execute("UPDATE outbox SET state = 'dropped' WHERE chat_id = ? AND state = 'pending'", [user_id])
    return count


def unban(req: Request, msg: IncomingMessage) -> None:
    user_id = _target(req, msg, "admin_unban_usage")
    if user_id is None:
        return
    moved = unban_user(req, user_id)
    req.reply(req.t("admin_unbanned" if moved else "admin_not_banned", user=digits(req.lang, user_id)))


def unban_user(req: Request, user_id: int) -> bool:
    """Lift the ban (audited); False if there was none."""
    moved = req.db.execute(
        "UPDATE users SET banned = 0, banned_at = NULL, banned_by = NULL, ban_reason = NULL"
        " WHERE id = ? AND banned = 1",
        [user_id],
    ).rowcount
    forget_notice(req.db, user_id, NOTICE_BANNED)
    record(req.db, req.user.id, "unban", str(user_id))
    log.warning("admin %s unbanned user %s%s", uid(req.user.id), uid(user_id), "" if moved else " (was not banned)")
    return bool(moved)


COMMANDS = {"/ban": admin_only(ban), "/unban": admin_only(unban)}
