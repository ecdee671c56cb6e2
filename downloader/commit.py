"""A finished download becomes durable: the job moves to uploading and its files' outbox rows
are written, in one transaction guarded by the job's lease. Without this commit the files are
not ours to hand over (the job was cancelled or given to another worker) and are removed."""

from __future__ import annotations

import json
import logging
import time

import sqlite_utils

from core import outbox
from core.config import Settings
from core.db import write_tx
from core.jobs import load, status_target
from core.payloads import SendMedia
from downloader.engine import DownloadResult

log = logging.getLogger("downloader.commit")


def commit_download(
    db: sqlite_utils.Database,
    settings: Settings,
    job_id: int,
    lease: int,
    result: DownloadResult,
    folder: str,
    took_s: float,
) -> list[int] | None:
    """Hand the files to the uploader; None when the job is no longer this worker's. `took_s`
    (yt-dlp and ffmpeg's time) is kept with the job, for the figures of the bot's own overhead."""
    with write_tx(db):
        job = load(db, job_id, settings)
        if job is None or job.state != "downloading" or job.lease != lease:
            log.info("job %d: download finished, but the job moved on (%s); discarding it", job_id, job and job.state)
            return None
        now = time.time()
        # A playlist's entry keeps the title the playlist gave it (a feed item's, not the file's name).
        title = job.title if job.parent_id is not None and job.title else result.title
        size = sum(f.size for f in result.files)
        first = result.files[0]
        meta = {**job.meta, "duration": first.duration, "width": first.width, "height": first.height}
        meta["parts"] = len(result.files)
        meta["download_s"] = round(took_s, 4)
        db.execute(
            "UPDATE jobs SET state = 'uploading', media_key = ?, format_key = ?, media_kind = ?, title = ?,"
            " file_path = ?, file_size = ?, meta = ?, downloaded_bytes = ?, updated_at = ? WHERE id = ?",
            [
                result.media_key,
                result.format_key,
                first.kind,
                title,
                str(first.path),
                size,
                json.dumps(meta),
                size,
                now,
                job_id,
            ],
        )
        target = status_target(db, job)
        if target is not None:
            outbox.drop_progress(db, target)
        notices = []
        for f in result.files:
            payload = SendMedia(
                kind=f.kind,
                path=str(f.path),
                thumbnail=str(f.thumbnail) if f.thumbnail else "",
                duration=f.duration,
                width=f.width,
                height=f.height,
                title=title,
                performer=result.performer if f.kind == "audio" else "",
                reply_to=job.request_message_id,
                media_key=result.media_key,
                format_key=result.format_key,
                part=f.part,
                parts=f.parts,
                source_url=job.url,
                spool_dir=folder,
            )
            notices.append(
                outbox.enqueue(
                    db, job.chat_id, payload, priority=outbox.PRIORITY_FILE, role=outbox.ROLE_FILE, job_id=job_id
                )
            )
    log.info(
        "job %d downloaded: %s %s, %d file(s), %d bytes",
        job_id,
        result.media_key,
        result.format_key,
        len(result.files),
        size,
    )
    return notices
