"""/queue: the jobs running and waiting, oldest first, paged, each with a cancel button; and
/cancel <job id>, an admin's cancel of anyone's job (without a number, /cancel is the user's own).

An admin's cancel goes through the users' cancel path (`gateway.handlers.cancel.cancel_job`) as
the job's owner, so the owner's status message says "cancelled" in their language; then the owner
is told, politely, that an admin stopped it. Every cancel is in `admin_audit`.
"""

from __future__ import annotations

import html
import logging
import time
from urllib.parse import urlsplit

from core import jobs as job_rows
from core.callback_data import Callback
from core.jobstates import ACTIVE, sql_in
from core.logs import uid
from core.payloads import Button, Keyboard
from core.telegram import CallbackQuery, IncomingMessage
from core.texts import digits, text
from gateway.admin import pages, steps
from gateway.admin.audit import admin_only, admin_only_press, arguments, record
from gateway.context import Request
from gateway.handlers import cancel
from gateway.users import UserRow

log = logging.getLogger("gateway.admin.queue")

ACTION_QUEUE = "aq"  # aq|p|<page>, aq|x|<job>|<page> (asks), aq|y|<step>, aq|n|<step>
OP_ASK = "x"
STEP_CANCEL = "cancel_job"
CANCEL_BUTTONS_PER_ROW = 2
AGE_MINUTE, AGE_HOUR, AGE_DAY = 60, 3600, 86400
PHASE_KEYS = {  # a job's state as the admin reads it
    "queued": "ap_phase_queued",
    "probing": "ap_phase_probing",
    "choosing": "ap_phase_choosing",
    "downloading": "ap_phase_downloading",
    "uploading": "ap_phase_uploading",
    "done": "ap_phase_done",
    "failed": "ap_phase_failed",
    "cancelled": "ap_phase_cancelled",
}


