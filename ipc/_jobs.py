"""The job channel: the gateway hands jobs to downloaders that asked for them (credit-based)."""

from __future__ import annotations

import itertools
import logging
import os
import secrets
from collections import deque

import trio
import zmq
import zmq.utils.monitor

from ipc._channel import Channel, bound, decode_as, is_unreachable, single_frame, split_routed
from ipc.messages import Credit, JobAssign, encode
from ipc.zmqtrio import DEFAULT_LINGER_MS, Socket, open_socket

__all__ = ["MAX_CREDITS_PER_MESSAGE", "QUICK_JOB_WAIT", "JobDispatcher", "JobWorker"]

log = logging.getLogger(__name__)

MAX_CREDITS_PER_MESSAGE = 10_000
"""A Credit asking for more slots than this is clamped (a bad peer must not balloon our memory)."""

QUICK_JOB_WAIT = 0.05
"""Seconds a waiting worker listens for its job alone before also watching its connection."""


class JobDispatcher(Channel):
    """Gateway side of the job channel: hands each job to a downloader that asked for one.

    Every `Credit(worker, n)` a downloader sends entitles it to n more jobs; credits are served
    oldest first, so the longest-idle downloader gets the next job and a busy one (no credit)
    gets none. A downloader that is gone (EHOSTUNREACH under ROUTER_MANDATORY) loses its
    credits and the job goes to the next. Connections are told apart by a per-incarnation
    identity, so a restarted downloader never inherits its predecessor's credits.
    """

    def __init__(self, endpoint: str) -> None:
        super().__init__(*bound(zmq.ROUTER, endpoint, router_mandatory=1))
        self._credits: deque[bytes] = deque()  # one entry per credit, oldest first
        self._names: dict[bytes, str] = {}  # connection identity -> worker name, while it holds credits
        self._held: dict[bytes, int] = {}  # connection identity -> credits it holds
        self._lock = trio.Lock()

    async def dispatch(self, job: JobAssign) -> str:
        """Send `job` to a worker with a free slot, waiting for one; returns the worker's name."""
        payload = encode(job)
        try:
            self._lock.acquire_nowait()  # the common, uncontended case costs no extra yield
        except trio.WouldBlock:
            await self._lock.acquire()
        try:
            while True:
                if not self._credits:
                    self._absorb_ready()
                while self._credits:
                    identity = self._credits.popleft()
                    try:
                        await self.socket.send([identity, payload])
                    except zmq.ZMQError as exc:
                        if not is_unreachable(exc):
                            raise
                        log.info("worker %s is gone; dropping its credits", self._names.get(identity, "?"))
                        self._drop_identity(identity)
                        continue
                    except BaseException:
                        self._credits.appendleft(identity)  # not sent (sends are all-or-nothing)
                        raise
                    return self._spent(identity)
                self._on_frames(await self.socket.recv())
        finally:
            self._lock.release()

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
        return list(dict.fromkeys(self._names[i] for i in self._credits))

    def free_slots(self) -> int:
        """Jobs that can be dispatched right now without waiting."""
        self._absorb_ready()
        return len(self._credits)

    def _drop_identity(self, identity: bytes) -> None:
        self._credits = deque(i for i in self._credits if i != identity)
        self._names.pop(identity, None)
        self._held.pop(identity, None)

    def _spent(self, identity: bytes) -> str:
        """One credit of `identity` was used; returns its worker's name."""
        name = self._names.get(identity, "?")
        self._held[identity] -= 1
        if not self._held[identity]:
            del self._held[identity], self._names[identity]
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
        if not slots:
            return
        identity = routed[0]
        self._names[identity] = credit.worker
        self._held[identity] = self._held.get(identity, 0) + slots
        self._credits.extend(itertools.repeat(identity, slots))


