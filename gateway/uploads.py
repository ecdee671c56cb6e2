"""What the uploader's outcomes do to a job, applied by the gateway: done, failed, or downloaded
again; and the sweep that finds the same outcomes when the uploader's report was lost.

The uploader writes only its own rows (the outbox, the media cache) and pushes an event; a PUSH
can be lost at a kill, so every outcome can also be read from the job's outbox rows, and the
sweep ends any job left `uploading` with nothing working on it: all its files sent, done; one
failed, failed with that row's class; the rest dropped (a file missing, a file_id Telegram
forgot), downloaded again within its attempts. Each move is guarded, so the event and the sweep
never both end a job: the user gets exactly one answer.
"""

from __future__ import annotations

import logging

import sqlite_utils

from core import inline, jobstates, metrics, outbox
from core import jobs as job_rows
from core.config import Settings
from core.db import write_tx
from core.failures import ErrorClass, Failure, with_values
from core.jobstates import FINAL, JobState, sql_in, sql_is

log = logging.getLogger("gateway.uploads")

_WORKING = "('pending', 'sending')"  # outbox rows the uploader has yet to finish


def delivered(db: sqlite_utils.Database, settings: Settings, job_id: int, upload_s: float = 0.0) -> list[int]:
    """The job's last file is out: the job is done, its status removed (or its playlist told)."""
    notices: list[int] = []
    with write_tx(db):
        job = job_rows.load(db, job_id, settings)
        if job is None or job.state != JobState.UPLOADING or _files_left(db, job_id):
            return []
        if not jobstates.delivered(db, job_id, upload_s=round(upload_s, 4)):
            return []
        size = db.execute(
            "SELECT coalesce(j.file_size, (SELECT sum(c.size) FROM media_cache c WHERE c.media_key = j.media_key"
            " AND c.format_key = j.format_key), 0) FROM jobs j WHERE j.id = ?",
            [job_id],
        ).fetchone()[0]
        db.execute(
            "UPDATE users SET downloads_ok = downloads_ok + 1, bytes_sent = bytes_sent + ? WHERE id = ?",
            [int(size or 0), job.user_id],
        )
        metrics.count("jobs", platform=job.platform or "unknown", outcome="done")
        if job.parent_id is not None:
            notices += job_rows.finish_playlist_if_complete(db, settings, job.parent_id)
        elif job.status_outbox_id is not None:
            removed = outbox.remove_message(db, job.status_outbox_id, job.chat_id, job_id=job.id)
            notices += [removed] if removed else []
        if inline.message_of(job):
            notices += inline.deliver(db, job)
    log.info("job %d done", job_id)
    return notices


def failed(db: sqlite_utils.Database, settings: Settings, job_id: int, failure: Failure) -> list[int]:
    """A file of the job cannot be sent: the job fails for good, with its one message."""
    job = job_rows.load(db, job_id, settings)
    if job is None or job.state != JobState.UPLOADING:
        return []
    return job_rows.fail(db, settings, job_id, failure, final=True)[1]


def missing(db: sqlite_utils.Database, settings: Settings, job_id: int, reason: str) -> list[int]:
    """The job's file is gone: downloaded again while it has attempts left, else failed."""
    with write_tx(db):
        job = job_rows.load(db, job_id, settings)
        if job is None or job.state != JobState.UPLOADING or _files_left(db, job_id):
            return []
        if job.attempts < settings.job_attempts:
            if jobstates.redownload(db, job_id, reason[: job_rows.ERROR_CHARS]):
                log.warning("job %d: its file is lost (%s); downloading it again", job_id, reason)
            return []
        failure = Failure(ErrorClass.INTERNAL, f"the file was lost after {job.attempts} attempt(s): {reason}")
        return job_rows.fail(db, settings, job_id, failure, final=True)[1]


def _files_left(db: sqlite_utils.Database, job_id: int) -> int:
    return int(
        db.execute(
            f"SELECT count(*) FROM outbox WHERE job_id = ? AND kind = 'media' AND state IN {_WORKING}", [job_id]
        ).fetchone()[0]
    )


# ---- the sweep ------------------------------------------------------------------------------------

# Each uploading job that is no playlist, with its file rows counted by outcome.
_UPLOADING = f"""
SELECT j.id, count(o.id), total(o.state = 'sent'), total(o.state IN {_WORKING}),
       (SELECT f.error_class FROM outbox f WHERE f.job_id = j.id AND f.kind = 'media' AND f.state = 'failed'
        ORDER BY f.id LIMIT 1),
       total(o.state = 'failed')
FROM jobs j LEFT JOIN outbox o ON o.job_id = j.id AND o.kind = 'media'
WHERE j.state = {sql_is(JobState.UPLOADING)} AND json_extract(coalesce(j.meta, '{{}}'), '$.playlist') IS NULL
GROUP BY j.id
"""
# Playlists whose entries are all over.
_PLAYLISTS = f"""
SELECT p.id FROM jobs p
WHERE p.state = {sql_is(JobState.UPLOADING)} AND json_extract(coalesce(p.meta, '{{}}'), '$.playlist') IS NOT NULL
  AND NOT EXISTS (SELECT 1 FROM jobs c WHERE c.parent_id = p.id AND c.state NOT IN {sql_in(*FINAL)})
"""


def sweep(db: sqlite_utils.Database, settings: Settings) -> list[int]:
    """End every uploading job whose files are all over, as its lost event would have."""
    notices: list[int] = []
    for job_id, rows, sent, working, error_class, failures in db.execute(_UPLOADING).fetchall():
        if working:
            continue
        if rows and sent == rows:
            log.warning("job %d: all its files are sent but the job was not done; ending it now", job_id)
            notices += delivered(db, settings, job_id)
        elif failures:
            cls = ErrorClass(error_class) if error_class in ErrorClass.__members__.values() else ErrorClass.INTERNAL
            log.warning("job %d: a file failed but the job did not; failing it now (%s)", job_id, cls)
            failure = with_values(Failure(cls, "a file of the job failed (found by the sweep)"), settings)
            notices += failed(db, settings, job_id, failure)
        else:
            log.warning("job %d: its files were dropped but the job goes on; downloading it again", job_id)
            notices += missing(db, settings, job_id, "its files were dropped (found by the sweep)")
    for (parent_id,) in db.execute(_PLAYLISTS).fetchall():
        with write_tx(db):
            notices += job_rows.finish_playlist_if_complete(db, settings, parent_id)
    return notices
