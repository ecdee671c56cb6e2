"""The job channel: one connection between the gateway and each downloader, for everything.

```
gateway (ROUTER, binds) ◀── Credit, JobStarted, JobProgress, WorkerJobs, BreakerState ── downloader (DEALER)
                        ◀── reports: JobProbed, JobDownloaded, JobFailed, JobClaim, JobHandBack
                        ──▶ JobAssign, ReportAck (to each report), JobCancel, CreditsDropped
```

One task reads each socket, on each side (`run`): it files what arrives where the others wait
for it, so that no message is ever taken by a task that is not waiting for it (the lost wake-up
of a slot that read a job meant for another slot while that one slept). The gateway hands jobs
to downloaders that asked for them (credit-based), and a downloader's reports are acknowledged:
it sends a report again, after the gateway restarted say, until the answer comes.
"""

from __future__ import annotations

import errno
import itertools
import logging
import os
import secrets
from collections import Counter, deque
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass

import msgspec
import trio
import zmq
import zmq.utils.monitor

from ipc._channel import Channel, bound, is_unreachable, single_frame, split_routed
from ipc.curve import apply_options
from ipc.messages import (
    CREDIT_KINDS,
    WORKER_EVENTS,
    Credit,
    CreditsDropped,
    FileAck,
    HostWelcome,
    JobAssign,
    JobCancel,
    Message,
    ReportAck,
    WorkerEvent,
    WorkerReport,
    decode,
    encode,
    note_drop,
)
from ipc.zmqtrio import DEFAULT_LINGER_MS, Socket, open_socket

__all__ = [
    "EVENTS_BUFFER",
    "MAX_CREDITS_PER_MESSAGE",
    "REPORT_RESEND_S",
    "Inbound",
    "JobDispatcher",
    "JobWorker",
    "Taker",
    "open_job_dispatcher",
    "open_job_worker",
]

log = logging.getLogger(__name__)

MAX_CREDITS_PER_MESSAGE = 10_000
"""A Credit asking for more slots than this is clamped (a bad peer must not balloon our memory)."""

EVENTS_BUFFER = 10_000
"""Events read and not yet handled by the gateway; past this the reader waits (back-pressure)."""

REPORT_RESEND_S = 5.0
"""A report not acknowledged within this long is sent again (also at once after a reconnect)."""


@dataclass(frozen=True)
class Taker:
    """The downloader a job went to: its name, and its connection (to answer it on)."""

    name: str
    identity: bytes


@dataclass(frozen=True)
class Inbound:
    """An event from a downloader, as the gateway's reader received it."""

    identity: bytes
    event: WorkerEvent
    received_at: float  # trio clock, when the reader took it off the socket