class JobWorker(Channel):
    """Downloader side of the job channel.

    `next_job()` asks for one job (one Credit per free slot, not again while a request is
    outstanding) and waits for it. If the gateway restarts, the credits it held are lost with
    it, so on reconnecting the worker sends them again (it learns of the reconnect from the
    socket's monitor events).
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
        self._waiting = 0  # next_job calls in progress
        self._linked = False  # connected to a gateway right now
        self._delivered = 0  # credits sent while linked, not yet answered by a job
        self._queued = 0  # credits sent while unlinked: they wait in ZeroMQ's queue
        self._to_resend = 0  # credits a vanished gateway took with it

    @property
    def outstanding(self) -> int:
        """Credits asked for and not yet answered by a job."""
        return self._delivered + self._queued + self._to_resend

    async def next_job(self) -> JobAssign:
        """Ask for a job (unless already asked) and wait for it."""
        await trio.lowlevel.checkpoint()  # even when a job is ready: let other tasks run
        self._waiting += 1
        try:
            while True:
                self._absorb_link_events()
                job = self._take_ready()
                if job is not None:
                    return job
                await self._flush_credits()
                job = await self._wait_job_or_link_event()
                if job is not None:
                    return job
        finally:
            self._waiting -= 1

    async def grant(self, slots: int) -> None:
        """Ask for `slots` more jobs at once (for a worker that runs several, or a benchmark)."""
        await self._send_credit(slots)

    def close(self, linger_ms: int = DEFAULT_LINGER_MS) -> None:
        if not self.socket.closed:
            self.socket.zmq.disable_monitor()
            self._link_events.close(0)
        super().close(linger_ms)

    async def _flush_credits(self) -> None:
        if self._to_resend and self._linked:
            count, self._to_resend = self._to_resend, 0
            log.info("gateway reconnected; asking again for %d job(s)", count)
            await self._send_credit(count, counted=False)
        missing = self._waiting - self.outstanding
        if missing > 0:
            await self._send_credit(missing)

    async def _send_credit(self, slots: int, counted: bool = True) -> None:
        # Count first: the send cannot be half done, and a cancelled one is retried next time.
        if self._linked:
            self._delivered += slots
        else:
            self._queued += slots
        try:
            await self.socket.send([encode(Credit(worker=self.name, slots=slots))])
        except BaseException:
            if self._linked:
                self._delivered -= slots
            else:
                self._queued -= slots
            if not counted:
                self._to_resend += slots
            raise

    def _on_job(self) -> None:
        if self._delivered:
            self._delivered -= 1
        elif self._queued:
            self._queued -= 1
        elif self._to_resend:
            self._to_resend -= 1  # the old gateway did answer after all

    def _take_ready(self) -> JobAssign | None:
        while (frames := self.socket.recv_nowait()) is not None:
            job = self._job_from(frames)
            if job is not None:
                return job
        return None

    def _job_from(self, frames: list[bytes]) -> JobAssign | None:
        payload = single_frame(frames, "jobs")
        job = None if payload is None else decode_as(payload, JobAssign, "jobs")
        if job is not None:
            self._on_job()
        return job

    async def _wait_job_or_link_event(self) -> JobAssign | None:
        """Wait for a job or a change of the connection, whichever comes first."""
        job: JobAssign | None = None
        # A job usually follows the credit within a millisecond; only a longer wait pays for
        # the second task that watches the connection.
        with trio.move_on_after(QUICK_JOB_WAIT):
            while job is None:
                job = self._job_from(await self.socket.recv())
            return job

        async def jobs(cancel: trio.CancelScope) -> None:
            nonlocal job
            while job is None:
                job = self._job_from(await self.socket.recv())
            cancel.cancel()

        async def link(cancel: trio.CancelScope) -> None:
            self._on_link_event(await self._link_events.recv())
            cancel.cancel()

        async with trio.open_nursery() as nursery:
            nursery.start_soon(jobs, nursery.cancel_scope)
            nursery.start_soon(link, nursery.cancel_scope)
        return job

    def _absorb_link_events(self) -> None:
        while (frames := self._link_events.recv_nowait()) is not None:
            self._on_link_event(frames)

    def _on_link_event(self, frames: list[bytes]) -> None:
        event = zmq.utils.monitor.parse_monitor_message(frames)["event"]
        if event == zmq.EVENT_HANDSHAKE_SUCCEEDED and not self._linked:
            self._linked = True
            self._delivered += self._queued  # ZeroMQ delivers what waited in its queue
            self._queued = 0
        elif event == zmq.EVENT_DISCONNECTED and self._linked:
            self._linked = False
            self._to_resend += self._delivered
            self._delivered = 0
