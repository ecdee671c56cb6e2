"""Sending the outbox: claim due rows, pass each through the throttle, send, record the outcome.

Files and everything else are claimed separately: UPLOAD_CONCURRENCY uploads run at once in
their own tasks, so that a long upload never holds up an answer or a status. Each upload reports
its progress to the job's status message, is retried when it makes no progress for
UPLOAD_STALL_S (there is no total timeout), and stops within a fraction of a second when its job
is cancelled. A job's quiet status (`core.outbox`) gives way to the files waiting for the budget,
and the uploader never lets a job's file go while that status is on its way, nor the status once
a file of the job is ready: a status never lands after its file.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path

import sqlite_utils
import trio

from core import albums, outbox, spool
from core import jobs as job_rows
from core.backoff import SEND_RETRY
from core.callback_data import codec_for
from core.config import MIB, Settings
from core.db import write_tx
from core.failures import ErrorClass, Failure
from core.jobstates import JobState, sql_is
from core.logs import uid
from core.outbox import OutboxItem
from core.payloads import CallbackAnswer, InlineAnswer, SendMedia
from core.status import cancel_keyboard, progress_text
from core.telegram import (
    BadRequest,
    Blocked,
    ChatNotFound,
    FloodWait,
    MessageGone,
    NotModified,
    StaleFileId,
    TelegramError,
    TelegramPort,
    TooLarge,
    Transient,
)
from ipc.channels import Puller, Pusher
from ipc.messages import OutboxNotice, UploadEvent
from uploader import media
from uploader.albums import missing_files, send_album
from uploader.caption import build_caption
from uploader.deliver import NoTarget, deliver, send_file
from uploader.throttle import SendBudget, Thinned, Unsent

log = logging.getLogger("uploader.sender")

IDLE_POLL = 1.0  # seconds between looks at the outbox when no notice arrives
CANCEL_POLL = 0.5  # seconds between looks for cancelled jobs among the uploads
STALL_CHECK = 1.0  # seconds between looks at an upload's progress
DRAIN_SHARE = 0.5  # of SHUTDOWN_GRACE: how long a draining uploader lets its claimed sends finish
# Quiet statuses may wait for the budget up to QUIET_YIELD_S: at most this share of the sends in
# flight, so that answers always find room in the window.
QUIET_SHARE = 0.25


@dataclass
class Upload:
    item: OutboxItem
    scope: trio.CancelScope
    last_progress: float  # trio clock
    upload: bool  # bytes from the spool (takes an upload slot), not a re-send by file_id
    sent: int = 0
    why_stopped: str = ""
    shown_at: float = 0.0
    shown: str = ""


class OutboxSender:
    def __init__(self, settings: Settings, db: sqlite_utils.Database, port: TelegramPort, events: Pusher) -> None:
        self.settings = settings
        self.db = db
        self.port = port
        self.events = events  # to the gateway: a job's files are out
        self.budget = SendBudget(settings)
        self.codec = codec_for(settings.data_dir)
        self.wake = trio.Event()
        self.in_flight = 0
        self.uploads: dict[int, Upload] = {}  # outbox id -> upload running
        self.showing: set[int] = set()  # jobs whose quiet status is being sent: their files wait
        self.quiet_in_flight = 0

    async def listen(self, inbox: Puller) -> None:
        """Notices only wake the claim loop; the rows themselves are the truth."""
        while True:
            if isinstance(await inbox.recv(), OutboxNotice):
                self.wake.set()

    async def run(self, draining: trio.Event, concurrency: int) -> None:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(self._watch_uploads)
            while not draining.is_set():
                claimed = False
                uploading = [u.item.chat_id for u in self.uploads.values() if u.upload]
                free_uploads = self.settings.upload_concurrency - len(uploading)
                if free_uploads > 0:
                    for item in outbox.claim(
                        self.db, free_uploads, files=True, busy_chats=uploading, busy_jobs=self.showing
                    ):
                        claimed = True
                        nursery.start_soon(self._upload, item)
                free = concurrency - self.in_flight
                if free > 0:
                    quiet_room = int(concurrency * QUIET_SHARE) - self.quiet_in_flight
                    for item in outbox.claim(
                        self.db, free, files=False, busy_jobs=self.showing, quiet_limit=quiet_room
                    ):
                        claimed = True
                        self.in_flight += 1
                        if isinstance(item.payload, SendMedia):  # a re-send by file_id: no bytes to upload
                            nursery.start_soon(self._resend_counted, item)
                        else:
                            nursery.start_soon(self._send_counted, item)
                if not claimed:
                    self.wake = trio.Event()
                    with trio.move_on_after(self._idle_for()):
                        await _first(self.wake, draining)
                else:
                    await trio.lowlevel.checkpoint()
            await self._finish_in_flight()
            nursery.cancel_scope.cancel()

    async def _finish_in_flight(self) -> None:
        """Draining: nothing more is claimed, and what is claimed gets a share of the grace to
        finish. A send cut mid-call may have reached Telegram unrecorded and would go again after
        the restart (a second copy in the chat); what is still on its way at the end is cut."""
        with trio.move_on_after(self.settings.shutdown_grace * DRAIN_SHARE):
            while True:
                self.wake = trio.Event()  # before the look: a send that ends after it wakes us
                if not self.in_flight and not self.uploads:
                    return
                await self.wake.wait()

    def _idle_for(self) -> float:
        """Until the next look at the outbox: IDLE_POLL, or less when a row falls due sooner (a
        quiet status due STATUS_DELAY_S after its link)."""
        due = outbox.next_due(self.db)
        return IDLE_POLL if due is None else min(IDLE_POLL, max(0.0, due - time.time()))

    # ---- everything but files ---------------------------------------------------------------

    async def _resend_counted(self, item: OutboxItem) -> None:
        try:
            await self._upload(item)
        finally:
            self.in_flight -= 1
            self.wake.set()

    async def _send_counted(self, item: OutboxItem) -> None:
        try:
            await self.send_one(item)
        finally:
            self.in_flight -= 1
            self.wake.set()

    async def send_one(self, item: OutboxItem) -> None:
        try:
            if isinstance(item.payload, CallbackAnswer | InlineAnswer):  # an answer is no message in a chat
                message_id = await self._deliver(item)
            elif item.role == outbox.ROLE_QUIET_STATUS:
                message_id = await self._send_quiet(item)
            else:
                # A progress edit that can't go soon gives way: a fresher one will follow.
                wait = self.settings.progress_edit_interval if item.role == outbox.ROLE_PROGRESS else None
                async with self.budget.sending(item.chat_id, item.priority, max_wait=wait):
                    message_id = await self._deliver(item)
        except Thinned:
            outbox.mark_dropped(self.db, item.id, "thinned: the send budget was needed elsewhere")
        except Unsent:
            outbox.mark_dropped(self.db, item.id, "moot: a file of its job is ready")
        except NotModified:
            outbox.mark_sent(self.db, item.id)
        except NoTarget as exc:
            outbox.mark_dropped(self.db, item.id, str(exc))
        except MessageGone as exc:
            outbox.mark_dropped(self.db, item.id, str(exc))  # the user deleted it, or it is gone: harmless
        except BadRequest as exc:
            log.error("outbox %d to chat %s refused: %s", item.id, uid(item.chat_id), exc)
            outbox.mark_failed(self.db, item.id, str(exc))
        except TelegramError as exc:
            self._trouble(item, exc)
        except Exception as exc:  # a bug on one row ends that row, never the uploader
            log.exception(
                "outbox %d (job %s) to chat %s: failed while sending", item.id, item.job_id, uid(item.chat_id)
            )
            outbox.mark_failed(self.db, item.id, f"{type(exc).__name__}: {exc}")
        else:
            outbox.mark_sent(self.db, item.id, message_id)

    async def _deliver(self, item: OutboxItem) -> int | None:
        """The call, once its slot is granted: marked begun first (a death from here on counts
        against the row), so a row that dies while only waiting for its slot goes again uncounted."""
        outbox.mark_started(self.db, item.id)
        return await deliver(self.port, item, self.settings.caption_signature)

    async def _send_quiet(self, item: OutboxItem) -> int | None:
        """A quiet status gives way to the files waiting for the budget (the one that makes it moot
        may be among them) until it has been due QUIET_YIELD_S; then it goes as an answer."""
        waited = max(0.0, time.time() - item.not_before)
        self.quiet_in_flight += 1
        try:
            yield_for = max(0.0, outbox.QUIET_YIELD_S - waited)
            async with self.budget.sending(item.chat_id, outbox.PRIORITY_STATUS, max_wait=yield_for):
                return await self._quiet_now(item)
        except Thinned:
            async with self.budget.sending(item.chat_id, outbox.PRIORITY_ANSWER):
                return await self._quiet_now(item)
        finally:
            self.quiet_in_flight -= 1

    async def _quiet_now(self, item: OutboxItem) -> int | None:
        """Send the granted status unless a file of its job is ready by now (`Unsent`: the slot is
        given back); its job's files wait until it is sent. No checkpoint between the look and
        the mark, so no file is claimed in between."""
        if item.job_id is not None and outbox.moot_statuses(self.db, [(item.id, item.job_id)]):
            raise Unsent
        job = item.job_id if item.job_id is not None else -1
        self.showing.add(job)
        try:
            return await self._deliver(item)
        finally:
            self.showing.discard(job)

    def _trouble(self, item: OutboxItem, exc: TelegramError) -> None:
        """FloodWait, a blocked user, a lost chat, a transient error: the common outcomes."""
        if isinstance(exc, FloodWait):
            log.warning("outbox %d: %s; waiting exactly that", item.id, exc)
            self.budget.flood(item.chat_id, exc.seconds, exc.scope)
            outbox.retry_later(self.db, item.id, exc.seconds, str(exc))
        elif isinstance(exc, Blocked | ChatNotFound):
            log.info("outbox %d: chat %s unreachable (%s)", item.id, uid(item.chat_id), type(exc).__name__)
            if isinstance(exc, Blocked):
                with write_tx(self.db):
                    self.db.execute("UPDATE users SET blocked_bot = 1 WHERE id = ?", [item.chat_id])
            outbox.mark_failed(self.db, item.id, type(exc).__name__.lower())
        elif isinstance(exc, Transient) and item.attempts < self.settings.send_attempts:
            delay = SEND_RETRY.delay(item.attempts)
            log.warning("outbox %d: %s; retry %d in %.1fs", item.id, exc, item.attempts, delay)
            outbox.retry_later(self.db, item.id, delay, str(exc))
        else:
            log.error(
                "outbox %d to chat %s: giving up after %d attempt(s): %s",
                item.id,
                uid(item.chat_id),
                item.attempts,
                exc,
            )
            outbox.mark_failed(self.db, item.id, str(exc))

    # ---- files --------------------------------------------------------------------------------

    async def _upload(self, item: OutboxItem) -> None:
        payload = item.payload
        assert isinstance(payload, SendMedia)
        upload = Upload(item, trio.CancelScope(), trio.current_time(), upload=bool(payload.path))
        self.uploads[item.id] = upload
        after: media.AfterSend | None = None
        try:
            with upload.scope:
                after = await self._send_file(item, payload, upload)
            if after is None:  # stopped: cancelled, or stalled
                if upload.why_stopped == "stalled":
                    after = self._retry_file(item, payload, f"no progress for {self.settings.upload_stall_s:.0f} s")
                else:
                    after = media.file_dropped(self.db, item, payload, upload.why_stopped or "stopped")
        except Exception as exc:  # a bug on one row ends that row (and its job), never the uploader
            log.exception("outbox %d (job %s): the upload failed unexpectedly", item.id, item.job_id)
            after = media.file_failed(
                self.db, item, payload, Failure(ErrorClass.INTERNAL, f"{type(exc).__name__}: {exc}")
            )
        finally:
            del self.uploads[item.id]
            self.wake.set()
        if after is not None:
            await self._after(item, after)

    async def _send_file(self, item: OutboxItem, payload: SendMedia, upload: Upload) -> media.AfterSend | None:
        job = job_rows.load(self.db, item.job_id, self.settings) if item.job_id is not None else None
        lang = job.lang if job else self.settings.default_language
        caption = payload.caption or build_caption(
            payload.title,
            payload.source_url,
            self.settings.caption_signature,
            part=(payload.part, payload.parts) if payload.parts > 1 and not albums.is_key(payload.format_key) else None,
            lang=lang,
        )

        def progress(done: int, total: int) -> None:
            upload.last_progress = trio.current_time()
            upload.sent = done
            self._show_upload(upload, job, done, total)

        missing = _missing_files(payload) or missing_files(payload)
        if missing:
            return media.file_missing(self.db, item, payload, missing)
        self.budget.thin(item.chat_id)  # the progress edits waiting for this chat are moot now
        try:
            # The slot is held for the whole upload: Telegram counts the message when it is complete.
            async with self.budget.sending(item.chat_id, item.priority, count=max(1, len(payload.album))):
                outbox.mark_started(self.db, item.id)  # a death from here on counts against the row
                upload.last_progress = began = trio.current_time()
                if payload.album:  # no progress from an album: its items are small pictures and clips
                    album = await send_album(self.port, item, payload, caption)
                    sent = album[0]
                else:
                    album = None
                    sent = await send_file(self.port, item, payload, caption, progress if payload.path else None)
                took = trio.current_time() - began
        except TooLarge as exc:
            limit = self.port.upload_limit // MIB
            failure = Failure(ErrorClass.TOO_LARGE, str(exc), values={"limit": limit})
            return media.file_failed(self.db, item, payload, failure)
        except BadRequest as exc:
            if payload.file_id and isinstance(exc, StaleFileId):
                return media.file_id_refused(self.db, item, payload)
            return media.file_failed(self.db, item, payload, Failure(ErrorClass.INTERNAL, str(exc)))
        except Blocked as exc:
            self._trouble(item, exc)
            return media.file_failed(self.db, item, payload, Failure(ErrorClass.BLOCKED, str(exc)))
        except (FloodWait, Transient) as exc:
            if item.attempts >= self.settings.send_attempts and not isinstance(exc, FloodWait):
                return media.file_failed(self.db, item, payload, Failure(ErrorClass.NETWORK, str(exc)))
            self._trouble(item, exc)
            return media.AfterSend()
        except TelegramError as exc:
            return media.file_failed(self.db, item, payload, Failure(ErrorClass.INTERNAL, str(exc)))
        except OSError as exc:
            if exc.filename not in (payload.path, payload.thumbnail) or not exc.filename:
                raise  # not our file: an unexpected error of the send (the caller ends the row)
            if isinstance(exc, FileNotFoundError):  # it went between the look and the read
                return media.file_missing(self.db, item, payload, str(exc))
            # unreadable: one honest failure (the same bytes would fail again)
            return media.file_failed(self.db, item, payload, Failure(ErrorClass.INTERNAL, f"unreadable: {exc}"))
        return media.file_sent(self.db, item, payload, sent, took, album)

    def _retry_file(self, item: OutboxItem, payload: SendMedia, why: str) -> media.AfterSend | None:
        if item.attempts >= self.settings.send_attempts:
            return media.file_failed(self.db, item, payload, Failure(ErrorClass.NETWORK, why))
        log.warning("outbox %d (job %s): %s; uploading again", item.id, item.job_id, why)
        outbox.retry_later(self.db, item.id, SEND_RETRY.delay(item.attempts), why)
        return None

    def _show_upload(self, upload: Upload, job: job_rows.Job | None, done: int, total: int) -> None:
        """The status shows the upload once it takes a while (a fast one costs no edit)."""
        if job is None or not total:
            return
        now = trio.current_time()
        interval = self.settings.progress_edit_interval
        started = upload.shown_at or now
        if not upload.shown_at:
            upload.shown_at = now
        if now - started < interval or (upload.shown and now - upload.shown_at < interval):
            return
        target = job_rows.status_target(self.db, job)
        if target is None:
            return
        elapsed = max(1e-3, now - started)
        body = progress_text(job.lang, "uploading", done, total, done / elapsed, 0.0)
        if body == upload.shown:
            return
        upload.shown, upload.shown_at = body, now
        status_job = job.parent_id or job.id
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
        if item:
            self.wake.set()

    async def _after(self, item: OutboxItem, after: media.AfterSend) -> None:
        if after.spool_dir:
            spool.remove(Path(after.spool_dir), item.job_id)
        self._announce(after.notices)
        if after.event is not None:
            await self.tell_gateway(after.event)

    async def tell_gateway(self, event: UploadEvent) -> None:
        """The job's outcome, for the gateway (a lost one is found by its sweep in the rows)."""
        with trio.move_on_after(IDLE_POLL) as scope:
            await self.events.send(event)
        if scope.cancelled_caught:
            log.warning("job %d: the gateway took no %s; its sweep finds it", event.job_id, type(event).__name__)

    def _announce(self, notices: list[int]) -> None:
        if notices:
            self.wake.set()

    async def _watch_uploads(self) -> None:
        """Stop uploads whose job was cancelled, and uploads that stalled."""
        while True:
            await trio.sleep(min(CANCEL_POLL, STALL_CHECK))
            if not self.uploads:
                continue
            job_ids = {u.item.job_id: u for u in self.uploads.values() if u.item.job_id is not None}
            if job_ids:
                marks = ",".join("?" * len(job_ids))
                cancelled = {
                    r[0]
                    for r in self.db.execute(
                        f"SELECT id FROM jobs WHERE id IN ({marks}) AND state = {sql_is(JobState.CANCELLED)}",
                        list(job_ids),
                    ).fetchall()
                }
                for job_id in cancelled:
                    job_ids[job_id].why_stopped = "the job was cancelled"
                    job_ids[job_id].scope.cancel()
            stalled_before = trio.current_time() - self.settings.upload_stall_s
            for upload in self.uploads.values():
                if upload.item.payload and not upload.why_stopped and upload.last_progress < stalled_before:
                    upload.why_stopped = "stalled"
                    upload.scope.cancel()


def _missing_files(payload: SendMedia) -> str:
    """Why the spool files of a send are not there ("" when they are, or it goes by file_id)."""
    for name in (payload.path, payload.thumbnail):
        if name and not Path(name).is_file():
            return f"{name} is not in the spool"
    return ""


async def _first(*events: trio.Event) -> None:
    """Return when any of the events is set."""
    async with trio.open_nursery() as nursery:
        for event in events:

            async def wait(e: trio.Event = event) -> None:
                await e.wait()
                nursery.cancel_scope.cancel()

            nursery.start_soon(wait)
