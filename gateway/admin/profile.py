"""/user <user id>: one user's story for an admin: profile, last jobs with outcomes, bans, the
locks they were shown and joined; with buttons to ban, unban and cancel their jobs, each asking
for a confirmation first (a step in `admin_steps`, see `gateway.admin.steps`)."""

from __future__ import annotations

import html
import logging
import time

from core.callback_data import Callback
from core.jobstates import ACTIVE, sql_in
from core.payloads import Button, Keyboard
from core.telegram import CallbackQuery, IncomingMessage
from core.texts import digits, text
from gateway.admin import bans, pages, steps
from gateway.admin.audit import admin_only, admin_only_press, arguments, when
from gateway.admin.queue import PHASE_KEYS, age, cancel_for_admin, host
from gateway.context import Request

log = logging.getLogger("gateway.admin.profile")

ACTION_USER = "ax"  # ax|<op>|<user id> asks; ax|y|<step>, ax|n|<step> answer
OP_BAN, OP_UNBAN, OP_CANCEL, OP_SHOW = "b", "u", "c", "s"
STEPS = {OP_BAN: "ban", OP_UNBAN: "unban", OP_CANCEL: "cancel_user"}
CONFIRM_KEYS = {  # what each step asks the admin to confirm
    "ban": "ap_user_confirm_ban",
    "unban": "ap_user_confirm_unban",
    "cancel_user": "ap_user_confirm_cancel_user",
}
BAN_LINE_KEYS = {  # a ban or unban in the user's history
    "ban": "ap_user_ban_line",
    "unban": "ap_user_unban_line",
}
LOCK_KEYS = {  # where the user stands with a sponsor lock
    "shown": "ap_lock_shown",
    "joined": "ap_lock_joined",
    "already": "ap_lock_already",
    "left": "ap_lock_left",
}
LAST_JOBS = 10
LAST_BANS = 5
LOCKS_SHOWN = 10
OUTCOME_MARKS = {"done": "✅", "failed": "❌", "cancelled": "✖"}
ACTIVE_MARK = "⏳"


def profile_page(req: Request, user_id: int) -> pages.Page | None:
    row = req.db.execute(
        "SELECT first_name, username, language, joined_at, last_seen_at, blocked_bot, banned, banned_at, banned_by,"
        " ban_reason, requests_total, downloads_ok, downloads_failed, bytes_sent FROM users WHERE id = ?",
        [user_id],
    ).fetchone()
    if row is None:
        return None
    (first, username, language, joined, seen, blocked, banned, banned_at, banned_by, reason, *counts) = row
    lang, yes, no = req.lang, req.t("ap_yes_word"), req.t("ap_no_word")
    name = " ".join(p for p in (html.escape(first or ""), f"@{html.escape(username)}" if username else "") if p)
    lines = [
        req.t("ap_user_head", id=digits(lang, user_id), name=pages.clip(name, 100)),
        req.t(
            "ap_user_profile",
            language=html.escape(language or "-"),
            first=when(lang, joined),
            last=when(lang, seen),
            blocked=yes if blocked else no,
            banned=req.t("ap_user_banned", when=when(lang, banned_at or 0), by=digits(lang, banned_by or 0))
            if banned
            else no,
        ),
        req.t(
            "ap_user_counts",
            requests=counts[0],
            ok=counts[1],
            failed=counts[2],
            sent=digits(lang, f"{counts[3] / 1e6:.1f}"),
        ),
    ]
    if banned and reason:
        lines.append(req.t("ap_user_ban_reason", reason=html.escape(pages.clip(reason, 200))))
    lines += _jobs(req, user_id) + _bans(req, user_id) + _locks(req, user_id)
    return pages.Page("\n".join(lines), _keyboard(req, user_id, bool(banned)))


def _jobs(req: Request, user_id: int) -> list[str]:
    rows = req.db.execute(
        "SELECT id, url, state, error_class, created_at FROM jobs WHERE user_id = ? AND parent_id IS NULL"
        " ORDER BY id DESC LIMIT ?",
        [user_id, LAST_JOBS],
    ).fetchall()
    if not rows:
        return [req.t("ap_user_no_jobs")]
    now, lines = time.time(), [req.t("ap_user_jobs")]
    for job_id, url, state, error_class, created_at in rows:
        outcome = text(req.lang, PHASE_KEYS[state])
        if state == "failed" and error_class:
            outcome += f" ({html.escape(error_class)})"
        lines.append(
            req.t(
                "ap_user_job",
                mark=OUTCOME_MARKS.get(state, ACTIVE_MARK),
                id=digits(req.lang, job_id),
                outcome=outcome,
                host=html.escape(pages.clip(host(url), 60)),
                age=age(req.lang, now - created_at),
            )
        )
    return lines


def _bans(req: Request, user_id: int) -> list[str]:
    rows = req.db.execute(
        "SELECT action, admin_id, at, detail FROM admin_audit WHERE action IN ('ban', 'unban')"
        " AND (detail = ?1 OR detail LIKE ?1 || ' %') ORDER BY id DESC LIMIT ?2",
        [str(user_id), LAST_BANS],
    ).fetchall()
    if not rows:
        return []
    lines = [req.t("ap_user_bans")]
    for action, admin_id, at, detail in rows:
        why = (detail or "").split(maxsplit=1)[1:] or [""]
        lines.append(
            req.t(
                BAN_LINE_KEYS[action],
                when=when(req.lang, at),
                by=digits(req.lang, admin_id),
                reason=html.escape(pages.clip(why[0], 100)),
            )
        )
    return lines


