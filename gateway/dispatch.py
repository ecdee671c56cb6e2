"""Handing queued jobs to downloaders: fairly, once per media, and again when a worker goes quiet.

The queue is the jobs table itself, so nothing is lost when the gateway restarts. The next job
for a free slot is the one whose user has the least running and waiting ahead of it (every
user's first job before anyone's second), oldest first; a user runs at most
USER_CONCURRENT_DOWNLOADS downloads at once (more wait, they are not refused). A job whose media
is already being probed or downloaded for someone else waits for that one instead (single
flight): when it ends, the cache serves the followers (`gateway.jobs.advance`).

Leases: every dispatch increments the job's lease and the worker reports with it; a worker that
stays silent past HEARTBEAT_TIMEOUT loses the job to the queue, and whatever it still reports
under the old lease is ignored.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

import sqlite_utils
import trio

from core import jobs as job_rows
from core.config import Settings
from core.db import write_tx
from core.jobs import Failure
from core.schema import JOB_ON_A_DOWNLOADER_STATES
from ipc.channels import JobDispatcher
from ipc.messages import JobAssign

log = logging.getLogger("gateway.dispatch")

IDLE_TICK = 1.0  # seconds between looks at the queue when nothing wakes the dispatcher

# The next queued job of a task, fairly. `?1` now, `?2` the per-user download limit. A download
# waits while a job of the same media (and format) is in flight, or the same link is being probed.
_NEXT = """
WITH running AS (
    SELECT user_id, count(*) AS n FROM jobs WHERE state IN ('probing', 'downloading') GROUP BY user_id
), candidates AS (
    SELECT j.id, j.user_id, j.format_key,
           ROW_NUMBER() OVER (PARTITION BY j.user_id ORDER BY j.id) + coalesce(r.n, 0) AS rank
    FROM jobs j LEFT JOIN running r ON r.user_id = j.user_id
    WHERE j.state = 'queued' AND j.not_before <= ?1 AND {task}
      AND NOT EXISTS (SELECT 1 FROM jobs k WHERE k.request_key = j.request_key AND k.id != j.id
                      AND k.state IN ('probing', 'downloading'))
      AND NOT EXISTS (SELECT 1 FROM jobs k WHERE j.media_key IS NOT NULL AND k.media_key = j.media_key
                      AND k.format_key = j.format_key AND k.id != j.id AND k.state IN ('downloading', 'uploading'))
      {limit}
)
SELECT id FROM candidates ORDER BY rank, id LIMIT 1
"""
_PROBE = _NEXT.format(task="j.format_key IS NULL", limit="")
_DOWNLOAD = _NEXT.format(
    task="j.format_key IS NOT NULL",
    limit="AND (SELECT count(*) FROM jobs d WHERE d.user_id = j.user_id AND d.state = 'downloading') < ?2",
)


@dataclass
class Lease:
    lease: int
    worker: str
    seen: float  # trio clock: last sign of life


class Dispatcher:
    def __init__(
        self,
        settings: Settings,
        db: sqlite_utils.Database,
        jobs: JobDispatcher,
        announce: Callable[[list[int]], None],
    ) -> None:
        self.settings = settings
        self.db = db
        self.jobs = jobs
        self.announce = announce  # outbox rows written here go to the uploader through it
        self.leases: dict[int, Lease] = {}  # jobs in flight, as this gateway knows them
        self._work = trio.Event()

    def wake(self) -> None:
        """Something may be dispatchable now (a new job, a choice, a freed slot)."""
        self._work.set()

    # ---- choosing ----------------------------------------------------------------------------

    def next_job(self, task: str) -> int | None:
        now = time.time()
        if task == "probe":
            row = self.db.execute(_PROBE, [now]).fetchone()
        else:
            row = self.db.execute(_DOWNLOAD, [now, self.settings.user_concurrent_downloads]).fetchone()
        return int(row[0]) if row else None

    def _pick(self, slot: str) -> tuple[int, str] | None:
        """(job, task) for a free slot of this kind: a probe slot probes; another downloads first."""
        tasks = ("probe",) if slot == "probe" else ("download", "probe")
        for task in tasks:
            job_id = self.next_job(task)
            if job_id is not None:
                return job_id, task
        return None

    # ---- handing out -------------------------------------------------------------------------

    async def run(self) -> None:
        while True:
            self._work = trio.Event()
            if await self._dispatch_ready():
                continue
            needs = []
            if self.next_job("download") is not None:
                needs.append("any")
            if self.next_job("probe") is not None:
                needs += ["probe", "any"]
            with trio.move_on_after(IDLE_TICK):
                async with trio.open_nursery() as nursery:
                    if needs:
                        nursery.start_soon(self._until_credit, tuple(dict.fromkeys(needs)), nursery.cancel_scope)
                    nursery.start_soon(self._until_work, nursery.cancel_scope)

    async def _until_credit(self, kinds: tuple[str, ...], done: trio.CancelScope) -> None:
        await self.jobs.wait_for_credit(kinds)
        done.cancel()

    async def _until_work(self, done: trio.CancelScope) -> None:
        await self._work.wait()
        done.cancel()

    async def _dispatch_ready(self) -> bool:
        """Send every job that has a free slot now; True if any was sent."""
        sent = False
        for slot in ("probe", "any"):
            while self.jobs.free_slots(slot) > 0:
                picked = self._pick(slot)
                if picked is None:
                    break
                assign = self._begin(*picked)
                if assign is None:
                    continue
                worker = await self.jobs.dispatch(assign, kinds=(slot,))
                self.leases[assign.job_id] = Lease(assign.lease, worker, trio.current_time())
                with write_tx(self.db):
                    self.db.execute(
                        "UPDATE jobs SET worker = ? WHERE id = ? AND lease = ?", [worker, assign.job_id, assign.lease]
                    )
                log.info("job %d: %s (lease %d) -> %s", assign.job_id, assign.task, assign.lease, worker)
                sent = True
        return sent

    def _begin(self, job_id: int, task: str) -> JobAssign | None:
        """Mark the job taken (before sending: a crash in between is caught by the watchdog)."""
        now = time.time()
        with write_tx(self.db):
            row = self.db.execute(
                "SELECT state, lease, attempts, url, chat_id, user_id, format_key, platform FROM jobs WHERE id = ?",
                [job_id],
            ).fetchone()
            if row is None or row[0] != "queued":
                return None
            lease, attempts = row[1] + 1, row[2] + 1
            self.db.execute(
                "UPDATE jobs SET state = ?, lease = ?, attempts = ?, worker = NULL, heartbeat_at = ?,"
                " started_at = coalesce(started_at, ?), updated_at = ? WHERE id = ?",
                ["probing" if task == "probe" else "downloading", lease, attempts, now, now, now, job_id],
            )
        return JobAssign(
            job_id=job_id,
            lease=lease,
            task=task,
            url=row[3],
            chat_id=row[4],
            user_id=row[5],
            format_key=row[6] or "",
            attempt=attempts,
            platform=row[7] or "",
        )

    # ---- workers' signs of life ----------------------------------------------------------------

    def seen(self, job_id: int, lease: int, worker: str) -> None:
        held = self.leases.get(job_id)
        if held is not None and held.lease == lease:
            held.seen = trio.current_time()
        elif held is None:
            self.leases[job_id] = Lease(lease, worker, trio.current_time())

    def released(self, job_id: int) -> None:
        self.leases.pop(job_id, None)
        self.wake()

    def adopt_in_flight(self) -> None:
        """At start: jobs a previous gateway handed out get a full timeout to show they live."""
        now = trio.current_time()
        for job_id, lease, worker in self.db.execute(
            "SELECT id, lease, coalesce(worker, '') FROM jobs WHERE state IN ('probing', 'downloading')"
        ).fetchall():
            self.leases[job_id] = Lease(lease, worker, now)

    async def watch(self) -> None:
        """Give back the jobs of workers that went silent (crashed, hung, or never got the job)."""
        while True:
            await trio.sleep(self.settings.heartbeat_interval)
            deadline = trio.current_time() - self.settings.heartbeat_timeout
            for job_id, held in list(self.leases.items()):
                if held.seen < deadline:
                    self._reclaim(job_id, held)

    def _reclaim(self, job_id: int, held: Lease) -> None:
        self.leases.pop(job_id, None)
        with write_tx(self.db):
            row = self.db.execute("SELECT state, lease, attempts FROM jobs WHERE id = ?", [job_id]).fetchone()
            if row is None or row[0] not in JOB_ON_A_DOWNLOADER_STATES or row[1] != held.lease:
                return
        silent = self.settings.heartbeat_timeout
        log.warning("job %d: worker %s silent for %.0f s; taking the job back", job_id, held.worker or "?", silent)
        if row[2] >= self.settings.job_attempts:
            failure = Failure("internal", f"worker {held.worker} went silent on attempt {row[2]}", False)
            self.announce(job_rows.fail(self.db, self.settings, job_id, failure, lease=held.lease)[1])
        else:
            with write_tx(self.db):
                self.db.execute(
                    "UPDATE jobs SET state = 'queued', worker = NULL, updated_at = ? WHERE id = ? AND lease = ?",
                    [time.time(), job_id, held.lease],
                )
        self.wake()
