"""Handing queued jobs to downloaders: fairly, once per media, and again when a worker goes quiet.

The queue is the jobs table itself, so nothing is lost when the gateway restarts. The next job
for a free slot is the one whose user has the least running and waiting ahead of it (every
user's first job before anyone's second), oldest first; a user runs at most
USER_CONCURRENT_DOWNLOADS downloads at once (more wait, they are not refused). A job whose media
is already being probed or downloaded for someone else waits for that one instead (single
flight): when it ends, the cache serves the followers (`gateway.jobs.advance`). A download starts
only if its file fits the spool's budget (SPOOL_MAX_GB) now; one that would not fit waits, one
that never can fails politely.

Leases: every dispatch increments the job's lease and the worker reports with it. A worker that
stays silent past HEARTBEAT_TIMEOUT loses the job to the queue, and whatever it still reports
under the old lease is refused. Silence is counted on the gateway's own clock while the gateway
is awake: a gateway that stalls (a busy database) does not count its stall against the workers,
and the jobs of a worker on another host never depend on that host's clock. A job that leaves
its worker for any other reason (cancelled, ended by another path) is told to the worker at once.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

import msgspec
import sqlite_utils
import trio

from core import jobs as job_rows
from core import jobstates, spool
from core.config import MIB, Settings
from core.db import write_tx
from core.failures import ErrorClass, Failure
from core.jobstates import ON_A_DOWNLOADER, JobState, sql_in, sql_is
from ipc.channels import JobDispatcher
from ipc.messages import JobAssign, JobCancel, Probe

log = logging.getLogger("gateway.dispatch")

IDLE_TICK = 1.0  # seconds between looks at the queue when nothing wakes the dispatcher
MOVES_CHECK = 0.25  # seconds between looks for jobs that left their worker (a cancel stops within 1 s)
STALL_CREDIT = 2.0  # a watchdog tick counts at most this many intervals of silence (see the docstring)
DISK_READING_S = 2.0  # seconds a reading of the spool's size is trusted

_ON_DL = sql_in(*ON_A_DOWNLOADER)
# The next queued job of a task, fairly (`:limit` is the per-user download limit). A download
# waits while a job of the same media (and format) is in flight, or the same link is being probed.
_NEXT = f"""
WITH running AS (
    SELECT user_id, count(*) AS n FROM jobs WHERE state IN {_ON_DL} GROUP BY user_id
), candidates AS (
    SELECT j.id, j.user_id, j.format_key,
           ROW_NUMBER() OVER (PARTITION BY j.user_id ORDER BY j.id) + coalesce(r.n, 0) AS rank
    FROM jobs j LEFT JOIN running r ON r.user_id = j.user_id
    WHERE j.state = {sql_is(JobState.QUEUED)} AND j.not_before <= :now AND {{task}} {{users}}
      AND NOT EXISTS (SELECT 1 FROM jobs k WHERE k.request_key = j.request_key AND k.id != j.id
                      AND k.state IN {_ON_DL})
      AND NOT EXISTS (SELECT 1 FROM jobs k WHERE j.media_key IS NOT NULL AND k.media_key = j.media_key
                      AND k.format_key = j.format_key AND k.id != j.id
                      AND k.state IN {sql_in(JobState.DOWNLOADING, JobState.UPLOADING)})
      {{limit}}
)
SELECT id FROM candidates ORDER BY rank, id LIMIT 1
"""
_ONLY = "AND j.user_id IN (SELECT value FROM json_each(:users))"  # maintenance: admins' jobs only
_LIMIT = (
    "AND (SELECT count(*) FROM jobs d WHERE d.user_id = j.user_id"
    f" AND d.state = {sql_is(JobState.DOWNLOADING)}) < :limit"
)
_QUERIES = {
    (task, only): _NEXT.format(
        task="j.format_key IS NULL" if task == "probe" else "j.format_key IS NOT NULL",
        users=_ONLY if only else "",
        limit="" if task == "probe" else _LIMIT,
    )
    for task in ("probe", "download")
    for only in (False, True)
}
_probe_decoder = msgspec.json.Decoder(Probe)


@dataclass
class Lease:
    lease: int
    worker: str
    identity: bytes | None  # its connection, once known (to tell it the job left it)
    seen: float  # the watchdog's awake clock: last sign of life


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
        self.awake = 0.0  # seconds the watchdog has been awake (stalls counted short)
        self._work = trio.Event()
        self._moved = trio.Event()
        self._disk: tuple[float, int] | None = None  # (trio time, spool bytes) of the last reading
        self.waits_for_disk = False  # the next download waits for room in the spool

    def wake(self) -> None:
        """Something may be dispatchable now (a new job, a choice, a freed slot), or a job may
        have left its worker (a cancel)."""
        self._work.set()
        self._moved.set()

    def only_users(self) -> tuple[int, ...] | None:
        """Whose jobs may start now: None for everyone (maintenance narrows it)."""
        return None

    # ---- choosing ----------------------------------------------------------------------------

    def next_job(self, task: str) -> int | None:
        now = time.time()
        only = self.only_users()
        params = {
            "now": now,
            "limit": self.settings.user_concurrent_downloads,
            "users": msgspec.json.encode(list(only or ())).decode(),
        }
        row = self.db.execute(_QUERIES[(task, only is not None)], params).fetchone()
        return int(row[0]) if row else None

    def _pick(self, slot: str) -> tuple[int, str] | None:
        """(job, task) for a free slot of this kind: a probe slot probes; another downloads first."""
        if slot != "probe":
            job_id = self._next_download()
            if job_id is not None:
                return job_id, "download"
        job_id = self.next_job("probe")
        return None if job_id is None else (job_id, "probe")

    # ---- the disk budget, before each download -----------------------------------------------

    def _next_download(self) -> int | None:
        """The next download whose file fits the spool now. One that would not fit waits (and
        those behind it: the spool frees up for the oldest first); one that never can is failed."""
        self.waits_for_disk = False
        while (job_id := self.next_job("download")) is not None:
            need = self.expected_size(job_id)
            budget = spool.budget_bytes(self.settings)
            if need > budget:
                log.warning("job %d: %d bytes can never fit the spool budget of %d bytes", job_id, need, budget)
                failure = Failure(
                    ErrorClass.TOO_LARGE, f"{need} bytes over the spool budget", values={"limit": budget // MIB}
                )
                self.announce(job_rows.fail(self.db, self.settings, job_id, failure, final=True)[1])
                continue
            if spool.has_room(self.settings, need, self._spool_used()):
                return job_id
            log.debug("job %d waits for room in the spool (%d bytes)", job_id, need)
            self.waits_for_disk = True
            return None
        return None

    def room_for(self, need: int) -> bool:
        """Would `need` more bytes fit the spool's budget now (a plain file a probe found)?"""
        return need <= spool.budget_bytes(self.settings) and spool.has_room(self.settings, need, self._spool_used())

    def expected_size(self, job_id: int) -> int:
        """Bytes the job's chosen format is expected to take, from its probe (0: unknown)."""
        row = self.db.execute(
            "SELECT p.info, j.format_key FROM jobs j JOIN media_probes p ON p.media_key = j.media_key WHERE j.id = ?",
            [job_id],
        ).fetchone()
        if row is None or not row[1]:
            return 0
        probe, key = _probe_decoder.decode(row[0]), str(row[1])
        wanted = "audio" if key.startswith("a:") else key
        return next((c.size for c in probe.choices if c.key == wanted), 0)

    def _spool_used(self) -> int:
        now = trio.current_time()
        if self._disk is None or now - self._disk[0] > DISK_READING_S:
            folder = self.settings.spool_dir
            self._disk = (now, spool.usage_bytes(folder) if folder.is_dir() else 0)
        return self._disk[1]

    # ---- handing out -------------------------------------------------------------------------

    async def run(self) -> None:
        while True:
            self._work = trio.Event()
            if await self._dispatch_ready():
                continue
            needs = []
            if self.next_job("download") is not None and not self.waits_for_disk:
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
                taker = await self.jobs.dispatch(assign, kinds=(slot,))
                self.leases[assign.job_id] = Lease(assign.lease, taker.name, taker.identity, self.awake)
                with write_tx(self.db):
                    self.db.execute(
                        "UPDATE jobs SET worker = ? WHERE id = ? AND lease = ?",
                        [taker.name, assign.job_id, assign.lease],
                    )
                log.info("job %d: %s (lease %d) -> %s", assign.job_id, assign.task, assign.lease, taker.name)
                sent = True
        return sent

    def _begin(self, job_id: int, task: str) -> JobAssign | None:
        """Mark the job taken (before sending: a crash in between is caught by the watchdog)."""
        with write_tx(self.db):
            taken = jobstates.dispatch(self.db, job_id, task)
            if taken is None:
                return None
            row = self.db.execute(
                "SELECT j.url, j.chat_id, j.user_id, j.format_key, j.platform, u.audio_format,"
                " CASE WHEN json_extract(coalesce(j.meta, '{}'), '$.subtitles') THEN coalesce(u.language, ?) END"
                " FROM jobs j JOIN users u ON u.id = j.user_id WHERE j.id = ?",
                [self.settings.default_language, job_id],
            ).fetchone()
        lease, attempt = taken
        return JobAssign(
            job_id=job_id,
            lease=lease,
            task=task,
            url=row[0],
            chat_id=row[1],
            user_id=row[2],
            format_key=row[3] or "",
            attempt=attempt,
            platform=row[4] or "",
            audio_format=row[5] or self.settings.audio_format,
            subtitles=row[6] or "",  # the user's language (gateway.subtitles)
        )

    # ---- workers' signs of life ----------------------------------------------------------------

    def seen(self, job_id: int, lease: int, worker: str, identity: bytes | None = None) -> bool:
        """A sign of life of (job, lease) from `worker`; False when this gateway does not know it
        as the job's current holder (a stale copy, or one to look up: see `adopt_or_stop`)."""
        held = self.leases.get(job_id)
        if held is None or held.lease != lease:
            return False
        held.seen = self.awake
        held.worker = worker
        if identity is not None:
            held.identity = identity
        return True

    def adopt_or_stop(self, job_id: int, lease: int, worker: str, identity: bytes) -> None:
        """A worker holds (job, lease) that this gateway does not know: the job's current holder
        after a gateway restart (adopt it), or a stale copy (tell the worker to stop it)."""
        row = self.db.execute("SELECT state, lease FROM jobs WHERE id = ?", [job_id]).fetchone()
        if row is not None and row[0] in ON_A_DOWNLOADER and row[1] == lease:
            self.leases[job_id] = Lease(lease, worker, identity, self.awake)
            return
        why = f"the job is now {row[0] if row else 'gone'} (lease {row[1] if row else '-'})"
        log.info("job %d: %s still holds lease %d; %s: telling it to stop", job_id, worker, lease, why)
        self.jobs.send_nowait(identity, JobCancel(job_id=job_id, lease=lease, why=why))

    def released(self, job_id: int, lease: int) -> None:
        """The holder of (job, lease) is done with it; another lease's entry stays."""
        held = self.leases.get(job_id)
        if held is not None and held.lease == lease:
            del self.leases[job_id]
        self.wake()

    def adopt_in_flight(self) -> None:
        """At start, and on every sweep: jobs on a downloader that this gateway does not watch
        (handed out by a previous gateway) get a full timeout to show they live."""
        for job_id, lease, worker in self.db.execute(
            f"SELECT id, lease, coalesce(worker, '') FROM jobs WHERE state IN {_ON_DL}"
        ).fetchall():
            if job_id not in self.leases:
                self.leases[job_id] = Lease(lease, worker, None, self.awake)

    async def watch(self) -> None:
        """Give back the jobs of workers that went silent (crashed, hung, or never got the job)."""
        interval = self.settings.heartbeat_interval
        last = trio.current_time()
        while True:
            await trio.sleep(interval)
            now = trio.current_time()
            self.awake += min(now - last, STALL_CREDIT * interval)
            last = now
            if self.jobs.events.statistics().current_buffer_used:
                continue  # events wait to be handled: their signs of life first
            for job_id, held in list(self.leases.items()):
                if self.awake - held.seen > self.settings.heartbeat_timeout:
                    self._reclaim(job_id, held)

    def _reclaim(self, job_id: int, held: Lease) -> None:
        self.leases.pop(job_id, None)
        with write_tx(self.db):
            row = self.db.execute("SELECT state, lease, attempts FROM jobs WHERE id = ?", [job_id]).fetchone()
            if row is None or row[0] not in ON_A_DOWNLOADER or row[1] != held.lease:
                return
            silent = self.settings.heartbeat_timeout
            log.warning("job %d: worker %s silent for %.0f s; taking the job back", job_id, held.worker or "?", silent)
            if row[2] >= self.settings.job_attempts:
                failure = Failure(ErrorClass.INTERNAL, f"worker {held.worker} went silent on attempt {row[2]}")
                notices = job_rows.fail(self.db, self.settings, job_id, failure, lease=held.lease, final=True)[1]
            else:
                jobstates.reclaim(self.db, job_id, held.lease)
                notices = []
        self.announce(notices)
        self._stop(job_id, held, "taken back: the worker was silent")
        if held.identity is not None:  # a stopped worker must not be handed the job again
            self.jobs.drop_credits(held.identity)
        self.wake()

    # ---- jobs that left their worker -------------------------------------------------------------

    async def watch_moves(self) -> None:
        """Tell each worker at once when a job it holds left it (cancelled, failed by another
        path): it stops the download and removes its files."""
        while True:
            with trio.move_on_after(MOVES_CHECK):
                await self._moved.wait()
            self._moved = trio.Event()
            self.check_moves()

    def check_moves(self) -> None:
        if not self.leases:
            return
        ids = list(self.leases)
        rows = self.db.execute(
            f"SELECT id, state, lease FROM jobs WHERE id IN ({','.join('?' * len(ids))})", ids
        ).fetchall()
        current = {r[0]: (r[1], r[2]) for r in rows}
        for job_id in ids:
            held = self.leases[job_id]
            state, lease = current.get(job_id, ("gone", -1))
            if state not in ON_A_DOWNLOADER or lease != held.lease:
                del self.leases[job_id]
                self._stop(job_id, held, f"the job is now {state}")

    def _stop(self, job_id: int, held: Lease, why: str) -> None:
        if held.identity is not None:
            self.jobs.send_nowait(held.identity, JobCancel(job_id=job_id, lease=held.lease, why=why))
