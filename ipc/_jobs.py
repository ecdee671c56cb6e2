"""The job channel: the gateway hands jobs to downloaders that asked for them (credit-based)."""

from __future__ import annotations

import itertools
import logging
import os
import secrets
from collections import Counter, deque
from collections.abc import Sequence

import msgspec
import trio
import zmq
import zmq.utils.monitor

from ipc._channel import Channel, bound, decode_as, is_unreachable, single_frame, split_routed
from ipc.messages import CREDIT_KINDS, Credit, JobAssign, encode
from ipc.zmqtrio import DEFAULT_LINGER_MS, Socket, open_socket

__all__ = ["MAX_CREDITS_PER_MESSAGE", "QUICK_JOB_WAIT", "JobDispatcher", "JobWorker"]

log = logging.getLogger(__name__)

MAX_CREDITS_PER_MESSAGE = 10_000
"""A Credit asking for more slots than this is clamped (a bad peer must not balloon our memory)."""

QUICK_JOB_WAIT = 0.05
"""Seconds a waiting worker listens for its job alone before also watching its connection."""


class JobDispatcher(Channel):
    """Gateway side of the job channel: hands each job to a downloader that asked for one.

    Every `Credit(worker, n, kind)` a downloader sends entitles it to n more jobs of that kind of
    slot ("any", or "probe": a slot kept for probes, so that they never wait behind long
    downloads). Credits are served oldest first, so the longest-idle downloader gets the next job
    and a busy one (no credit) gets none. A downloader that is gone (EHOSTUNREACH under
    ROUTER_MANDATORY) loses its credits and the job goes to the next. Connections are told apart
    by a per-incarnation identity, so a restarted downloader never inherits its predecessor's
    credits.
    """

    def __init__(self, endpoint: str) -> None:
        super().__init__(*bound(zmq.ROUTER, endpoint, router_mandatory=1))
        # one entry per credit, oldest first, per kind of slot
        self._credits: dict[str, deque[bytes]] = {kind: deque() for kind in CREDIT_KINDS}
        self._names: dict[bytes, str] = {}  # connection identity -> worker name, while it holds credits
        self._held: Counter[bytes] = Counter()  # connection identity -> credits it holds
        self._lock = trio.Lock()

    async def dispatch(self, job: JobAssign, kinds: Sequence[str] = ("any",)) -> str:
        """Send `job` to a worker with a free slot of one of `kinds` (in that order of
        preference), waiting for one; returns the worker's name. `job.slot` is set to the kind
        of credit used."""
        try:
            self._lock.acquire_nowait()  # the common, uncontended case costs no extra yield
        except trio.WouldBlock:
            await self._lock.acquire()
        try:
            while True:
                if not any(self._credits[k] for k in kinds):
                    self._absorb_ready()
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
                self._on_frames(await self.socket.recv())
        finally:
            self._lock.release()

    async def wait_for_credit(self, kinds: Sequence[str] = CREDIT_KINDS) -> str:
        """Wait until a credit of one of `kinds` is held; return the first such kind (preferring
        the order given). Nothing is taken: `dispatch` spends it."""
        async with self._lock:
            while True:
                self._absorb_ready()
                for kind in kinds:
                    if self._credits[kind]:
                        return kind
                self._on_frames(await self.socket.recv())

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
        self._absorb_ready()
        order = [i for kind in CREDIT_KINDS for i in self._credits[kind]]
        return list(dict.fromkeys(self._names[i] for i in order))

    def free_slots(self, kind: str | None = None) -> int:
        """Jobs that can be dispatched right now without waiting (of one kind of slot, or all)."""
        self._absorb_ready()
        if kind is not None:
            return len(self._credits[kind])
        return sum(len(queue) for queue in self._credits.values())

    def _drop_identity(self, identity: bytes) -> None:
        for kind, queue in self._credits.items():
            self._credits[kind] = deque(i for i in queue if i != identity)
        self._names.pop(identity, None)
        self._held.pop(identity, None)

    def _spent(self, identity: bytes) -> str:
        """One credit of `identity` was used; returns its worker's name."""
        name = self._names.get(identity, "?")
        self._held[identity] -= 1
        if self._held[identity] <= 0:
            del self._held[identity]
            self._names.pop(identity, None)
        return name

    def _absorb_ready(self) -> None:
        if self.socket.closed:
            return
        while (frames := self.socket.recv_nowait()) is not None:
            self._on_frames(frames)

    def _on_frames(self, frames: list[bytes]) -> None:
        routed = split_routed(frames, "jobs")
        credit = None if routed is None else decode_as(routed[1], Credit, "jobs")
        if routed is None or credit is None:
            return
        slots = min(max(credit.slots, 0), MAX_CREDITS_PER_MESSAGE)
        if not slots or credit.kind not in self._credits:
            return
        identity = routed[0]
        self._names[identity] = credit.worker
        self._held[identity] += slots
        self._credits[credit.kind].extend(itertools.repeat(identity, slots))


