"""A downloader's results, applied by the gateway (the one writer of jobs): its files handed to
the uploader, a plain file claimed as the download, a job handed back.

Each is one transaction through `core.jobstates`, guarded by the job's state and the lease the
downloader holds: a result from a worker the job was taken from (a stale lease) or of a job that
was cancelled is refused, and the downloader removes its files. A report sent twice (the first
answer was lost) gets the same answer twice and changes nothing the second time.
"""

from __future__ import annotations

import json
import logging

import sqlite_utils

from core import albums, jobstates, outbox
from core.config import Settings
from core.db import write_tx
from core.jobs import load, status_target
from core.jobstates import JobState
from core.payloads import AlbumItem, SendMedia
from core.start_time import start_of
from gateway import albums as album_sends
from ipc.messages import JobClaim, JobDownloaded, JobHandBack

log = logging.getLogger("gateway.results")


def downloaded(db: sqlite_utils.Database, settings: Settings, report: JobDownloaded) -> tuple[bool, list[int]]:
    """The job moves to uploading with its files' outbox rows, in one transaction. Returns
    (accepted, outbox rows to announce)."""
    with write_tx(db):
        job = load(db, report.job_id, settings)
        if job is None:
            return False, []
        file_path = db.execute("SELECT file_path FROM jobs WHERE id = ?", [job.id]).fetchone()[0]
        if job.lease == report.lease and file_path is not None and job.state != JobState.DOWNLOADING:
            return True, []  # this very report was applied already: its answer was lost
        if job.state != JobState.DOWNLOADING or job.lease != report.lease or not report.files:
            log.info(
                "job %d: download of lease %d finished, but the job moved on (%s, lease %d); refused",
                job.id,
                report.lease,
                job.state,
                job.lease,
            )
            return False, []
        # A playlist's entry keeps the title the playlist gave it (a feed item's, not the file's name).
        title = job.title if job.parent_id is not None and job.title else report.title
        size = sum(f.size for f in report.files)
        first = report.files[0]
        meta = {**job.meta, "duration": first.duration, "width": first.width, "height": first.height}
        meta["parts"] = len(report.files)
        meta["download_s"] = round(report.took_s, 4)
        moved = jobstates.downloaded(
            db,
            job.id,
            report.lease,
            media_key=report.media_key,
            format_key=report.format_key,
            media_kind=first.kind,
            title=title,
            file_path=first.path,
            file_size=size,
            meta=json.dumps(meta),
            downloaded_bytes=size,
        )
        if not moved:
            return False, []
        target = status_target(db, job)
        if target is not None:
            outbox.drop_progress(db, target)
        notices = [
            outbox.enqueue(
                db, job.chat_id, payload, priority=outbox.PRIORITY_FILE, role=outbox.ROLE_FILE, job_id=job.id
            )
            for payload in _sends(job.url, job.request_message_id, title, report)
        ]
    log.info(
        "job %d downloaded by %s: %s %s, %d file(s), %d bytes",
        job.id,
        report.worker,
        report.media_key,
        report.format_key,
        len(report.files),
        size,
    )
    return True, notices


def _sends(url: str, reply_to: int | None, title: str, report: JobDownloaded) -> list[SendMedia]:
    """The outbox payloads of a download: an image post's albums, or one send per file."""
    if albums.is_key(report.format_key):
        items = [
            AlbumItem(
                kind=f.kind,
                part=f.part,
                path=f.path,
                thumbnail=f.thumbnail,
                duration=f.duration,
                width=f.width,
                height=f.height,
            )
            for f in report.files
        ]
        return album_sends.sends(
            items,
            title=title,
            reply_to=reply_to,
            media_key=report.media_key,
            format_key=report.format_key,
            source_url=url,
            spool_dir=report.folder,
        )
    start = start_of(url)
    return [
        SendMedia(
            kind=f.kind,
            path=f.path,
            thumbnail=f.thumbnail,
            duration=f.duration,
            width=f.width,
            height=f.height,
            title=title,
            performer=report.performer if f.kind == "audio" else "",
            reply_to=reply_to,
            media_key=report.media_key if f.part else "",  # part 0 (subtitles) is not cached
            format_key=report.format_key if f.part else "",
            part=f.part,
            parts=f.parts,
            source_url=url,
            spool_dir=report.folder,
            start=start if f.kind == "video" and f.parts == 1 and start < f.duration else 0,
        )
        for f in report.files
    ]


def claim(db: sqlite_utils.Database, report: JobClaim, fits: bool) -> bool:
    """A probe found a plain file: it becomes the job's download, if its lease holds and it fits
    the spool now (if not, the probe's findings come and the download waits its turn)."""
    with write_tx(db):
        row = db.execute("SELECT state, lease, format_key FROM jobs WHERE id = ?", [report.job_id]).fetchone()
        if row is not None and row[0] == JobState.DOWNLOADING and row[1] == report.lease and row[2] == "file":
            return True  # claimed already: the answer was lost
        if not fits:
            log.info("job %d: no room in the spool for its file now; it waits for its turn", report.job_id)
            return False
        claimed = jobstates.claim_file(db, report.job_id, report.lease)
    if claimed:
        log.info("job %d: a plain file; %s fetches it now", report.job_id, report.worker)
    return claimed


def hand_back(db: sqlite_utils.Database, report: JobHandBack) -> bool:
    """A draining worker gives the job back untried."""
    with write_tx(db):
        moved = jobstates.hand_back(db, report.job_id, report.lease)
    if moved:
        log.info("job %d handed back by %s (lease %d)", report.job_id, report.worker, report.lease)
    return moved
