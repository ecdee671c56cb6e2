"""A format button pressed: the job goes on with that choice (from the cache when it can); the
subtitles button checks or unchecks the video's subtitles before the choice."""

from __future__ import annotations

import logging

from core import formats, jobstates, outbox
from core import jobs as job_rows
from core.callback_data import Callback
from core.jobstates import JobState
from core.logs import uid
from core.payloads import Edit
from core.status import ACTION_CHOOSE, cancel_keyboard
from core.telegram import CallbackQuery
from gateway import jobs
from gateway.context import Request
from gateway.offer import ACTION_SUBTITLES, cached_keys, choices_message, estimate, queued_text

log = logging.getLogger("gateway.choices")


def choose(req: Request, query: CallbackQuery, callback: Callback) -> None:
    job_id, index = callback.int_arg(0), callback.int_arg(1)
    job = job_rows.load(req.db, job_id, req.settings) if job_id is not None else None
    found = jobs.known_probe(req.db, job) if job is not None and job.state == JobState.CHOOSING else None
    if job is None or job.user_id != req.user.id or found is None or index is None:
        log.info("user %s pressed a stale choice for job %s", uid(req.user.id), job_id)
        req.answer(query.id, req.t("button_expired"))
        return
    probe = found[1]
    if not 0 <= index < len(probe.choices):
        req.answer(query.id, req.t("button_expired"))
        return
    key = probe.choices[index].key
    request = formats.audio_key(job.audio_format) if key == "audio" else key
    if not jobstates.chosen(req.db, job.id, request):
        req.answer(query.id, req.t("button_expired"))
        return
    log.info("job %d: user %s chose %s", job.id, uid(req.user.id), request)
    fresh = job_rows.load(req.db, job.id, req.settings)
    assert fresh is not None
    req.notices += jobs.advance(req.db, req.settings, req.codec, fresh)
    after = job_rows.load(req.db, job.id, req.settings)
    position = jobs.queue_position(req.db, after) if after is not None and after.state == JobState.QUEUED else 0
    slots = req.settings.workers * max(1, req.settings.download_slots_per_worker - 1)
    # The answer's toast says it is on its way (it costs no message); the status is edited only
    # when the job must wait its turn, so a quick job spends no send on it.
    req.answer(query.id, req.t("phase_downloading"))
    if after is not None and position > 1 and after.status_outbox_id is not None:
        body = queued_text(req.lang, position, estimate(req.db, position, slots))
        req.notice(
            outbox.change_message(
                req.db,
                after.status_outbox_id,
                after.chat_id,
                body,
                cancel_keyboard(req.lang, req.codec, job.id),
                priority=outbox.PRIORITY_ANSWER,
                job_id=job.id,
            )
        )


def subtitles(req: Request, query: CallbackQuery, callback: Callback) -> None:
    job_id = callback.int_arg(0)
    job = job_rows.load(req.db, job_id, req.settings) if job_id is not None else None
    found = jobs.known_probe(req.db, job) if job is not None and job.state == JobState.CHOOSING else None
    if job is None or job.user_id != req.user.id or found is None or not found[1].subtitles:
        req.answer(query.id, req.t("button_expired"))
        return
    wanted = not jobs.wants_subtitles(job)
    req.db.execute(
        "UPDATE jobs SET meta = json_set(coalesce(meta, '{}'), '$.subtitles', json(?)) WHERE id = ?",
        ["true" if wanted else "false", job.id],
    )
    log.info("job %d: user %s %s the subtitles", job.id, uid(req.user.id), "wants" if wanted else "drops")
    media_key, probe = found
    body, keyboard = choices_message(
        req.lang, req.codec, job.id, probe, job.audio_format, cached_keys(req.db, media_key), wanted
    )
    req.send(Edit(text=body, keyboard=keyboard, message_id=query.message_id))
    req.answer(query.id)


CALLBACKS = {ACTION_CHOOSE: choose, ACTION_SUBTITLES: subtitles}
