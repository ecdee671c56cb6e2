"""Cancel: the button on a job's status, and /cancel for all of the user's jobs.

The row says cancelled at once; the downloader or uploader holding the job sees it within a
fraction of a second, stops, and removes its files. No file comes later.
"""

from __future__ import annotations

import logging
import time

from core import jobs as job_rows
from core import metrics, outbox, spool
from core.callback_data import Callback
from core.jobs import Job
from core.logs import uid
from core.schema import JOB_ACTIVE_STATES
from core.status import ACTION_CANCEL
from core.telegram import CallbackQuery, IncomingMessage
from core.texts import digits
from gateway.context import Request

log = logging.getLogger("gateway.cancel")


def cancel_job(req: Request, job: Job) -> bool:
    """Cancel a job (and a playlist's entries); False if it was over already."""
    now = time.time()
    ids = [job.id] + [
        r[0]
        for r in req.db.execute(
            f"SELECT id FROM jobs WHERE parent_id = ? AND state IN {JOB_ACTIVE_STATES!r}", [job.id]
        ).fetchall()
    ]
    marks = ",".join("?" * len(ids))
    moved = req.db.execute(
        f"UPDATE jobs SET state = 'cancelled', worker = NULL, updated_at = ?, finished_at = ?"
        f" WHERE id IN ({marks}) AND state IN {JOB_ACTIVE_STATES!r}",
        [now, now, *ids],
    ).rowcount
    if not moved:
        return False
    metrics.count("jobs", moved, platform=job.platform or "unknown", outcome="cancelled")
    req.db.execute(f"UPDATE outbox SET state = 'dropped' WHERE job_id IN ({marks}) AND state = 'pending'", ids)
    sending = {
        r[0]
        for r in req.db.execute(
            f"SELECT DISTINCT job_id FROM outbox WHERE job_id IN ({marks}) AND state = 'sending' AND kind = 'media'",
            ids,
        ).fetchall()
    }
    for job_id in ids:
        if job_id not in sending:  # a file being uploaded is removed by the uploader when it stops
            spool.remove(spool.job_dir(req.settings, job_id), job_id)
    target = job_rows.status_target(req.db, job)
    if target is not None:
        req.notice(
            outbox.change_message(
                req.db, target, job.chat_id, req.t("cancelled"), None, priority=outbox.PRIORITY_ANSWER, job_id=job.id
            )
        )
    log.info("job %d cancelled by user %s (%d job(s))", job.id, uid(req.user.id), moved)
    return True


def cancel_pressed(req: Request, query: CallbackQuery, callback: Callback) -> None:
    job_id = callback.int_arg(0)
    job = job_rows.load(req.db, job_id, req.settings) if job_id is not None else None
    if job is None or job.user_id != req.user.id or not cancel_job(req, job):
        req.answer(query.id, req.t("button_expired"))
        return
    req.answer(query.id, req.t("cancelled"))


def cancel_all(req: Request, msg: IncomingMessage) -> None:
    mine = job_rows.load_where(
        req.db,
        req.settings,
        f"j.user_id = ? AND j.parent_id IS NULL AND j.state IN {JOB_ACTIVE_STATES!r}",
        [req.user.id],
    )
    count = sum(cancel_job(req, job) for job in mine)
    if count:
        req.reply(req.t("cancelled_jobs", count=digits(req.lang, count)))
    else:
        req.reply(req.t("nothing_to_cancel"))


# /cancel is routed by gateway.admin.queue: with a job number it is an admin's; alone, cancel_all.
CALLBACKS = {ACTION_CANCEL: cancel_pressed}
