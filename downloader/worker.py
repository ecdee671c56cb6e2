"""A downloader's slots: each asks the gateway for one job at a time and runs it in a thread.

DOWNLOAD_SLOTS_PER_WORKER slots run at once; the last one takes only probes, so a probe never
waits behind long downloads. Everything goes over the one job channel: the worker reports each
result (probed, downloaded with its files, failed, a claim, a hand-back) and waits for the
gateway's answer, sending it again until it comes; it tells progress (at most once per
PROGRESS_REPORT_INTERVAL) and the jobs it holds (every heartbeat); a cancel from the gateway (the
job was cancelled, or taken from this worker) stops the job within a fraction of a second.

Each attempt works in its own spool folder (`spool/<job>-<lease>`) and removes only that one:
after a failure, a cancel, or a result the gateway refused (a stale lease). Files the gateway
accepted are the uploader's from then on. The worker never reads the gateway's database.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import msgspec
import trio

from core import albums, spool
from core.alerts import Alerter
from core.child import ChildContext
from core.failures import ErrorClass, Failure
from core.logs import job_context
from downloader.circuit import GENERIC, SharedCircuits, breaker_key
from downloader.cookies import CookieStore, platform_name
from downloader.egress import EgressProxy, EgressRefused
from downloader.egress.targets import REFUSAL_KEYS
from downloader.engine import Control, DownloadResult, Engine, ProbeResult, guard_name
from downloader.errors import ClassifiedError, classify, for_job, guard_failure
from ipc.channels import JobWorker

if TYPE_CHECKING:
    from downloader.gallery_jobs import GalleryJobs
from ipc.messages import (
    DownloadedFile,
    JobAssign,
    JobCancel,
    JobClaim,
    JobDownloaded,
    JobFailed,
    JobHandBack,
    JobProbed,
    JobProgress,
    JobStarted,
    Probe,
    WorkerEvent,
    WorkerJobs,
    WorkerReport,
)

log = logging.getLogger("downloader.worker")

NEWS_SEND_TIMEOUT = 5.0  # a gateway that takes no news for this long: drop it (it is advisory)
Ship = Callable[[JobAssign, list[DownloadedFile]], Awaitable[tuple[list[DownloadedFile], str]]]
HAND_BACK_WAIT = 3.0  # seconds a draining worker waits for the gateway to take its jobs back


@dataclass
class Running:
    job: JobAssign
    control: Control
    slot: int
    stopped_because: str = ""
    handing_back: bool = False
    last_report: tuple[str, int] = field(default=("", -1))
    last_report_at: float = 0.0  # trio clock


class Worker:
    def __init__(
        self,
        ctx: ChildContext,
        jobs: JobWorker,
        engine: Engine,
        circuits: SharedCircuits,
        cookies: CookieStore,
        egress: EgressProxy,
        alert: Alerter,
    ) -> None:
        self.ctx = ctx
        self.settings = ctx.settings
        self.jobs = jobs
        self.engine = engine
        self.circuits = circuits
        self.cookies = cookies
        self.egress = egress
        self.alert = alert
        self.running: dict[int, Running] = {}  # job id -> its attempt, until its report is answered
        # On a joined host: streams the files home first, returns them (and their folder) as the
        # main host has them (downloader/ship.py); the local copies then go.
        self.ship: Ship | None = None
        self._gallery: GalleryJobs | None = None  # gallery-dl, loaded at the first link with no video
        jobs.on_cancel = self._on_cancel

    async def run(self) -> None:
        slots = self.settings.download_slots_per_worker
        async with trio.open_nursery() as nursery:
            nursery.start_soon(self._report_progress)
            nursery.start_soon(self._report_jobs)
            async with trio.open_nursery() as taking:
                for slot in range(slots):
                    taking.start_soon(self._slot, slot, "probe" if slot == slots - 1 else "any")
                await self.ctx.draining.wait()
                # Draining: what runs goes back to the queue (another worker, or this one after its
                # restart, takes it up), idle slots stop waiting, and the threads are left to end.
                self._hand_back_all()
                with trio.move_on_after(HAND_BACK_WAIT):
                    while any(r.handing_back for r in self.running.values()):
                        await trio.sleep(self.settings.progress_report_interval / 4)
                taking.cancel_scope.cancel()
            nursery.cancel_scope.cancel()

    async def _slot(self, slot: int, kind: str) -> None:
        while not self.ctx.draining.is_set():
            job = await self.jobs.next_job(kind)
            if self.ctx.draining.is_set():
                await self._report(JobHandBack(job_id=job.job_id, lease=job.lease, worker=self.ctx.name))
                return
            with job_context(job.job_id):  # every line this job logs, here or in its thread, says job=<id>
                await self._run_job(slot, job)

    async def _run_job(self, slot: int, job: JobAssign) -> None:
        t0 = trio.current_time()
        control = Control()
        self._supersede(job)
        running = self.running[job.job_id] = Running(job, control, slot)
        self.ctx.busy = len(self.running)
        await self._news(JobStarted(job_id=job.job_id, lease=job.lease, worker=self.ctx.name))
        folder = spool.attempt_dir(self.settings, job.job_id, job.lease)
        keep = False  # the files are the uploader's now (or their fate is unknown: the sweeper's)
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

                def claim(probe: Probe) -> bool:  # in the job's thread: nothing to choose, so fetch it now?
                    return bool(trio.from_thread.run(self._claim, job, probe))

                try:
                    result: ProbeResult | DownloadResult = await trio.to_thread.run_sync(
                        self.engine.probe, slot, job, folder, claim, abandon_on_cancel=True
                    )
                except Exception as exc:
                    result = await self._image_post(exc, job, slot, control, cookiefile)
            elif albums.is_key(job.format_key):
                result = await trio.to_thread.run_sync(
                    self.gallery().download, job, folder, guard_name(slot), control, cookiefile, abandon_on_cancel=True
                )
            else:
                audio = job.audio_format or self.settings.audio_format

                def on_probe(probed: ProbeResult) -> None:  # in the job's thread
                    trio.from_thread.run_sync(self._tell_probed, job, probed)

                try:
                    result = await trio.to_thread.run_sync(
                        self.engine.download, slot, job, folder, audio, on_probe, abandon_on_cancel=True
                    )
                except Exception as exc:  # a saved video format met an image post: the gateway asks
                    result = await self._image_post(exc, job, slot, control, cookiefile)
            self.circuits.record(breaker, job.job_id, None)
            keep = await self._done(job, result, folder, trio.current_time() - began)
        except trio.Cancelled:
            keep = True  # shut down while waiting for an answer: the sweeper knows whose they are
            raise
        except Exception as exc:
            if control.cancel.is_set():  # stopped on purpose: the exception is how yt-dlp says so
                await self._stopped(running, breaker)
            else:
                await self._failed(job, self._classify(exc, job, slot, breaker, cookie))
        finally:
            log.debug("job %d: %s took %.0f ms", job.job_id, job.task, (trio.current_time() - t0) * 1000)
            if self.running.get(job.job_id) is running:  # not taken over by a later attempt
                del self.running[job.job_id]
            self.ctx.busy = len(self.running)
            if not keep or self.ship is not None:
                spool.remove(folder, job.job_id)

    async def _image_post(
        self, exc: Exception, job: JobAssign, slot: int, control: Control, cookiefile: Path | None
    ) -> ProbeResult:
        """yt-dlp failed with `exc`: gallery-dl's probe of the link when it is an image post
        (`downloader.gallery_jobs`), reported as a probe so that the gateway offers the post's
        choice; otherwise `exc` stands."""
        refused = bool(self.egress.refusals(guard_name(slot)))
        if control.cancel.is_set() or not self.gallery().takes_over(exc, job.url, refused):
            raise exc
        log.info("job %d: yt-dlp found no video (%s); asking gallery-dl", job.job_id, exc)
        try:
            return await trio.to_thread.run_sync(
                self.gallery().probe, job, guard_name(slot), control, cookiefile, abandon_on_cancel=True
            )
        except Exception as second:
            refused = isinstance(second, EgressRefused) or bool(self.egress.refusals(guard_name(slot)))
            if refused or control.cancel.is_set() or classify(second).cls is not ErrorClass.INTERNAL:
                raise
            # gallery-dl could not read it either, for no reason it names: yt-dlp's answer stands
            # (raised below, outside this block, so that gallery-dl's error is not in its chain)
            log.info("job %d: gallery-dl failed too (%s: %s)", job.job_id, type(second).__name__, second)
        raise exc

    def gallery(self) -> GalleryJobs:
        if self._gallery is None:
            from downloader.gallery_jobs import GalleryJobs  # gallery-dl: only once a link needs it

            self._gallery = GalleryJobs(self.settings, self.egress)
        return self._gallery

    def _classify(self, exc: Exception, job: JobAssign, slot: int, breaker: str, cookie: Path | None) -> Failure:
        """The failure of a try, counted against the platform's breaker and the cookie file."""
        refused = self.egress.refusals(guard_name(slot))
        guard = exc if isinstance(exc, EgressRefused) else refused[0] if refused else None
        failure = classify(exc) if guard is None else guard_failure(guard)
        self.circuits.record(breaker, job.job_id, failure)
        if cookie is not None:
            self.cookies.after_failure(cookie, failure)
        if failure.cls is ErrorClass.DISK_FULL:
            self.alert("disk", "alert_disk_full", path=str(self.settings.spool_dir))
        if guard is not None:  # the guard says which rule refused the link: that is the user's answer
            failure = msgspec.structs.replace(failure, text_key=REFUSAL_KEYS[guard.reason])
        return failure

    async def _stopped(self, running: Running, breaker: str) -> None:
        job = running.job
        why = running.stopped_because or "cancelled"
        log.info("job %d stopped: %s", job.job_id, why)
        self.circuits.record(breaker, job.job_id, Failure(ErrorClass.CANCELLED, why))
        if running.handing_back:
            await self._report(JobHandBack(job_id=job.job_id, lease=job.lease, worker=self.ctx.name))

    async def _claim(self, job: JobAssign, probe: Probe) -> bool:
        """A probe found a plain file (no question to ask): may the job be its download, at once?"""
        size = next((c.size for c in probe.choices if c.key == "file"), 0)
        with trio.move_on_after(self.settings.heartbeat_timeout):
            answer = await self.jobs.report(
                JobClaim(job_id=job.job_id, lease=job.lease, worker=self.ctx.name, size=size)
            )
            return answer.accepted
        return False  # no gateway to ask: the probe's findings go back, the download comes later

    def _tell_probed(self, job: JobAssign, probed: ProbeResult | DownloadResult) -> None:
        """News for the jobs waiting for the same media: the download itself goes on."""
        event = JobProbed(
            job_id=job.job_id, lease=job.lease, worker=self.ctx.name, media_key=probed.media_key, probe=probed.probe
        )
        if not self.jobs.send_nowait(event):
            log.warning("job %d: the gateway's queue is full; the probe's findings were not passed on", job.job_id)

    async def _done(self, job: JobAssign, result: ProbeResult | DownloadResult, folder: Path, took_s: float) -> bool:
        """Report the result; True when its files are handed over (the gateway accepted them)."""
        if isinstance(result, ProbeResult):
            probed = JobProbed(
                job_id=job.job_id, lease=job.lease, worker=self.ctx.name, media_key=result.media_key, probe=result.probe
            )
            await self._report(probed)
            return False
        if job.task == "probe":  # fetched in the probe's stride: the gateway hears what it found now
            self._tell_probed(job, result)
        files = [
            DownloadedFile(
                path=str(f.path),
                kind=f.kind,
                size=f.size,
                duration=f.duration,
                width=f.width,
                height=f.height,
                thumbnail=str(f.thumbnail) if f.thumbnail else "",
                part=f.part,
                parts=f.parts,
            )
            for f in result.files
        ]
        home = str(folder)
        if self.ship is not None:
            files, home = await self.ship(job, files)
        report = JobDownloaded(
            job_id=job.job_id,
            lease=job.lease,
            worker=self.ctx.name,
            media_key=result.media_key,
            format_key=result.format_key,
            title=result.title,
            performer=result.performer,
            files=files,
            folder=home,
            took_s=took_s,
        )
        if await self._report(report):
            return True
        log.info(
            "job %d: the gateway refused the download of lease %d (the job moved on); removing it",
            job.job_id,
            job.lease,
        )
        return False

    async def _failed(self, job: JobAssign, failure: Failure) -> None:
        recorded = for_job(failure, self.settings)
        await self._report(JobFailed(job_id=job.job_id, lease=job.lease, worker=self.ctx.name, failure=recorded))

    async def _report(self, report: WorkerReport) -> bool:
        """Send a result and wait for the gateway's answer (sent again until it comes)."""
        answer = await self.jobs.report(report)
        return answer.accepted

    async def _news(self, msg: WorkerEvent) -> None:
        with trio.move_on_after(NEWS_SEND_TIMEOUT) as scope:
            await self.jobs.send(msg)
        if scope.cancelled_caught:
            log.warning("the gateway took no %s for %.0f s; dropped it", type(msg).__name__, NEWS_SEND_TIMEOUT)

    def _supersede(self, job: JobAssign) -> None:
        """The gateway took the job back from this worker (it seemed silent, being busy) and gave
        it to it again: the older attempt stops, and the new one takes its place."""
        older = self.running.get(job.job_id)
        if older is not None and not older.control.cancel.is_set():
            older.stopped_because = f"superseded by lease {job.lease}"
            older.control.cancel.set()
            self.egress.abort(guard_name(older.slot))

    def _on_cancel(self, cancel: JobCancel) -> None:
        """The gateway says the job left this worker: stop it (its files go with it)."""
        running = self.running.get(cancel.job_id)
        if running is None or running.job.lease != cancel.lease or running.control.cancel.is_set():
            return
        running.stopped_because = cancel.why or "the gateway took the job back"
        running.control.cancel.set()
        self.egress.abort(guard_name(running.slot))  # a fetch blocked in a slow site ends now too

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
                await self._news(
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
        linked = False
        while True:
            held = [(r.job.job_id, r.job.lease) for r in self.running.values()]
            await self._news(WorkerJobs(worker=self.ctx.name, jobs=held, sent_at=time.time()))
            if self.jobs.linked and not linked:  # a gateway (re)connected: its mirror of the breakers
                for state in self.circuits.snapshot():
                    await self._news(state)
            linked = self.jobs.linked
            await trio.sleep(self.settings.heartbeat_interval)

    def _hand_back_all(self) -> None:
        for running in self.running.values():
            if running.control.cancel.is_set():
                continue
            running.handing_back = True
            running.stopped_because = "the worker is draining; handed back"
            running.control.cancel.set()
            self.egress.abort(guard_name(running.slot))