class JobDispatcher(Channel):
    """Gateway side of the job channel: hands each job to a downloader that asked for one.

    Every `Credit(worker, n, kind)` a downloader sends entitles it to n more jobs of that kind of
    slot ("any", or "probe": a slot kept for probes, so that they never wait behind long
    downloads). Credits are served oldest first, so the longest-idle downloader gets the next job
    and a busy one (no credit) gets none. A downloader that is gone (EHOSTUNREACH under
    ROUTER_MANDATORY) loses its credits and the job goes to the next. Connections are told apart
    by a per-incarnation identity, so a restarted downloader never inherits its predecessor's
    credits. The downloaders' events come out of `events`, in the order they arrived.
    """

    def __init__(
        self,
        endpoint: str,
        *,
        events_buffer: int = EVENTS_BUFFER,
        listen: str = "",
        listen_options: dict[str, int | bytes] | None = None,
        listen_first: str = "",
    ) -> None:
        """`listen`: a tcp:// address where downloader hosts join too, with `listen_options` (CURVE,
        `ipc.curve.server_options`) for that listener only; the local endpoint stays as it is.
        `listen_first`: when `listen` asks for any port, the address to try before any other (the
        one an earlier gateway bound: the joined hosts know that port)."""
        # HANDOVER: a joined host whose link was cut reconnects under the same identity and takes
        # over its old connection (the listening side may not have noticed the cut yet).
        super().__init__(*bound(zmq.ROUTER, endpoint, router_mandatory=1, router_handover=1))
        self.listening = ""  # the bound tcp:// address (its port, when `listen` asked for any)
        if listen:
            try:
                apply_options(self.socket, listen_options or {})
                self.listening = self._listen(listen, listen_first)
            except BaseException:
                self.close(0)  # the local endpoint is free for the next gateway
                raise
        # Messages that are not about jobs (files streaming home, a joined host's hello and
        # telemetry) go here, from the one reader: `ipc.hosts.RemoteHosts.received`.
        self.on_other: Callable[[bytes, Message], Awaitable[None]] | None = None
        # one entry per credit, oldest first, per kind of slot
        self._credits: dict[str, deque[bytes]] = {kind: deque() for kind in CREDIT_KINDS}
        self._names: dict[bytes, str] = {}  # connection identity -> worker name, while it holds credits
        self._held: Counter[bytes] = Counter()  # connection identity -> credits it holds
        self._lock = trio.Lock()
        self._credited = trio.Event()  # set (and replaced) whenever credits arrive
        self._send_events, self.events = trio.open_memory_channel[Inbound](events_buffer)

    def _listen(self, listen: str, first: str) -> str:
        if not listen.endswith(":0"):
            return self.socket.bind(listen)
        if first:
            try:
                return self.socket.bind(first)
            except zmq.ZMQError as exc:
                if exc.errno != errno.EADDRINUSE:
                    raise
                log.warning("%s, where downloader hosts joined before, is taken; listening on another port", first)
        return self.socket.bind(listen[:-1] + "*")  # ZeroMQ spells "any free port" as *

    async def run(self, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """The one reader of the socket: credits are booked, events go to `events`."""
        task_status.started()
        async with self._send_events:
            while True:
                frames = await self.socket.recv()
                await self._on_frames(frames)

    async def dispatch(self, job: JobAssign, kinds: Sequence[str] = ("any",)) -> Taker:
        """Send `job` to a worker with a free slot of one of `kinds` (in that order of
        preference), waiting for one; returns the worker. `job.slot` is set to the kind of
        credit used."""
        try:
            self._lock.acquire_nowait()  # the common, uncontended case costs no extra yield
        except trio.WouldBlock:
            await self._lock.acquire()
        try:
            while True:
                credited = self._credited
                for kind in kinds:
                    queue = self._credits[kind]
                    while queue:
                        identity = queue.popleft()
                        payload = encode(msgspec.structs.replace(job, slot=kind))
                        try:
                            await self.socket.send([identity, payload])
                        except zmq.ZMQError as exc:
                            if not is_unreachable(exc):
                                raise
                            log.info("worker %s is gone; dropping its credits", self._names.get(identity, "?"))
                            self._drop_identity(identity)
                            continue
                        except BaseException:
                            queue.appendleft(identity)  # not sent (sends are all-or-nothing)
                            raise
                        return self._spent(identity)
                await credited.wait()
        finally:
            self._lock.release()

    async def wait_for_credit(self, kinds: Sequence[str] = CREDIT_KINDS) -> str:
        """Wait until a credit of one of `kinds` is held; return the first such kind (preferring
        the order given). Nothing is taken: `dispatch` spends it."""
        while True:
            credited = self._credited
            for kind in kinds:
                if self._credits[kind]:
                    return kind
            await credited.wait()

    def drop_credits(self, identity: bytes) -> None:
        """Forget the credits of a connection whose worker went silent, and tell it (if it is
        alive after all, it asks again): no job waits in the queue of a stopped worker."""
        if self._held.get(identity):
            log.info("worker %s is silent; its free slots are forgotten", self._names.get(identity, "?"))
        self._drop_identity(identity)
        self.send_nowait(identity, CreditsDropped())

    def send_nowait(self, identity: bytes, msg: ReportAck | JobCancel | CreditsDropped | FileAck | HostWelcome) -> bool:
        """Answer a downloader on its connection; False if it is gone or its queue is full (the
        answer is lost: a report is sent again, a cancel repeated at the worker's next WorkerJobs)."""
        try:
            return self.socket.send_nowait([identity, encode(msg)])
        except zmq.ZMQError as exc:
            if is_unreachable(exc):
                return False
            raise

    def forget(self, worker: str) -> None:
        """Drop every credit of `worker`, known to be dead or stuck.

        Not needed for a worker that exited: its credits go at the first failed send. A worker
        that is in fact alive keeps waiting for the jobs it asked for and will not ask again
        until its connection to the gateway is re-established.
        """
        for identity in [i for i, name in self._names.items() if name == worker]:
            self._drop_identity(identity)

    def free_workers(self) -> list[str]:
        """Names of workers holding at least one credit, the next to get a job first."""
        order = [i for kind in CREDIT_KINDS for i in self._credits[kind]]
        return list(dict.fromkeys(self._names[i] for i in order))

    def free_slots(self, kind: str | None = None) -> int:
        """Jobs that can be dispatched right now without waiting (of one kind of slot, or all)."""
        if kind is not None:
            return len(self._credits[kind])
        return sum(len(queue) for queue in self._credits.values())

    def _drop_identity(self, identity: bytes) -> None:
        for kind, queue in self._credits.items():
            self._credits[kind] = deque(i for i in queue if i != identity)
        self._names.pop(identity, None)
        self._held.pop(identity, None)

    def _spent(self, identity: bytes) -> Taker:
        """One credit of `identity` was used; returns its worker."""
        name = self._names.get(identity, "?")
        self._held[identity] -= 1
        if self._held[identity] <= 0:
            del self._held[identity]
            self._names.pop(identity, None)
        return Taker(name, identity)

    async def _on_frames(self, frames: list[bytes]) -> None:
        routed = split_routed(frames, "jobs")
        msg = None if routed is None else decode(routed[1])
        if routed is None or msg is None:
            return
        if isinstance(msg, Credit):
            self._on_credit(routed[0], msg)
        elif isinstance(msg, WORKER_EVENTS):
            await self._send_events.send(Inbound(routed[0], msg, trio.current_time()))
        elif self.on_other is not None:
            await self.on_other(routed[0], msg)
        else:
            name = type(msg).__name__
            note_drop("unexpected type", f"jobs:{name}", "%s on the jobs channel", name)

    def _on_credit(self, identity: bytes, credit: Credit) -> None:
        slots = min(max(credit.slots, 0), MAX_CREDITS_PER_MESSAGE)
        if not slots or credit.kind not in self._credits:
            return
        self._names[identity] = credit.worker
        self._held[identity] += slots
        self._credits[credit.kind].extend(itertools.repeat(identity, slots))
        self._credited.set()
        self._credited = trio.Event()


class JobWorker(Channel):
    """Downloader side of the job channel.

    `next_job(kind)` asks for one job for a free slot of that kind (one Credit per free slot,
    not again while a request is outstanding) and waits for it; `report` sends a result and waits
    for the gateway's answer; `send` sends news. `run` is the one reader of the socket: it files
    each job under the kind of slot it answers, hands answers to the reports waiting for them,
    and passes cancels to `on_cancel`. If the gateway restarts, the credits it held are lost with
    it, so on reconnecting the worker sends them again, and the reports not yet answered too (it
    learns of the reconnect from the socket's monitor events).
    """

    def __init__(
        self,
        name: str,
        endpoint: str,
        *,
        on_cancel: Callable[[JobCancel], None] | None = None,
        socket: Socket | None = None,
        options: dict[str, int | bytes] | None = None,
    ) -> None:
        """`socket`: an already connected DEALER in place of a new one (tests drive the reader with it);
        `options`: socket options set before connecting (CURVE on a joined host, `ipc.curve`)."""
        self.name = name
        self.identity = f"{name}/{os.getpid()}/{secrets.token_hex(3)}".encode()
        self.on_cancel = on_cancel or (lambda cancel: log.info("cancel of job %d unheeded", cancel.job_id))
        self.on_file: Callable[[FileAck], None] = lambda ack: None  # a file streaming home (ipc.filestream)
        self._link_events: Socket | None = None
        if socket is None:
            raw = open_socket(zmq.DEALER, identity=self.identity)
            apply_options(raw, options or {})
            try:
                # The monitor must be listening before connect, or the first events are lost.
                events = zmq.EVENT_HANDSHAKE_SUCCEEDED | zmq.EVENT_DISCONNECTED
                self._link_events = Socket(raw.zmq.get_monitor_socket(events))
                raw.connect(endpoint)
            except BaseException:
                raw.close(0)
                raise
            socket = raw
        super().__init__(socket, endpoint)
        self._linked = self._link_events is None  # a socket given without its monitor: taken as linked
        self._books = {kind: _Credits() for kind in CREDIT_KINDS}
        self._ready: dict[str, deque[JobAssign]] = {kind: deque() for kind in CREDIT_KINDS}
        self._changed = trio.Event()  # set (and replaced) when jobs were filed or the link changed
        self._answers: dict[tuple[int, int, str], ReportAck] = {}  # answers not yet taken by `report`
        self._asking: set[tuple[int, int, str]] = set()  # reports waiting for their answer
        self._answered = trio.Event()  # set (and replaced) when an answer arrived or the link came back
        self._relinked = trio.Event()  # set (and replaced) when the gateway (re)connects

    @property
    def outstanding(self) -> int:
        """Credits asked for and not yet answered by a job."""
        return sum(book.outstanding for book in self._books.values())

    @property
    def linked(self) -> bool:
        return self._linked

    @property
    def relinked(self) -> trio.Event:
        """Set when the gateway next (re)connects (a fresh event after each)."""
        return self._relinked

    @property
    def unclaimed(self) -> int:
        """Jobs received and not yet taken by a slot."""
        return sum(len(queue) for queue in self._ready.values())

    async def run(self, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """The one reader of the socket (and of its link events)."""
        async with trio.open_nursery() as nursery:
            if self._link_events is not None:
                nursery.start_soon(self._read_link_events)
            task_status.started()
            while True:
                self._on_frames(await self.socket.recv())

    async def next_job(self, kind: str = "any") -> JobAssign:
        """Ask for a job for a slot of `kind` (unless already asked) and wait for it."""
        book = self._books[kind]
        await trio.lowlevel.checkpoint()  # even when a job is ready: let other tasks run
        book.waiting += 1
        try:
            while True:
                changed = self._changed  # before looking: a change while we send is not missed
                if self._ready[kind]:
                    return self._ready[kind].popleft()
                await self._flush_credits()
                await changed.wait()
        finally:
            book.waiting -= 1

    async def grant(self, slots: int, kind: str = "any") -> None:
        """Ask for `slots` more jobs at once (for a worker that runs several, or a benchmark)."""
        await self._send_credit(kind, slots)

    async def send(self, msg: WorkerEvent) -> None:
        """Send news (progress, the jobs held, a breaker's state): no answer is awaited."""
        await self.socket.send([encode(msg)])

    def send_nowait(self, msg: WorkerEvent) -> bool:
        return self.socket.send_nowait([encode(msg)])

    async def report(self, msg: WorkerReport, resend_s: float = REPORT_RESEND_S) -> ReportAck:
        """Send a report and wait for the gateway's answer, sending it again every `resend_s`
        and at once whenever the gateway (re)connects. Cancel it to give up waiting."""
        key = (msg.job_id, msg.lease, type(msg).__name__)
        self._asking.add(key)
        try:
            while True:
                relinked = self._relinked
                await self.socket.send([encode(msg)])
                with trio.move_on_after(resend_s):
                    while key not in self._answers and not relinked.is_set():
                        await self._answered.wait()  # set by an answer, and by a reconnect
                if key in self._answers:
                    return self._answers.pop(key)
                log.info("job %d: no answer to %s yet; sending it again", msg.job_id, key[2])
        finally:
            self._asking.discard(key)
            self._answers.pop(key, None)

    def close(self, linger_ms: int = DEFAULT_LINGER_MS) -> None:
        if not self.socket.closed and self._link_events is not None:
            self.socket.zmq.disable_monitor()
            self._link_events.close(0)
        super().close(linger_ms)

    def _wake(self) -> None:
        self._changed.set()
        self._changed = trio.Event()

    async def _flush_credits(self) -> None:
        for kind, book in self._books.items():
            if book.to_resend and self._linked:
                count, book.to_resend = book.to_resend, 0
                log.info("gateway reconnected; asking again for %d job(s) (%s slots)", count, kind)
                await self._send_credit(kind, count, counted=False)
            # A job already filed for a slot that has not yet woken to take it answers that slot:
            # asking again for it would bring one job more than there are free slots.
            missing = book.waiting - book.outstanding - len(self._ready[kind])
            if missing > 0:
                await self._send_credit(kind, missing)

    async def _send_credit(self, kind: str, slots: int, counted: bool = True) -> None:
        book = self._books[kind]
        # Count first: the send cannot be half done, and a cancelled one is retried next time.
        book.sent(slots, self._linked)
        try:
            await self.socket.send([encode(Credit(worker=self.name, slots=slots, kind=kind))])
        except BaseException:
            book.sent(-slots, self._linked)
            if not counted:
                book.to_resend += slots
            raise

    def _on_frames(self, frames: list[bytes]) -> None:
        payload = single_frame(frames, "jobs")
        msg: Message | None = None if payload is None else decode(payload)
        if isinstance(msg, JobAssign):
            kind = msg.slot if msg.slot in self._books else "any"
            self._books[kind].answered()
            self._ready[kind].append(msg)
            self._wake()
        elif isinstance(msg, ReportAck):
            key = (msg.job_id, msg.lease, msg.report)
            if key in self._asking:
                self._answers[key] = msg
                self._answered.set()
                self._answered = trio.Event()
        elif isinstance(msg, JobCancel):
            self.on_cancel(msg)
        elif isinstance(msg, FileAck):
            self.on_file(msg)
        elif isinstance(msg, CreditsDropped):
            for book in self._books.values():
                book.unlinked()  # as if the gateway had gone: the unanswered credits are asked again
            log.info("the gateway forgot this worker's free slots; asking again")
            self._wake()
        elif msg is not None:
            name = type(msg).__name__
            note_drop("unexpected type", f"jobs:{name}", "%s on the jobs channel", name)

    async def _read_link_events(self) -> None:
        assert self._link_events is not None
        while True:
            self._on_link_event(await self._link_events.recv())

    def _on_link_event(self, frames: list[bytes]) -> None:
        event = zmq.utils.monitor.parse_monitor_message(frames)["event"]
        if event == zmq.EVENT_HANDSHAKE_SUCCEEDED and not self._linked:
            self._linked = True
            for book in self._books.values():
                book.linked()
            self._relinked.set()
            self._relinked = trio.Event()
            self._answered.set()  # the reports waiting for answers send again
            self._answered = trio.Event()
            self._wake()
        elif event == zmq.EVENT_DISCONNECTED and self._linked:
            log.info("%s: the link to the gateway dropped; reconnecting", self.name)
            self._linked = False
            for book in self._books.values():
                book.unlinked()


class _Credits:
    """A worker's credits of one kind of slot: where they are, so that none is lost or doubled."""

    def __init__(self) -> None:
        self.waiting = 0  # next_job calls in progress
        self.delivered = 0  # credits sent while linked, not yet answered by a job
        self.queued = 0  # credits sent while unlinked: they wait in ZeroMQ's queue
        self.to_resend = 0  # credits a vanished gateway took with it

    @property
    def outstanding(self) -> int:
        return self.delivered + self.queued + self.to_resend

    def sent(self, slots: int, linked: bool) -> None:
        if linked:
            self.delivered += slots
        else:
            self.queued += slots

    def answered(self) -> None:
        if self.delivered:
            self.delivered -= 1
        elif self.queued:
            self.queued -= 1
        elif self.to_resend:
            self.to_resend -= 1  # the old gateway did answer after all

    def linked(self) -> None:
        self.delivered += self.queued  # ZeroMQ delivers what waited in its queue
        self.queued = 0

    def unlinked(self) -> None:
        self.to_resend += self.delivered
        self.delivered = 0


@asynccontextmanager
async def open_job_dispatcher(
    endpoint: str,
    *,
    listen: str = "",
    listen_options: dict[str, int | bytes] | None = None,
    listen_first: str = "",
    **options: int,
) -> AsyncIterator[JobDispatcher]:
    """A bound JobDispatcher with its reader running, closed on exit."""
    with JobDispatcher(
        endpoint, listen=listen, listen_options=listen_options, listen_first=listen_first, **options
    ) as jobs:
        async with trio.open_nursery() as nursery:
            await nursery.start(jobs.run)
            yield jobs
            nursery.cancel_scope.cancel()


@asynccontextmanager
async def open_job_worker(
    name: str,
    endpoint: str,
    *,
    on_cancel: Callable[[JobCancel], None] | None = None,
    options: dict[str, int | bytes] | None = None,
) -> AsyncIterator[JobWorker]:
    """A connected JobWorker with its reader running, closed on exit."""
    with JobWorker(name, endpoint, on_cancel=on_cancel, options=options) as worker:
        async with trio.open_nursery() as nursery:
            await nursery.start(worker.run)
            yield worker
            nursery.cancel_scope.cancel()
