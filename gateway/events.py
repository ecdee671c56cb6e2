"""Job events from the downloaders and the uploader: what they mean for the job and its status.

The durable part of a result is committed by whoever produced it (a downloader commits its
files, the uploader what it sent); here the gateway keeps the leases fresh, shows progress, turns
a probe into the choice, and lets jobs that were waiting for the same media move on.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

import sqlite_utils
import trio

from core import jobs as job_rows
from core import metrics, outbox
from core.callback_data import CallbackCodec
from core.config import Settings
from core.db import write_tx
from core.schema import JOB_ON_A_DOWNLOADER_STATES
from core.status import cancel_keyboard, progress_text
from core.texts import digits, text
from gateway import jobs
from gateway.dispatch import Dispatcher
from ipc.messages import (
    JobDelivered,
    JobDownloaded,
    JobEvent,
    JobFailed,
    JobProbed,
    JobProgress,
    JobStarted,
    WorkerJobs,
)

log = logging.getLogger("gateway.events")


@dataclass
class Shown:
    """The last progress shown for a job, so that edits come at most every interval and only
    when what the user would read changes."""

    at: float
    body: str


class JobEvents:
    def __init__(
        self, settings: Settings, db: sqlite_utils.Database, codec: CallbackCodec, dispatcher: Dispatcher
    ) -> None:
        self.settings = settings
        self.db = db
        self.codec = codec
        self.dispatcher = dispatcher
        self.shown: dict[int, Shown] = {}

    def handle(self, event: JobEvent) -> list[int]:
        """Apply one event; return the outbox rows to announce."""
        if isinstance(event, WorkerJobs):
            for job_id, lease in event.jobs:
                self.dispatcher.seen(job_id, lease, event.worker)
            return []
        if isinstance(event, JobDelivered):
            self.shown.pop(event.job_id, None)
            self.dispatcher.released(event.job_id)
            return self._followers("media_key = (SELECT media_key FROM jobs WHERE id = ?)", event.job_id, joined=True)
        self.dispatcher.seen(event.job_id, event.lease, event.worker)
        if isinstance(event, JobProgress):
            return self._progress(event)
        if isinstance(event, JobProbed):
            # The download counts its own interval: a quick one after a choice costs no edit.
            self.shown.pop(event.job_id, None)
            return self._probed(event)
        if isinstance(event, JobDownloaded | JobFailed):
            self.shown.pop(event.job_id, None)
            self.dispatcher.released(event.job_id)
            if isinstance(event, JobFailed) and event.final:
                return self._followers("request_key = (SELECT request_key FROM jobs WHERE id = ?)", event.job_id)
            return []
        assert isinstance(event, JobStarted)
        return []

    def _progress(self, event: JobProgress) -> list[int]:
        job = job_rows.load(self.db, event.job_id, self.settings)
        if job is None or job.lease != event.lease or job.state not in JOB_ON_A_DOWNLOADER_STATES:
            return []
        target = job_rows.status_target(self.db, job)
        if target is None:
            return []
        now = trio.current_time()
        last = self.shown.get(job.id)
        if last is None:  # a job that ends within the interval costs no progress edit at all
            self.shown[job.id] = Shown(now, "")
            return []
        if now - last.at < self.settings.progress_edit_interval:
            return []
        head = ""
        status_job = job.id
        if job.parent_id is not None:
            head, status_job = self._playlist_head(job)
        body = progress_text(
            job.lang, event.phase, event.done_bytes, event.total_bytes, event.speed, event.eta, head=head
        )
        if last is not None and last.body == body:
            return []
        self.shown[job.id] = Shown(now, body)
        item = outbox.change_message(
            self.db,
            target,
            job.chat_id,
            body,
            cancel_keyboard(job.lang, self.codec, status_job),
            priority=outbox.PRIORITY_PROGRESS,
            role=outbox.ROLE_PROGRESS,
            job_id=job.id,
        )
        return [item] if item else []

    def _playlist_head(self, job: job_rows.Job) -> tuple[str, int]:
        assert job.parent_id is not None
        total, over = self.db.execute(
            "SELECT count(*), sum(state IN ('done', 'failed', 'cancelled')) FROM jobs WHERE parent_id = ?",
            [job.parent_id],
        ).fetchone()
        row = self.db.execute("SELECT title FROM jobs WHERE id = ?", [job.parent_id]).fetchone()
        head = text(
            job.lang,
            "playlist_progress",
            title=(row[0] if row else "") or "",
            done=digits(job.lang, over or 0),
            total=digits(job.lang, total),
        )
        return head, job.parent_id

    def _probed(self, event: JobProbed) -> list[int]:
        with write_tx(self.db):
            job = job_rows.load(self.db, event.job_id, self.settings)
            if job is None:
                return []
            jobs.store_probe(self.db, job, event.media_key, event.probe)  # true whatever became of the job
            now = time.time()
            if job.lease != event.lease or job.state not in JOB_ON_A_DOWNLOADER_STATES:
                notices: list[int] = []
            elif job.state == "downloading" and event.probe.kind != "playlist":
                # The download goes on; others waiting for this media can now resolve their format.
                self.db.execute(
                    f"UPDATE jobs SET media_key = ?, {jobs.OWN_TITLE}, updated_at = ? WHERE id = ?",
                    [event.media_key, event.probe.title, event.probe.title, now, job.id],
                )
                notices = []
            else:
                # A probe, or a download that met a playlist: the gateway takes it from here.
                self.dispatcher.released(job.id)
                # The probe's try does not count against the download's tries.
                self.db.execute(
                    "UPDATE jobs SET state = 'queued', worker = NULL, attempts = 0, media_key = ?, updated_at = ?"
                    " WHERE id = ?",
                    [event.media_key, now, job.id],
                )
                fresh = job_rows.load(self.db, job.id, self.settings)
                assert fresh is not None
                notices = jobs.advance(self.db, self.settings, self.codec, fresh)
        return notices + self._followers("request_key = ?", job.request_key, joined=True)

    def advance_all(self) -> list[int]:
        """Move on every queued job whose media became known (the safety net for a lost event)."""
        return self._followers("id > ?", 0)

    def _followers(self, where: str, param: object, *, joined: bool = False) -> list[int]:
        """Move on the queued jobs for the same media (single flight), now that it is known;
        `joined`: they waited for this media's probe or file (counted as single-flight joins)."""
        notices: list[int] = []
        with write_tx(self.db):
            for follower in job_rows.load_where(self.db, self.settings, f"j.state = 'queued' AND j.{where}", [param]):
                notices += jobs.advance(self.db, self.settings, self.codec, follower)
                if joined:
                    metrics.count("single_flight_joins")
        self.dispatcher.wake()
        return notices
