"""A job's row as the code reads it, and the moves that say something to the user: a failed try
(retried, or the end with its one message) and a playlist whose last entry is over.

The gateway is the one writer of jobs (the moves themselves are `core.jobstates`); these run in
the gateway, each one transaction, so that a kill -9 between transactions loses nothing.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import time
from dataclasses import dataclass
from typing import Any

import sqlite_utils

from core import inline, jobstates, metrics, outbox
from core.backoff import Backoff, retry_delay
from core.callback_data import codec_for
from core.config import Settings
from core.db import write_tx
from core.failures import ErrorClass, Failure, error_text
from core.jobstates import FINAL, ON_A_DOWNLOADER, JobState
from core.payloads import Text
from core.status import cancel_keyboard, shown_title
from core.texts import digits, text

log = logging.getLogger("jobs")

ERROR_CHARS = 500  # a raw reason kept on the row is cut to this


@dataclass(frozen=True)
class Job:
    id: int
    user_id: int
    chat_id: int
    request_message_id: int | None
    parent_id: int | None
    item_index: int | None
    url: str
    request_key: str
    media_key: str | None
    platform: str | None
    format_key: str | None
    state: str
    attempts: int
    lease: int
    title: str | None
    status_outbox_id: int | None
    meta: dict[str, Any]
    lang: str
    audio_format: str
    album_format: str = "ask"  # the user's saved answer for a mixed image post (core.albums)
    subtitles: bool = False  # the user wants subtitles with every video

    @property
    def is_playlist(self) -> bool:
        return bool(self.meta.get("playlist"))


_COLUMNS = (
    "j.id, j.user_id, j.chat_id, j.request_message_id, j.parent_id, j.item_index, j.url, j.request_key,"
    " j.media_key, j.platform, j.format_key, j.state, j.attempts, j.lease, j.title, j.status_outbox_id, j.meta,"
    " u.language, u.audio_format, u.album_format, u.subtitles"
)


def load(db: sqlite_utils.Database, job_id: int, settings: Settings) -> Job | None:
    row = db.execute(
        f"SELECT {_COLUMNS} FROM jobs j JOIN users u ON u.id = j.user_id WHERE j.id = ?", [job_id]
    ).fetchone()
    return None if row is None else _job(row, settings)


def load_where(db: sqlite_utils.Database, settings: Settings, where: str, params: list[Any]) -> list[Job]:
    rows = db.execute(f"SELECT {_COLUMNS} FROM jobs j JOIN users u ON u.id = j.user_id WHERE {where}", params)
    return [_job(r, settings) for r in rows.fetchall()]


_ROW_FIELDS = [f.name for f in dataclasses.fields(Job)][:16]


def _job(r: tuple[Any, ...], settings: Settings) -> Job:
    plain: dict[str, Any] = dict(zip(_ROW_FIELDS, r[:16], strict=True))
    return Job(
        **plain,
        meta=json.loads(r[16]) if r[16] else {},
        lang=r[17] or settings.default_language,
        audio_format=r[18] or settings.audio_format,
        album_format=r[19] or "ask",
        subtitles=bool(r[20]),
    )


def status_target(db: sqlite_utils.Database, job: Job) -> int | None:
    """The outbox row of the message that shows this job: its own, or its playlist's."""
    if job.status_outbox_id is not None or job.parent_id is None:
        return job.status_outbox_id
    row = db.execute("SELECT status_outbox_id FROM jobs WHERE id = ?", [job.parent_id]).fetchone()
    return row[0] if row else None


