"""Job events from the downloaders and the uploader: what they mean for the job and its status.

The gateway is the one writer of jobs: a downloader's reports (probed, downloaded, failed, a
claim, a hand-back) are applied here, each one transaction through `core.jobstates`, and answered
with a ReportAck; the uploader's outcomes go through `gateway.uploads`. Besides, the gateway keeps
the leases fresh, shows progress, turns a probe into the choice, keeps the mirror of the
downloaders' breakers, and lets jobs that were waiting for the same media move on.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

import sqlite_utils
import trio

from core import albums, breakers, inline, jobstates, metrics, outbox
from core import jobs as job_rows
from core.callback_data import CallbackCodec
from core.config import Settings
from core.db import write_tx
from core.jobstates import FINAL, ON_A_DOWNLOADER, JobState, sql_in
from core.status import cancel_keyboard, progress_text
from core.texts import digits, text
from gateway import jobs, results, uploads
from gateway.dispatch import Dispatcher
from ipc.channels import Inbound
from ipc.messages import (
    BreakerState,
    DeliveryFailed,
    FileMissing,
    JobClaim,
    JobDelivered,
    JobDownloaded,
    JobFailed,
    JobHandBack,
    JobProbed,
    JobProgress,
    JobStarted,
    ReportAck,
    UploadEvent,
    WorkerJobs,
    WorkerReport,
)

log = logging.getLogger("gateway.events")


@dataclass
class Shown:
    """The last progress shown for a job, so that edits come at most every interval and only
    when what the user would read changes."""

    at: float
    body: str


@dataclass
class Outcome:
    notices: list[int] = field(default_factory=list)  # outbox rows to announce
    ack: ReportAck | None = None  # the answer to a downloader's report


class JobEvents:
    def __init__(
        self, settings: Settings, db: sqlite_utils.Database, codec: CallbackCodec, dispatcher: Dispatcher
    ) -> None:
        self.settings = settings
        self.db = db
        self.codec = codec
        self.dispatcher = dispatcher
        self.shown: dict[int, Shown] = {}

    # ---- the downloaders (job channel) --------------------------------------------------------

    def from_worker(self, inbound: Inbound) -> Outcome:
        """Apply one event of a downloader; the outcome's ack goes back to it."""
        event = inbound.event
        if isinstance(event, WorkerJobs):
            for job_id, lease in event.jobs:
                if not self.dispatcher.seen(job_id, lease, event.worker, inbound.identity):
                    self.dispatcher.adopt_or_stop(job_id, lease, event.worker, inbound.identity)
            return Outcome()
        if isinstance(event, BreakerState):
            breakers.mirror(self.db, event)
            return Outcome()
        self.dispatcher.seen(event.job_id, event.lease, event.worker, inbound.identity)
        if isinstance(event, JobStarted):
            return Outcome()
        if isinstance(event, JobProgress):
            return Outcome(self._progress(event))
        accepted, notices = self._report(event)
        ack = ReportAck(job_id=event.job_id, lease=event.lease, report=type(event).__name__, accepted=accepted)
        return Outcome(notices, ack)

    def _report(self, event: WorkerReport) -> tuple[bool, list[int]]:
        if isinstance(event, JobProbed):
            # The download counts its own interval: a quick one after a choice costs no edit.
            self.shown.pop(event.job_id, None)
            return self._probed(event)
        if isinstance(event, JobClaim):
            fits = self.dispatcher.room_for(event.size)
            return results.claim(self.db, event, fits), []
        self.shown.pop(event.job_id, None)
        self.dispatcher.released(event.job_id, event.lease)
        if isinstance(event, JobDownloaded):
            return results.downloaded(self.db, self.settings, event)
        if isinstance(event, JobHandBack):
            return results.hand_back(self.db, event), []
        assert isinstance(event, JobFailed)
        row = self.db.execute("SELECT lease FROM jobs WHERE id = ?", [event.job_id]).fetchone()
        current = row is not None and row[0] == event.lease
        notices = job_rows.fail(self.db, self.settings, event.job_id, event.failure, lease=event.lease)[1]
        return current, notices

    def _progress(self, event: JobProgress) -> list[int]:
        job = job_rows.load(self.db, event.job_id, self.settings)
        if job is None or job.lease != event.lease or job.state not in ON_A_DOWNLOADER:
            return []
        target = job_rows.status_target(self.db, job)
        if target is None and not inline.message_of(job):
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
        if target is None:  # an inline job: its status is the inline message
            return [inline.show(self.db, job, body, priority=outbox.PRIORITY_PROGRESS)]
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
            f"SELECT count(*), sum(state IN {sql_in(*FINAL)}) FROM jobs WHERE parent_id = ?",
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

    def _probed(self, event: JobProbed) -> tuple[bool, list[int]]:
        with write_tx(self.db):
            job = job_rows.load(self.db, event.job_id, self.settings)
            if job is None:
                return False, []
            jobs.store_probe(self.db, job, event.media_key, event.probe)  # true whatever became of the job
            notices: list[int] = []
            accepted = job.lease == event.lease and job.state in ON_A_DOWNLOADER
            if not accepted:
                pass
            elif job.state == JobState.DOWNLOADING and event.probe.kind not in ("playlist", albums.GALLERY):
                # The download goes on; others waiting for this media can now resolve their format.
                self.db.execute(
                    f"UPDATE jobs SET media_key = ?, {jobs.OWN_TITLE}, updated_at = ? WHERE id = ?",
                    [event.media_key, event.probe.title, event.probe.title, time.time(), job.id],
                )
            else:
                # A probe, or a download that met a playlist or an image post: the gateway takes
                # it from here (the post's choice: photos, videos or everything).
                self.dispatcher.released(job.id, event.lease)
                jobstates.probed(self.db, job.id, event.lease, event.media_key)
                fresh = job_rows.load(self.db, job.id, self.settings)
                assert fresh is not None
                notices = jobs.advance(self.db, self.settings, self.codec, fresh)
        return accepted, notices + self._followers("request_key = ?", job.request_key, joined=True)

    # ---- the uploader (events channel) ----------------------------------------------------------

    def from_uploader(self, event: UploadEvent) -> list[int]:
        """Apply one outcome of the uploader; returns the outbox rows to announce."""
        self.shown.pop(event.job_id, None)
        if isinstance(event, JobDelivered):
            notices = uploads.delivered(self.db, self.settings, event.job_id, event.upload_s)
        elif isinstance(event, DeliveryFailed):
            notices = uploads.failed(self.db, self.settings, event.job_id, event.failure)
        else:
            assert isinstance(event, FileMissing)
            notices = uploads.missing(self.db, self.settings, event.job_id, event.reason)
        self.dispatcher.wake()
        return notices + self._followers(
            "media_key = (SELECT media_key FROM jobs WHERE id = ?)", event.job_id, joined=True
        )

    # ---- the safety net ---------------------------------------------------------------------------

    def sweep(self) -> list[int]:
        """What a lost event would have done: jobs whose upload is over, in-flight jobs no lease
        watches, queued jobs whose media became known."""
        notices = uploads.sweep(self.db, self.settings)
        self.dispatcher.adopt_in_flight()
        return notices + self.advance_all()

    def advance_all(self) -> list[int]:
        """Move on every queued job whose media became known (the safety net for a lost event)."""
        return self._followers("id > ?", 0)

    def _followers(self, where: str, param: object, *, joined: bool = False) -> list[int]:
        """Move on the queued jobs for the same media (single flight), now that it is known;
        `joined`: they waited for this media's probe or file (counted as single-flight joins)."""
        notices: list[int] = []
        where = f"j.state = {jobstates.sql_is(JobState.QUEUED)} AND j.{where}"
        if self.db.execute(f"SELECT 1 FROM jobs j WHERE {where} LIMIT 1", [param]).fetchone():  # mostly none
            with write_tx(self.db):
                for follower in job_rows.load_where(self.db, self.settings, where, [param]):
                    notices += jobs.advance(self.db, self.settings, self.codec, follower)
                    if joined:
                        metrics.count("single_flight_joins")
        self.dispatcher.wake()
        return notices
