"""Cancel: the button on a job's status, and /cancel for all of the user's jobs.

The row says cancelled at once; the gateway tells the downloader holding the job (it stops and
removes its files within a fraction of a second), and the uploader sees it as soon. No file
comes later.
"""

from __future__ import annotations

import logging
from pathlib import Path

from core import jobs as job_rows
from core import jobstates, metrics, outbox, spool
from core.callback_data import Callback
from core.jobs import Job
from core.jobstates import ACTIVE, sql_in
from core.logs import uid
from core.status import ACTION_CANCEL
from core.telegram import CallbackQuery, IncomingMessage
from core.texts import digits
from gateway.context import Request

log = logging.getLogger("gateway.cancel")


def cancel_job(req: Request, job: Job) -> bool:
    """Cancel a job (and a playlist's entries); False if it was over already."""
    ids = [job.id] + [
        r[0]
        for r in req.db.execute(
            f"SELECT id FROM jobs WHERE parent_id = ? AND state IN {sql_in(*ACTIVE)}", [job.id]
        ).fetchall()
    ]
    moved = jobstates.cancel(req.db, ids)
    if not moved:
        return False
    metrics.count("jobs", moved, platform=job.platform or "unknown", outcome="cancelled")
    marks = ",".join("?" * len(ids))
    # Files handed to the uploader and not yet on their way go now; one being uploaded is removed
    # by the uploader when it stops, and a downloader's own by the downloader (the gateway tells it).
    handed = req.db.execute(
        f"SELECT job_id, json_extract(payload, '$.spool_dir') FROM outbox WHERE job_id IN ({marks})"
        " AND state = 'pending' AND kind = 'media'",
        ids,
    ).fetchall()
    sending = {
        r[0]
        for r in req.db.execute(
            f"SELECT DISTINCT job_id FROM outbox WHERE job_id IN ({marks}) AND state = 'sending' AND kind = 'media'",
            ids,
        ).fetchall()
    }
    req.db.execute(f"UPDATE outbox SET state = 'dropped' WHERE job_id IN ({marks}) AND state = 'pending'", ids)
    for job_id, folder in handed:
        if folder and job_id not in sending:
            spool.remove(Path(folder), job_id)
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
        f"j.user_id = ? AND j.parent_id IS NULL AND j.state IN {sql_in(*ACTIVE)}",
        [req.user.id],
    )
    count = sum(cancel_job(req, job) for job in mine)
    if count:
        req.reply(req.t("cancelled_jobs", count=digits(req.lang, count)))
    else:
        req.reply(req.t("nothing_to_cancel"))


# /cancel is routed by gateway.admin.queue: with a job number it is an admin's; alone, cancel_all.
CALLBACKS = {ACTION_CANCEL: cancel_pressed}