class JobWorker(Channel):
    """Downloader side of the job channel.

    `next_job(kind)` asks for one job for a free slot of that kind (one Credit per free slot,
    not again while a request is outstanding) and waits for it. Several slots wait at once; one
    of them at a time reads the socket and files each job under the kind of slot it answers,
    waking the others. If the gateway restarts, the credits it held are lost with it, so on
    reconnecting the worker sends them again (it learns of the reconnect from the socket's
    monitor events).
    """

    def __init__(self, name: str, endpoint: str) -> None:
        self.name = name
        self.identity = f"{name}/{os.getpid()}/{secrets.token_hex(3)}".encode()
        raw = open_socket(zmq.DEALER, identity=self.identity)
        try:
            # The monitor must be listening before connect, or the first events are lost.
            events = zmq.EVENT_HANDSHAKE_SUCCEEDED | zmq.EVENT_DISCONNECTED
            self._link_events = Socket(raw.zmq.get_monitor_socket(events))
            raw.connect(endpoint)
        except BaseException:
            raw.close(0)
            raise
        super().__init__(raw, endpoint)
        self._linked = False  # connected to a gateway right now
        self._books = {kind: _Credits() for kind in CREDIT_KINDS}
        self._ready: dict[str, deque[JobAssign]] = {kind: deque() for kind in CREDIT_KINDS}
        self._reading = False  # a waiting slot is reading the socket for everyone
        self._arrived = trio.Event()  # set (and replaced) whenever jobs were filed or the reader left

    @property
    def outstanding(self) -> int:
        """Credits asked for and not yet answered by a job."""
        return sum(book.outstanding for book in self._books.values())

    async def next_job(self, kind: str = "any") -> JobAssign:
        """Ask for a job for a slot of `kind` (unless already asked) and wait for it."""
        book = self._books[kind]
        await trio.lowlevel.checkpoint()  # even when a job is ready: let other tasks run
        book.waiting += 1
        try:
            while True:
                self._absorb()
                if self._ready[kind]:
                    return self._ready[kind].popleft()
                await self._flush_credits()
                if self._reading:
                    await self._arrived.wait()
                    continue
                self._reading = True
                try:
                    await self._wait_job_or_link_event()
                finally:
                    self._reading = False
                    self._wake()
        finally:
            book.waiting -= 1

    async def grant(self, slots: int, kind: str = "any") -> None:
        """Ask for `slots` more jobs at once (for a worker that runs several, or a benchmark)."""
        await self._send_credit(kind, slots)

    def close(self, linger_ms: int = DEFAULT_LINGER_MS) -> None:
        if not self.socket.closed:
            self.socket.zmq.disable_monitor()
            self._link_events.close(0)
        super().close(linger_ms)

    def _wake(self) -> None:
        self._arrived.set()
        self._arrived = trio.Event()

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

    def _absorb(self) -> None:
        """File the jobs and connection events that are already here, without waiting."""
        while (frames := self._link_events.recv_nowait()) is not None:
            self._on_link_event(frames)
        filed = False
        while (frames := self.socket.recv_nowait()) is not None:
            filed |= self._file(frames)
        if filed:
            self._wake()

    def _file(self, frames: list[bytes]) -> bool:
        payload = single_frame(frames, "jobs")
        job = None if payload is None else decode_as(payload, JobAssign, "jobs")
        if job is None:
            return False
        kind = job.slot if job.slot in self._books else "any"
        self._books[kind].answered()
        self._ready[kind].append(job)
        return True

    async def _wait_job_or_link_event(self) -> None:
        """Wait for a job or a change of the connection, whichever comes first, and file it."""
        # A job usually follows the credit within a millisecond; only a longer wait pays for
        # the second task that watches the connection.
        with trio.move_on_after(QUICK_JOB_WAIT):
            while not self._file(await self.socket.recv()):
                pass
            return

        async def jobs(cancel: trio.CancelScope) -> None:
            while not self._file(await self.socket.recv()):
                pass
            cancel.cancel()

        async def link(cancel: trio.CancelScope) -> None:
            self._on_link_event(await self._link_events.recv())
            cancel.cancel()

        async with trio.open_nursery() as nursery:
            nursery.start_soon(jobs, nursery.cancel_scope)
            nursery.start_soon(link, nursery.cancel_scope)

    def _on_link_event(self, frames: list[bytes]) -> None:
        event = zmq.utils.monitor.parse_monitor_message(frames)["event"]
        if event == zmq.EVENT_HANDSHAKE_SUCCEEDED and not self._linked:
            self._linked = True
            for book in self._books.values():
                book.linked()
        elif event == zmq.EVENT_DISCONNECTED and self._linked:
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
