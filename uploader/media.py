"""What follows a file's send, on the uploader's own rows: the outbox row's outcome, the media
cache, and what the gateway must hear (the job done, failed, or to be downloaded again).

The uploader writes no job: each outcome is one transaction on its rows, then an event to the
gateway (`AfterSend.event`), which moves the job. An event lost at a kill is found again by the
gateway's sweep in these same rows, so a crash leaves either a file to send again (it may arrive
twice; nothing is lost) or a finished outcome, never half of one.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

import sqlite_utils

from core import alerts, outbox
from core.config import Settings
from core.db import write_tx
from core.failures import ErrorClass, Failure
from core.jobstates import JobState
from core.logs import uid
from core.outbox import OutboxItem
from core.payloads import Delete, SendMedia
from core.telegram import SentMedia
from ipc.messages import DeliveryFailed, FileMissing, JobDelivered, UploadEvent

log = logging.getLogger("uploader.media")

QUARANTINE_AFTER = 2  # a row on its way to Telegram at this many uploader deaths is not sent again


@dataclass
class AfterSend:
    notices: list[int] = field(default_factory=list)
    event: UploadEvent | None = None  # for the gateway: the job's files are all over
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
    item: OutboxItem,
    payload: SendMedia,
    sent: SentMedia,
    took_s: float = 0.0,
    album: list[SentMedia] | None = None,
) -> AfterSend:
    """Record the send and its file_id (an album's: each of its items', `album`, `sent` its
    first); after the job's last file, the gateway hears it is done (`took_s`, the upload's time,
    goes with it for the overhead figures)."""
    after = AfterSend()
    now = time.time()
    with write_tx(db):
        db.execute(
            "UPDATE outbox SET state = 'sent', sent_at = ?, message_id = ? WHERE id = ?",
            [now, sent.message_id, item.id],
        )
        if payload.album:  # an album: each item's file_id under its own part
            for album_item, item_sent in zip(payload.album, album or [], strict=True):
                _cache(db, payload, album_item.part, album_item.kind, item_sent, now)
        else:
            _cache(db, payload, payload.part, payload.kind, sent, now)
        if item.job_id is None:  # a file of no job (an admin's chart): its folder goes once it is sent
            after.spool_dir = payload.spool_dir
            return after
        if _remaining_files(db, item.job_id, item.id):
            return after
        after.spool_dir = payload.spool_dir
        row = db.execute("SELECT state FROM jobs WHERE id = ?", [item.job_id]).fetchone()
        if row is not None and row[0] == JobState.CANCELLED:
            # The cancel came while the last bytes went out: take the file back, so none comes late.
            log.info("job %d: cancelled during its upload; deleting the sent file", item.job_id)
            after.notices += [
                outbox.enqueue(db, item.chat_id, Delete(message_id=m.message_id), priority=outbox.PRIORITY_ANSWER)
                for m in album or [sent]
            ]
            return after
    after.event = JobDelivered(job_id=item.job_id, upload_s=took_s)
    log.info("job %d: its files are sent (%s %s)", item.job_id, payload.media_key, payload.format_key)
    return after


def _cache(db: sqlite_utils.Database, payload: SendMedia, part: int, kind: str, sent: SentMedia, now: float) -> None:
    if not (payload.media_key and payload.format_key and sent.file_id):
        return
    db.execute(
        "INSERT INTO media_cache (media_key, format_key, part, parts, file_id, file_unique_id, kind, size,"
        " title, source_url, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
        " ON CONFLICT (media_key, format_key, part) DO UPDATE SET file_id = excluded.file_id,"
        " file_unique_id = excluded.file_unique_id, parts = excluded.parts,"
        " size = coalesce(excluded.size, size)",
        [
            payload.media_key,
            payload.format_key,
            part,
            payload.parts,
            sent.file_id,
            sent.file_unique_id,
            kind,
            sent.size or None,
            payload.title,
            payload.source_url,
            now,
        ],
    )


def file_failed(db: sqlite_utils.Database, item: OutboxItem, payload: SendMedia, failure: Failure) -> AfterSend:
    """The file cannot be sent: its row fails (with the class, for the gateway's sweep), the job's
    other files are dropped, and the gateway fails the job, in one transaction."""
    with write_tx(db):
        db.execute(
            "UPDATE outbox SET state = 'failed', sent_at = ?, error = ?, error_class = ? WHERE id = ?",
            [time.time(), failure.reason[: outbox.ERROR_CHARS], failure.cls.value, item.id],
        )
        _drop_other_files(db, item, f"the job's file {item.id} failed")
    log.warning("job %s: outbox %d cannot be sent (%s): %s", item.job_id, item.id, failure.cls, failure.reason)
    after = AfterSend(spool_dir=payload.spool_dir)
    if item.job_id is not None:
        after.event = DeliveryFailed(job_id=item.job_id, failure=failure)
    return after


def file_missing(db: sqlite_utils.Database, item: OutboxItem, payload: SendMedia, why: str) -> AfterSend:
    """The file is gone from the spool (or unreadable): the job is downloaded again, within its
    attempts (the gateway decides)."""
    with write_tx(db):
        outbox.mark_dropped(db, item.id, f"file missing: {why}")
        _drop_other_files(db, item, "the job's file is missing")
    log.warning("job %s: outbox %d: the file to send is missing (%s); downloading it again", item.job_id, item.id, why)
    after = AfterSend(spool_dir=payload.spool_dir)
    if item.job_id is not None:
        after.event = FileMissing(job_id=item.job_id, reason=why)
    return after


def file_id_refused(db: sqlite_utils.Database, item: OutboxItem, payload: SendMedia) -> AfterSend:
    """Telegram no longer knows a cached file_id: forget it and download the media afresh."""
    with write_tx(db):
        db.execute(
            "DELETE FROM media_cache WHERE media_key = ? AND format_key = ?", [payload.media_key, payload.format_key]
        )
        db.execute("UPDATE outbox SET state = 'dropped', error = 'stale file_id' WHERE id = ?", [item.id])
        _drop_other_files(db, item, "stale file_id")
    log.warning(
        "job %s: cached file_id of %s %s refused; downloading again", item.job_id, payload.media_key, payload.format_key
    )
    after = AfterSend()
    if item.job_id is not None:
        after.event = FileMissing(job_id=item.job_id, reason="Telegram no longer knows the cached file_id")
    return after


def file_dropped(db: sqlite_utils.Database, item: OutboxItem, payload: SendMedia, why: str) -> AfterSend:
    outbox.mark_dropped(db, item.id, why)
    return AfterSend(spool_dir=payload.spool_dir)


def _drop_other_files(db: sqlite_utils.Database, item: OutboxItem, why: str) -> None:
    if item.job_id is not None:
        db.execute(
            "UPDATE outbox SET state = 'dropped', error = ? WHERE job_id = ? AND kind = 'media' AND state = 'pending'",
            [why, item.job_id],
        )


def requeue_interrupted(db: sqlite_utils.Database, settings: Settings) -> tuple[int, list[DeliveryFailed]]:
    """At the uploader's start: rows left 'sending' by its death go back to pending. A row whose
    send had begun (`outbox.mark_started`: it may have reached Telegram) counts the death; one
    that was only claimed, waiting for the send budget, does not. A row that counted
    QUARANTINE_AFTER deaths fails instead (logged; the admins are told), never sent again, and
    its job fails. Returns (rows requeued, events for the gateway)."""
    events: list[DeliveryFailed] = []
    with write_tx(db):
        begun = db.execute(
            "UPDATE outbox SET interrupted = interrupted + 1 WHERE state = 'sending' AND started_at IS NOT NULL"
        ).rowcount
        doomed = db.execute(
            "SELECT id, job_id, kind, chat_id FROM outbox WHERE state = 'sending' AND started_at IS NOT NULL"
            " AND interrupted >= ?",
            [QUARANTINE_AFTER],
        ).fetchall()
        reason = f"in flight at {QUARANTINE_AFTER} deaths of the uploader: quarantined"
        for row_id, job_id, kind, chat_id in doomed:
            db.execute(
                "UPDATE outbox SET state = 'failed', sent_at = ?, error = ?, error_class = ? WHERE id = ?",
                [time.time(), reason, ErrorClass.INTERNAL.value, row_id],
            )
            log.error("outbox %d (%s to chat %s, job %s) quarantined: %s", row_id, kind, uid(chat_id), job_id, reason)
            if job_id is not None and kind == "media":
                db.execute(
                    "UPDATE outbox SET state = 'dropped', error = ? WHERE job_id = ? AND kind = 'media'"
                    " AND state = 'pending'",
                    ["a file of the job was quarantined", job_id],
                )
                events.append(DeliveryFailed(job_id=job_id, failure=Failure(ErrorClass.INTERNAL, reason)))
        if doomed:
            shown = ", ".join(str(r[0]) for r in doomed)
            values = {"count": len(doomed), "rows": shown}
            alerts.alert(db, settings, f"outbox_quarantine:{shown}", "alert_outbox_quarantine", values, lasting=False)
        requeued = db.execute("UPDATE outbox SET state = 'pending' WHERE state = 'sending'").rowcount
    if requeued:
        log.info(
            "requeued %d outbox rows left by the last stop (%d of them on their way to Telegram: may arrive twice)",
            requeued,
            begun - len(doomed),
        )
    return requeued, events
