"""What follows a file's send: the media cache, the job done, its status removed, its spool gone.

All of it is one transaction with the row marked sent, so a crash leaves either a file to send
again (it may arrive twice; nothing is lost) or a finished job, never half of one.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

import sqlite_utils

from core import jobs as job_rows
from core import metrics, outbox
from core.config import Settings
from core.db import write_tx
from core.jobs import Failure
from core.outbox import OutboxItem
from core.payloads import Delete, SendMedia
from core.telegram import SentMedia

log = logging.getLogger("uploader.media")


@dataclass
class AfterSend:
    notices: list[int] = field(default_factory=list)
    job_over: bool = False  # the job's last file is out (or the job ended): tell the gateway
    spool_dir: str = ""  # to remove now


def _remaining_files(db: sqlite_utils.Database, job_id: int, besides: int) -> int:
    return int(
        db.execute(
            "SELECT count(*) FROM outbox WHERE job_id = ? AND kind = 'media' AND id != ?"
            " AND state IN ('pending', 'sending')",
            [job_id, besides],
        ).fetchone()[0]
    )


def file_sent(
    db: sqlite_utils.Database,
    settings: Settings,
    item: OutboxItem,
    payload: SendMedia,
    sent: SentMedia,
    took_s: float = 0.0,
) -> AfterSend:
    """Record the send; `took_s` (the upload's time) is kept with the job for the overhead figures."""
    after = AfterSend()
    now = time.time()
    with write_tx(db):
        db.execute(
            "UPDATE outbox SET state = 'sent', sent_at = ?, message_id = ? WHERE id = ?",
            [now, sent.message_id, item.id],
        )
        if payload.media_key and payload.format_key and sent.file_id:
            db.execute(
                "INSERT INTO media_cache (media_key, format_key, part, parts, file_id, file_unique_id, kind, size,"
                " title, source_url, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
                " ON CONFLICT (media_key, format_key, part) DO UPDATE SET file_id = excluded.file_id,"
                " file_unique_id = excluded.file_unique_id, parts = excluded.parts,"
                " size = coalesce(excluded.size, size)",
                [
                    payload.media_key,
                    payload.format_key,
                    payload.part,
                    payload.parts,
                    sent.file_id,
                    sent.file_unique_id,
                    payload.kind,
                    sent.size or None,
                    payload.title,
                    payload.source_url,
                    now,
                ],
            )
        if item.job_id is None:  # a file of no job (an admin's chart): its folder goes once it is sent
            after.spool_dir = payload.spool_dir
            return after
        if _remaining_files(db, item.job_id, item.id):
            return after
        job = job_rows.load(db, item.job_id, settings)
        if job is None:
            return after
        after.job_over, after.spool_dir = True, payload.spool_dir
        if job.state == "cancelled":
            # The cancel came while the last bytes went out: take the file back, so none comes late.
            log.info("job %d: cancelled during its upload; deleting the sent file", job.id)
            after.notices.append(
                outbox.enqueue(db, job.chat_id, Delete(message_id=sent.message_id), priority=outbox.PRIORITY_ANSWER)
            )
            return after
        if job.state != "uploading":
            return after
        size = int(db.execute("SELECT coalesce(file_size, 0) FROM jobs WHERE id = ?", [job.id]).fetchone()[0])
        db.execute(
            "UPDATE jobs SET state = 'done', updated_at = ?, finished_at = ?,"
            " meta = json_set(coalesce(meta, '{}'), '$.upload_s', ?) WHERE id = ?",
            [now, now, round(took_s, 4), job.id],
        )
        db.execute(
            "UPDATE users SET downloads_ok = downloads_ok + 1, bytes_sent = bytes_sent + ? WHERE id = ?",
            [size or sent.size, job.user_id],
        )
        metrics.count("jobs", platform=job.platform or "unknown", outcome="done")
        if job.parent_id is not None:
            after.notices += job_rows.finish_playlist_if_complete(db, settings, job.parent_id)
        elif job.status_outbox_id is not None:
            removed = outbox.remove_message(db, job.status_outbox_id, job.chat_id, job_id=job.id)
            after.notices += [removed] if removed else []
    log.info("job %d done: %s %s", job.id, payload.media_key, payload.format_key)
    return after


def file_failed(
    db: sqlite_utils.Database, settings: Settings, item: OutboxItem, payload: SendMedia, failure: Failure
) -> AfterSend:
    """The file cannot be sent: the row fails and the job fails for good, with its message."""
    outbox.mark_failed(db, item.id, failure.reason)
    after = AfterSend(spool_dir=payload.spool_dir)
    if item.job_id is not None:
        final, after.notices = job_rows.fail(db, settings, item.job_id, failure)
        after.job_over = final
    return after


def file_id_refused(db: sqlite_utils.Database, settings: Settings, item: OutboxItem, payload: SendMedia) -> AfterSend:
    """Telegram no longer knows a cached file_id: forget it and download the media afresh."""
    after = AfterSend()
    with write_tx(db):
        db.execute(
            "DELETE FROM media_cache WHERE media_key = ? AND format_key = ?", [payload.media_key, payload.format_key]
        )
        db.execute("UPDATE outbox SET state = 'dropped', error = 'stale file_id' WHERE id = ?", [item.id])
        if item.job_id is not None:
            db.execute(
                "UPDATE outbox SET state = 'dropped' WHERE job_id = ? AND kind = 'media' AND state = 'pending'",
                [item.job_id],
            )
            moved = db.execute(
                "UPDATE jobs SET state = 'queued', worker = NULL, updated_at = ? WHERE id = ? AND state = 'uploading'",
                [time.time(), item.job_id],
            ).rowcount
            after.job_over = bool(moved)
    log.warning(
        "job %s: cached file_id of %s %s refused; downloading again", item.job_id, payload.media_key, payload.format_key
    )
    return after


def file_dropped(db: sqlite_utils.Database, item: OutboxItem, payload: SendMedia, why: str) -> AfterSend:
    outbox.mark_dropped(db, item.id, why)
    return AfterSend(spool_dir=payload.spool_dir)