def _locks(req: Request, user_id: int) -> list[str]:
    rows = req.db.execute(
        "SELECT coalesce('@' || s.username, nullif(s.title, ''), s.chat_id), u.status, u.shown_at, u.joined_at"
        " FROM sponsor_users u JOIN sponsors s ON s.id = u.sponsor_id WHERE u.user_id = ?"
        " ORDER BY coalesce(u.joined_at, u.shown_at) DESC LIMIT ?",
        [user_id, LOCKS_SHOWN],
    ).fetchall()
    if not rows:
        return [req.t("ap_user_no_locks")]
    lines = [req.t("ap_user_locks")]
    for name, status, shown_at, joined_at in rows:
        moment = joined_at or shown_at
        lines.append(
            req.t(
                "ap_user_lock",
                name=html.escape(str(name)),
                status=req.t(LOCK_KEYS[status]),
                when=when(req.lang, moment) if moment else "",
            )
        )
    return lines


def _keyboard(req: Request, user_id: int, banned: bool) -> Keyboard:
    def button(key: str, op: str) -> Button:
        return Button(text=req.t(key), data=req.codec.encode(ACTION_USER, op, user_id))

    row = [button("ap_button_unban", OP_UNBAN) if banned else button("ap_button_ban", OP_BAN)]
    active = req.db.execute(
        f"SELECT count(*) FROM jobs WHERE user_id = ? AND parent_id IS NULL AND state IN {sql_in(*ACTIVE)}",
        [user_id],
    ).fetchone()[0]
    if active:
        row.append(
            Button(
                text=req.t("ap_button_cancel_user", count=digits(req.lang, active)),
                data=req.codec.encode(ACTION_USER, OP_CANCEL, user_id),
            )
        )
    return [row, [button("ap_button_refresh", OP_SHOW)]]


def user_command(req: Request, msg: IncomingMessage) -> None:
    args = arguments(msg)
    if not args or not args[0].isdecimal() or int(args[0]) <= 0:
        req.reply(req.t("ap_user_usage"))
        return
    user_id = int(args[0])
    page = profile_page(req, user_id)
    if page is None:
        req.reply(req.t("ap_user_unknown", id=digits(req.lang, user_id)))
        return
    pages.show(req, page)


# ---- buttons: ask, then do -----------------------------------------------------------------------


def pressed(req: Request, query: CallbackQuery, callback: Callback) -> None:
    op, number = callback.str_arg(0), callback.int_arg(1)
    if op in (steps.YES, steps.NO):
        _answered(req, query, op, number)
    elif op == OP_SHOW and number is not None:
        _refresh(req, query, number)
    elif op in STEPS and number is not None:
        if op == OP_BAN and number in req.settings.admin_ids:
            req.answer(query.id, req.t("admin_ban_admin"), alert=True)
            return
        step_id = steps.ask_confirm(req, STEPS[op], {"user": number})
        body = req.t(CONFIRM_KEYS[STEPS[op]], id=digits(req.lang, number))
        pages.show(req, pages.Page(body, steps.confirm_keyboard(req, ACTION_USER, step_id)), query)
    else:
        req.answer(query.id, req.t("button_expired"))


def _refresh(req: Request, query: CallbackQuery, user_id: int, toast: str | None = None) -> None:
    page = profile_page(req, user_id)
    if page is None:
        req.answer(query.id, req.t("ap_user_unknown", id=digits(req.lang, user_id)))
        return
    if toast:
        page.text = toast + "\n\n" + page.text
    pages.show(req, page, query, toast=toast)


def _answered(req: Request, query: CallbackQuery, op: str, step_id: int | None) -> None:
    row = req.db.execute("SELECT action FROM admin_steps WHERE id = ?", [step_id]).fetchone() if step_id else None
    step = steps.take(req, step_id, row[0]) if row is not None and row[0] in STEPS.values() else None
    if step is None:
        req.answer(query.id, req.t("button_expired"))
        return
    user_id = int(step.args["user"])
    if op == steps.NO:
        _refresh(req, query, user_id)
        return
    lang = req.lang
    if step.action == "ban":
        cancelled = bans.ban_user(req, user_id)
        done = req.t("ap_user_banned_now", id=digits(lang, user_id), jobs=digits(lang, cancelled))
    elif step.action == "unban":
        lifted = bans.unban_user(req, user_id)
        done = req.t("admin_unbanned" if lifted else "admin_not_banned", user=digits(lang, user_id))
    else:
        rows = req.db.execute(
            f"SELECT id FROM jobs WHERE user_id = ? AND parent_id IS NULL AND state IN {sql_in(*ACTIVE)}",
            [user_id],
        ).fetchall()
        count = sum(cancel_for_admin(req, job_id) is not None for (job_id,) in rows)
        done = req.t("ap_user_cancelled_now", id=digits(lang, user_id), jobs=digits(lang, count))
    _refresh(req, query, user_id, toast=done)


COMMANDS = {"/user": admin_only(user_command)}
CALLBACKS = {ACTION_USER: admin_only_press(pressed)}