def age(lang: str, seconds: float) -> str:
    if seconds < AGE_MINUTE:
        return text(lang, "ap_age_s", n=digits(lang, max(0, int(seconds))))
    if seconds < AGE_HOUR:
        return text(lang, "ap_age_min", n=digits(lang, int(seconds // AGE_MINUTE)))
    if seconds < AGE_DAY:
        return text(lang, "ap_age_h", n=digits(lang, int(seconds // AGE_HOUR)))
    return text(lang, "ap_age_d", n=digits(lang, int(seconds // AGE_DAY)))


def host(url: str) -> str:
    try:
        return urlsplit(url).hostname or "?"
    except ValueError:
        return "?"


def phase(lang: str, state: str, done: int, total: int | None) -> str:
    shown = text(lang, PHASE_KEYS[state])
    if state == "downloading" and total:
        shown += " " + digits(lang, f"{min(100, 100 * done // total)} %")
    return shown


# ---- the list ------------------------------------------------------------------------------------


_ACTIVE = f"state IN {sql_in(*ACTIVE)} AND parent_id IS NULL"


def queue_page(req: Request, page: int) -> pages.Page:
    total = int(req.db.execute(f"SELECT count(*) FROM jobs WHERE {_ACTIVE}").fetchone()[0])
    if not total:
        return pages.Page(req.t("ap_queue_empty"), [pages.nav(req, ACTION_QUEUE, 0, 1)])
    first, page, count = pages.window(total, page)
    rows = req.db.execute(
        f"SELECT id, user_id, url, state, created_at, downloaded_bytes, total_bytes FROM jobs WHERE {_ACTIVE}"
        " ORDER BY created_at, id LIMIT ? OFFSET ?",
        [pages.PER_PAGE, first],
    ).fetchall()
    now = time.time()
    lines = [req.t("ap_queue_head"), pages.count_line(req, first, len(rows), total)]
    buttons: list[Button] = []
    for job_id, user_id, url, state, created_at, done, size in rows:
        line = req.t(
            "ap_queue_line",
            id=digits(req.lang, job_id),
            user=digits(req.lang, user_id),
            host=html.escape(pages.clip(host(url), 60)),
            phase=phase(req.lang, state, done, size),
            age=age(req.lang, now - created_at),
        )
        lines.append(line)
        label = req.t("ap_button_cancel_job", id=digits(req.lang, job_id))
        buttons.append(Button(text=label, data=req.codec.encode(ACTION_QUEUE, OP_ASK, job_id, page)))
    keyboard: Keyboard = [
        buttons[i : i + CANCEL_BUTTONS_PER_ROW] for i in range(0, len(buttons), CANCEL_BUTTONS_PER_ROW)
    ]
    keyboard.append(pages.nav(req, ACTION_QUEUE, page, count))
    return pages.Page("\n".join(lines), keyboard)


def show_queue(req: Request, msg: IncomingMessage) -> None:
    pages.show(req, queue_page(req, 0))


# ---- cancelling ------------------------------------------------------------------------------------


def owner_request(req: Request, user_id: int) -> Request | None:
    """The job owner's side of this update: their language, their chat; its notices are the admin's."""
    row = req.db.execute(
        "SELECT language, default_format, audio_format, banned FROM users WHERE id = ?", [user_id]
    ).fetchone()
    if row is None:
        return None
    user = UserRow(
        id=user_id,
        lang=row[0] or req.settings.default_language,
        default_format=row[1],
        audio_format=row[2] or req.settings.audio_format,
        banned=bool(row[3]),
        is_admin=user_id in req.settings.admin_ids,
    )
    return Request(req.settings, req.db, req.codec, user, user_id, notices=req.notices)


def cancel_for_admin(req: Request, job_id: int) -> job_rows.Job | None:
    """Cancel anyone's job as an admin (audited, the owner told); None if it is over or unknown."""
    job = job_rows.load(req.db, job_id, req.settings)
    owner = owner_request(req, job.user_id) if job is not None else None
    if job is None or owner is None or job.state not in ACTIVE or not cancel.cancel_job(owner, job):
        return None
    owner.reply(owner.t("ap_cancelled_by_admin", host=html.escape(host(job.url))), reply_to=job.request_message_id)
    record(req.db, req.user.id, "cancel", f"job {job.id} of user {job.user_id} ({host(job.url)}, was {job.state})")
    log.warning("admin %s cancelled job %d of user %s (was %s)", uid(req.user.id), job.id, uid(job.user_id), job.state)
    return job


def cancel_command(req: Request, msg: IncomingMessage) -> None:
    """/cancel <job id> for admins; /cancel alone (anyone) cancels one's own jobs."""
    args = arguments(msg)
    if not args or not req.user.is_admin:
        cancel.cancel_all(req, msg)
        return
    word = args[0].lstrip("#")
    if not word.isdecimal():
        req.reply(req.t("ap_cancel_usage"))
        return
    req.reply(_cancelled(req, int(word)))


def _cancelled(req: Request, job_id: int) -> str:
    job = cancel_for_admin(req, job_id)
    if job is None:
        return req.t("ap_cancel_none", id=digits(req.lang, job_id))
    return req.t("ap_cancel_done", id=digits(req.lang, job_id), user=digits(req.lang, job.user_id))


# ---- buttons -------------------------------------------------------------------------------------


def pressed(req: Request, query: CallbackQuery, callback: Callback) -> None:
    op = callback.str_arg(0)
    if op == pages.OP_PAGE:
        pages.show(req, queue_page(req, callback.int_arg(1) or 0), query)
    elif op == OP_ASK:
        _ask(req, query, callback.int_arg(1), callback.int_arg(2) or 0)
    elif op in (steps.YES, steps.NO):
        step = steps.take(req, callback.int_arg(1), STEP_CANCEL)
        if step is None:
            req.answer(query.id, req.t("button_expired"))
        elif op == steps.NO:
            pages.show(req, queue_page(req, int(step.args["page"])), query)
        else:
            _confirmed(req, query, int(step.args["job"]), int(step.args["page"]))
    else:
        req.answer(query.id, req.t("button_expired"))


def _ask(req: Request, query: CallbackQuery, job_id: int | None, page: int) -> None:
    job = job_rows.load(req.db, job_id, req.settings) if job_id is not None else None
    if job is None or job.state not in ACTIVE:
        req.answer(query.id, req.t("ap_cancel_none", id=digits(req.lang, job_id or 0)))
        pages.show(req, queue_page(req, page), query)
        return
    step_id = steps.ask_confirm(req, STEP_CANCEL, {"job": job.id, "page": page})
    body = req.t(
        "ap_cancel_confirm",
        id=digits(req.lang, job.id),
        user=digits(req.lang, job.user_id),
        host=html.escape(host(job.url)),
        phase=text(req.lang, PHASE_KEYS[job.state]),
    )
    keyboard = steps.confirm_keyboard(req, ACTION_QUEUE, step_id, "ap_yes_cancel")
    pages.show(req, pages.Page(body, keyboard), query)


def _confirmed(req: Request, query: CallbackQuery, job_id: int, page: int) -> None:
    done = _cancelled(req, job_id)
    after = queue_page(req, page)
    pages.show(req, pages.Page(done + "\n\n" + after.text, after.keyboard), query, toast=done)


COMMANDS = {"/queue": admin_only(show_queue), "/cancel": cancel_command}
FOR_EVERYONE = frozenset({"/cancel"})  # the command table lets anyone use it: alone, it cancels one's own jobs
CALLBACKS = {ACTION_QUEUE: admin_only_press(pressed)}