def fail(
    db: sqlite_utils.Database,
    settings: Settings,
    job_id: int,
    failure: Failure,
    *,
    lease: int | None = None,
    final: bool = False,
    keyboard_for_retry: outbox.Keyboard | None = None,
) -> tuple[bool, list[int]]:
    """Record a failed try: retried later (a downloader's try of a transient class, attempts
    left, not `final`) or failed for good with one clear message. Returns (failed for good,
    outbox rows to announce); nothing happens when the job is no longer active or `lease` is
    stale."""
    notices: list[int] = []
    with write_tx(db):
        job = load(db, job_id, settings)
        if job is None or job.state in FINAL or (lease is not None and job.lease != lease):
            log.info("job %d: ignoring a failure for a job that moved on (%s)", job_id, failure.cls)
            return False, []
        now = time.time()
        target = status_target(db, job)
        reason = failure.reason[:ERROR_CHARS]
        delay = None
        if not final and lease is not None and job.state in ON_A_DOWNLOADER:
            delay = retry_delay(failure, job.attempts, settings.job_attempts, Backoff.for_jobs(settings))
        if delay is not None and lease is not None:
            if not jobstates.retry(
                db, job.id, lease, not_before=now + delay, error_class=failure.cls.value, error=reason
            ):
                return False, []
            log.warning(
                "job %d: attempt %d failed (%s: %s); retry in %.1f s",
                job.id,
                job.attempts,
                failure.cls,
                failure.reason,
                delay,
            )
            if target is not None and job.parent_id is None:
                retrying = text(
                    job.lang,
                    "phase_retrying",
                    attempt=digits(job.lang, job.attempts + 1),
                    attempts=digits(job.lang, settings.job_attempts),
                )
                notice = outbox.change_message(
                    db,
                    target,
                    job.chat_id,
                    retrying,
                    keyboard_for_retry,
                    priority=outbox.PRIORITY_PROGRESS,
                    role=outbox.ROLE_PROGRESS,
                    job_id=job.id,
                )
                notices += [notice] if notice else []
            return False, notices
        if not jobstates.fail(db, job.id, error_class=failure.cls.value, error=reason, lease=lease):
            return False, []
        db.execute("UPDATE users SET downloads_failed = downloads_failed + 1 WHERE id = ?", [job.user_id])
        metrics.count("jobs", platform=job.platform or "unknown", outcome="failed")
        db.execute(
            "UPDATE outbox SET state = 'dropped' WHERE job_id = ? AND state = 'pending' AND kind = 'media'", [job.id]
        )
        log.warning("job %d failed for good (%s): %s", job.id, failure.cls, failure.reason)
        if job.parent_id is not None:
            notices += finish_playlist_if_complete(db, settings, job.parent_id)
        elif inline.message_of(job) and target is None:  # its status is the inline message
            notices.append(inline.show(db, job, error_text(job.lang, failure)))
        else:
            notices.append(_answer_failure(db, job, target, error_text(job.lang, failure)))
    return True, notices


def _answer_failure(db: sqlite_utils.Database, job: Job, target: int | None, body: str) -> int:
    """The failure in the job's status message; or, when it never showed and never will (a quick
    job's quiet status dropped when its file was ready, a cache hit's none), in a reply of its own."""
    if target is not None:
        notice = outbox.change_message(
            db, target, job.chat_id, body, None, priority=outbox.PRIORITY_ANSWER, job_id=job.id
        )
        if notice is not None:
            return notice
    item = outbox.enqueue(
        db,
        job.chat_id,
        Text(text=body, reply_to=job.request_message_id),
        priority=outbox.PRIORITY_ANSWER,
        role=outbox.ROLE_STATUS,
        job_id=job.id,
    )
    db.execute("UPDATE jobs SET status_outbox_id = ? WHERE id = ?", [item, job.id])
    return item


def finish_playlist_if_complete(db: sqlite_utils.Database, settings: Settings, parent_id: int) -> list[int]:
    """When the last entry of a playlist is over, the playlist is over: its status shrinks to a
    line. Call inside the transaction that ended an entry."""
    counts = dict(
        db.execute("SELECT state, count(*) FROM jobs WHERE parent_id = ? GROUP BY state", [parent_id]).fetchall()
    )
    total = sum(counts.values())
    active = sum(n for state, n in counts.items() if state not in FINAL)
    parent = load(db, parent_id, settings)
    if parent is None or parent.state in FINAL or (active and parent.status_outbox_id is None):
        return []
    sent = counts.get(JobState.DONE, 0)
    title = shown_title(parent.title)
    if active:
        assert parent.status_outbox_id is not None
        line = text(
            parent.lang,
            "playlist_progress",
            title=title,
            done=digits(parent.lang, total - active),
            total=digits(parent.lang, total),
        )
        keyboard = cancel_keyboard(parent.lang, codec_for(settings.data_dir), parent.id)
        notice = outbox.change_message(
            db,
            parent.status_outbox_id,
            parent.chat_id,
            line,
            keyboard,
            priority=outbox.PRIORITY_PROGRESS,
            role=outbox.ROLE_PROGRESS,
            job_id=parent.id,
        )
        return [notice] if notice else []
    if sent:
        over = jobstates.delivered(db, parent_id)
    else:
        over = jobstates.fail(db, parent_id, error_class=ErrorClass.NOT_FOUND.value, error="no entry was sent")
    if not over:
        return []
    log.info("playlist job %d over: %d of %d sent", parent_id, sent, total)
    if parent.status_outbox_id is None:  # nothing to show it in (the playlist is over all the same)
        return []
    line = text(
        parent.lang, "playlist_done", title=title, sent=digits(parent.lang, sent), total=digits(parent.lang, total)
    )
    notice = outbox.change_message(
        db, parent.status_outbox_id, parent.chat_id, line, None, priority=outbox.PRIORITY_ANSWER, job_id=parent.id
    )
    return [notice] if notice else []
