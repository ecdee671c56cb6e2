"""A downloader's slots: each asks the gateway for one job at a time and runs it in a thread.

DOWNLOAD_SLOTS_PER_WORKER slots run at once; the last one takes only probes, so a probe never
waits behind long downloads. While jobs run, the worker reports their progress (at most once per
PROGRESS_REPORT_INTERVAL) and the jobs it holds (every heartbeat), and watches the database for
jobs cancelled or taken from it, which it stops within a fraction of a second.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path

import sqlite_utils
import trio

from core import jobs as job_rows
from core import spool
from core.alerts import Alerter
from core.child import ChildContext
from core.db import write_tx
from core.logs import job_context
from downloader.circuit import GENERIC, SharedCircuits, breaker_key
from downloader.commit import commit_download
from downloader.cookies import CookieStore, platform_name
from downloader.egress import EgressProxy, EgressRefused, Refusal
from downloader.egress.targets import REFUSAL_KEYS
from downloader.engine import Cancelled, Control, DownloadResult, Engine, ProbeResult, guard_name
from downloader.errors import ClassifiedError, ErrorClass, Failure, classify, for_job, guard_failure
from ipc.channels import JobWorker, Pusher
from ipc.messages import (
    JobAssign,
    JobDownloaded,
    JobFailed,
    JobProbed,
    JobProgress,
    JobStarted,
    OutboxNotice,
    WorkerJobs,
)

log = logging.getLogger("downloader.worker")

CANCEL_POLL = 0.5  # seconds between looks for cancelled jobs: a cancel stops a download well within 2 s
EVENT_SEND_TIMEOUT = 5.0  # a gateway that takes no events for this long: drop the (advisory) event


@dataclass
class Running:
    job: JobAssign
    control: Control
    slot: int
    stopped_because: str = ""
    last_report: tuple[str, int] = field(default=("", -1))
    last_report_at: float = 0.0  # trio clock


class Worker:
    def __init__(
        self,
        ctx: ChildContext,
        db: sqlite_utils.Database,
        jobs: JobWorker,
        events: Pusher,
        outbox: Pusher,
        engine: Engine,
        circuits: SharedCircuits,
        cookies: CookieStore,
        egress: EgressProxy,
        alert: Alerter,
    ) -> None:
        self.ctx = ctx
        self.settings = ctx.settings
        self.db = db
        self.jobs = jobs
        self.events = events
        self.outbox = outbox
        self.engine = engine
        self.circuits = circuits
        self.cookies = cookies
        self.egress = egress
        self.alert = alert
        self.running: dict[int, Running] = {}

    async def run(self) -> None:
        slots = self.settings.download_slots_per_worker
        async with trio.open_nursery() as nursery:
            nursery.start_soon(self._report_progress)
            nursery.start_soon(self._report_jobs)
            nursery.start_soon(self._watch_cancels)
            async with trio.open_nursery() as taking:
                for slot in range(slots):
                    taking.start_soon(self._slot, slot, "probe" if slot == slots - 1 else "any")
                await self.ctx.draining.wait()
                # Draining: what runs goes back to the queue (another worker, or this one after its
                # restart, takes it up), idle slots stop waiting, and the threads are left to end.
                self._hand_back_all()
                taking.cancel_scope.cancel()
            nursery.cancel_scope.cancel()

    async def _slot(self, slot: int, kind: str) -> None:
        while not self.ctx.draining.is_set():
            job = await self.jobs.next_job(kind)
            if self.ctx.draining.is_set():
                self._requeue(job, "the worker is draining")
                return
            with job_context(job.job_id):  # every line this job logs, here or in its thread, says job=<id>
                await self._run_job(slot, job)

    async def _run_job(self, slot: int, job: JobAssign) -> None:
        t0 = trio.current_time()
        control = Control()
        self.running[job.job_id] = Running(job, control, slot)
        self.ctx.busy = len(self.running)
        await self._event(JobStarted(job_id=job.job_id, lease=job.lease, worker=self.ctx.name))
        folder = spool.job_dir(self.settings, job.job_id)
        committed = False
        breaker = breaker_key(job.platform or GENERIC, job.url)
        cookie: Path | None = None
        try:
            await self.egress.policy.admit_url(job.url)  # credentials, schemes, addresses: before any fetch
            admission = self.circuits.admit(breaker, job.job_id)
            if not admission.allowed:
                raise ClassifiedError(f"the {breaker} breaker is open", ErrorClass.UNAVAILABLE, admission.retry_in)
            cookie = self.cookies.pick(platform_name(job.platform or GENERIC))
            cookiefile = None
            if cookie is not None:
                folder.mkdir(parents=True, exist_ok=True)
                cookiefile = self.cookies.copy_for_job(cookie, folder)
                self.cookies.mark_used(cookie)
            self.egress.forget(guard_name(slot))  # what the guard refused the slot's last job
            self.engine.bind(slot, control, cookiefile)
            began = trio.current_time()
            if job.task == "probe":

                def claim() -> bool:  # in the job's thread: nothing to choose, so fetch it now?
                    return bool(trio.from_thread.run_sync(self._claim_as_download, job))

                result: ProbeResult | DownloadResult = await trio.to_thread.run_sync(
                    self.engine.probe, slot, job, folder, claim, abandon_on_cancel=True
                )
            else:
                audio = self._audio_format(job.user_id)

                def on_probe(probed: ProbeResult) -> None:  # in the job's thread
                    trio.from_thread.run_sync(self._send_probed, job, probed)

                result = await trio.to_thread.run_sync(
                    self.engine.download, slot, job, folder, audio, on_probe, abandon_on_cancel=True
                )
            committed = await self._done(job, result, str(folder), trio.current_time() - began)
            self.circuits.record(breaker, job.job_id, None)
        except Cancelled:
            why = self.running[job.job_id].stopped_because or "cancelled"
            log.info("job %d stopped: %s", job.job_id, why)
            self.circuits.record(breaker, job.job_id, Failure(ErrorClass.CANCELLED, why))
        except Exception as exc:
            refused = self.egress.refusals(guard_name(slot))
            guard = exc if isinstance(exc, EgressRefused) else refused[0] if refused else None
            failure = classify(exc) if guard is None else guard_failure(guard)
            self.circuits.record(breaker, job.job_id, failure)
            if cookie is not None:
                self.cookies.after_failure(cookie, failure)
            if failure.cls is ErrorClass.DISK_FULL:  # the uploader finds the alert's rows by itself
                self.alert("disk", "alert_disk_full", path=str(self.settings.spool_dir))
            await self._failed(job, failure, guard)
        finally:
            log.debug("job %d: %s took %.0f ms", job.job_id, job.task, (trio.current_time() - t0) * 1000)
            del self.running[job.job_id]
            self.ctx.busy = len(self.running)
            if not committed:
                spool.remove(folder, job.job_id)

    def _audio_format(self, user_id: int) -> str:
        row = self.db.execute("SELECT audio_format FROM users WHERE id = ?", [user_id]).fetchone()
        return str(row[0]) if row and row[0] else self.settings.audio_format

    def _claim_as_download(self, job: JobAssign) -> bool:
        """A probe found a plain file (no question to ask): make the job its download, at once."""
        with write_tx(self.db):
            moved = self.db.execute(
                "UPDATE jobs SET state = 'downloading', format_key = 'file', updated_at = ?"
                " WHERE id = ? AND lease = ? AND state = 'probing'",
                [time.time(), job.job_id, job.lease],
            ).rowcount
        return bool(moved)

    def _send_probed(self, job: JobAssign, probed: ProbeResult | DownloadResult) -> None:
        event = JobProbed(
            job_id=job.job_id, lease=job.lease, worker=self.ctx.name, media_key=probed.media_key, probe=probed.probe
        )
        if not self.events.send_nowait(event):
            log.warning("job %d: the gateway's queue is full; the probe's findings were not passed on", job.job_id)

    async def _done(self, job: JobAssign, result: ProbeResult | DownloadResult, folder: str, took_s: float) -> bool:
        if isinstance(result, ProbeResult):
            self._send_probed(job, result)
            return False
        notices = commit_download(self.db, self.settings, job.job_id, job.lease, result, folder, took_s)
        if notices is None:
            return False
        if job.task == "probe":  # fetched in the probe's stride: the gateway hears what it found now
            self._send_probed(job, result)
        for item_id in notices:
            self.outbox.send_nowait(OutboxNotice(item_id=item_id))
        await self._event(
            JobDownloaded(
                job_id=job.job_id,
                lease=job.lease,
                worker=self.ctx.name,
                media_key=result.media_key,
                format_key=result.format_key,
            )
        )
        return True

    async def _failed(self, job: JobAssign, failure: Failure, guard: EgressRefused | Refusal | None = None) -> None:
        recorded = for_job(failure, self.settings)
        if guard is not None:  # the guard says which rule refused the link: that is the user's answer
            recorded = dataclasses.replace(recorded, text_key=REFUSAL_KEYS[guard.reason])
        final, notices = job_rows.fail(self.db, self.settings, job.job_id, recorded, lease=job.lease)
        for item_id in notices:
            self.outbox.send_nowait(OutboxNotice(item_id=item_id))
        event = JobFailed(
            job_id=job.job_id,
            lease=job.lease,
            worker=self.ctx.name,
            error_class=failure.cls.value,
            retryable=failure.retryable,
            final=final,
        )
        await self._event(event)

    async def _event(self, msg: JobStarted | JobProgress | JobProbed | JobDownloaded | JobFailed | WorkerJobs) -> None:
        with trio.move_on_after(EVENT_SEND_TIMEOUT) as scope:
            await self.events.send(msg)
        if scope.cancelled_caught:
            log.warning("the gateway took no %s for %.0f s; dropped it", type(msg).__name__, EVENT_SEND_TIMEOUT)

    # ---- what runs beside the jobs ---------------------------------------------------------

    async def _report_progress(self) -> None:
        while True:
            await trio.sleep(self.settings.progress_report_interval)
            for running in list(self.running.values()):
                c = running.control
                seen, now = (c.phase, c.done_bytes), trio.current_time()
                # Unchanged, it is told again once per edit interval: a long probe (or a stalled
                # download) still gets its phase shown.
                if seen == running.last_report and now - running.last_report_at < self.settings.progress_edit_interval:
                    continue
                running.last_report, running.last_report_at = seen, now
                job = running.job
                await self._event(
                    JobProgress(
                        job_id=job.job_id,
                        lease=job.lease,
                        worker=self.ctx.name,
                        phase=c.phase,
                        done_bytes=c.done_bytes,
                        total_bytes=c.total_bytes,
                        speed=c.speed,
                        eta=c.eta,
                    )
                )

    async def _report_jobs(self) -> None:
        while True:
            held = [(r.job.job_id, r.job.lease) for r in self.running.values()]
            await self._event(WorkerJobs(worker=self.ctx.name, jobs=held, sent_at=time.time()))
            await trio.sleep(self.settings.heartbeat_interval)

    async def _watch_cancels(self) -> None:
        """Stop jobs that were cancelled, or given to another worker, or ended otherwise."""
        while True:
            await trio.sleep(CANCEL_POLL)
            if not self.running:
                continue
            ids = list(self.running)
            rows = self.db.execute(
                f"SELECT id, state, lease FROM jobs WHERE id IN ({','.join('?' * len(ids))})", ids
            ).fetchall()
            current = {r[0]: (r[1], r[2]) for r in rows}
            for job_id, running in list(self.running.items()):
                state, lease = current.get(job_id, ("gone", -1))
                moved_on = state not in ("probing", "downloading") or lease != running.job.lease
                if moved_on and not running.control.cancel.is_set():
                    running.stopped_because = f"the job is now {state} (lease {lease})"
                    running.control.cancel.set()

    def _hand_back_all(self) -> None:
        for running in self.running.values():
            self._requeue(running.job, "the worker is draining")
            running.stopped_because = "the worker is draining; handed back"
            running.control.cancel.set()

    def _requeue(self, job: JobAssign, why: str) -> None:
        """Give a job back to the queue without counting the attempt (it was not tried)."""
        with write_tx(self.db):
            moved = self.db.execute(
                "UPDATE jobs SET state = 'queued', worker = NULL, attempts = max(attempts - 1, 0), updated_at = ?"
                " WHERE id = ? AND lease = ? AND state IN ('probing', 'downloading')",
                [time.time(), job.job_id, job.lease],
            ).rowcount
        if moved:
            log.info("job %d handed back: %s", job.job_id, why)
