"""Typed channels over the trio ZeroMQ adapter: processes send and receive messages, never frames.

Each class owns one socket with the role `ipc.endpoints` gives it (who binds, who connects).
Every receiver decodes with `ipc.messages.decode`, so a malformed, unknown or unexpected message
is logged once per kind, counted and dropped, and the receiver goes on with the next one.

Delivery: ZeroMQ gives no guarantee across a process crash or a restart of the peer. What must
not be lost lives in the database; the messages say "look" and are acknowledged by the protocol
on top (a job by its "accepted" event, an RPC by its reply).
"""

from __future__ import annotations

import itertools
import logging
import os
import secrets
from collections import deque
from collections.abc import Awaitable, Callable, Mapping
from types import TracebackType
from typing import Any, Self, TypeVar, cast

import trio
import zmq
import zmq.utils.monitor

from ipc.messages import Credit, JobAssign, Message, RpcReply, RpcRequest, decode, encode, note_drop
from ipc.zmqtrio import DEFAULT_LINGER_MS, Socket, open_socket

__all__ = [
    "DEFAULT_RPC_TIMEOUT",
    "ControlClient",
    "ControlServer",
    "JobDispatcher",
    "JobWorker",
    "Publisher",
    "Puller",
    "Pusher",
    "RpcClient",
    "RpcHandler",
    "RpcServer",
    "RpcTimeout",
    "Subscriber",
]

log = logging.getLogger(__name__)

DEFAULT_RPC_TIMEOUT = 5.0
"""Seconds an RPC call waits for its reply unless told otherwise."""

MAX_CREDITS_PER_MESSAGE = 10_000
"""A Credit asking for more slots than this is clamped (a bad peer must not balloon our memory)."""

QUICK_JOB_WAIT = 0.05
"""Seconds a waiting worker listens for its job alone before also watching its connection."""

_SUBSCRIBE = 1  # first byte of a subscription message on an XPUB socket

M = TypeVar("M")


class _Channel:
    """One socket plus its life cycle; `endpoint` is the bound or connected address."""

    def __init__(self, socket: Socket, endpoint: str) -> None:
        self.socket = socket
        self.endpoint = endpoint

    def close(self, linger_ms: int = DEFAULT_LINGER_MS) -> None:
        self.socket.close(linger_ms)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


def _bound(kind: int, endpoint: str, **options: int | bytes) -> tuple[Socket, str]:
    sock = open_socket(kind, **cast(dict[str, Any], options))
    try:
        return sock, sock.bind(endpoint)
    except BaseException:
        sock.close(0)
        raise


def _decode_as(payload: bytes, expected: type[M], channel: str) -> M | None:
    """Decode and keep only messages of the type this channel carries."""
    msg = decode(payload)
    if msg is None:
        return None
    if not isinstance(msg, expected):
        name = type(msg).__name__
        note_drop("unexpected type", f"{channel}:{name}", "%s on the %s channel", name, channel)
        return None
    return msg


def _split_routed(frames: list[bytes], channel: str) -> tuple[bytes, bytes] | None:
    """ROUTER frames are [peer identity, payload]; anything else is dropped."""
    if len(frames) != 2:
        note_drop("bad frames", channel, "%d frames on the %s channel, expected 2", len(frames), channel)
        return None
    return frames[0], frames[1]


def _single(frames: list[bytes], channel: str) -> bytes | None:
    if len(frames) != 1:
        note_drop("bad frames", channel, "%d frames on the %s channel, expected 1", len(frames), channel)
        return None
    return frames[0]


def _is_unreachable(exc: zmq.ZMQError) -> bool:
    return exc.errno == zmq.EHOSTUNREACH


# ---- control: supervisor ROUTER <-> children DEALER ------------------------------------------------


class ControlServer(_Channel):
    """Supervisor side of the control channel: talks to each child by its process name."""

    def __init__(self, endpoint: str) -> None:
        # HANDOVER: a restarted child reuses its name and must take over the old connection.
        super().__init__(*_bound(zmq.ROUTER, endpoint, router_mandatory=1, router_handover=1))

    async def recv(self) -> tuple[str, Message]:
        """The next message and the name of the child that sent it."""
        while True:
            routed = _split_routed(await self.socket.recv(), "control")
            if routed is None:
                continue
            msg = decode(routed[1])
            if msg is not None:
                return routed[0].decode("utf-8", "replace"), msg

    async def send(self, name: str, msg: Message) -> bool:
        """Send to the child `name`; False if no such child is connected."""
        try:
            await self.socket.send([name.encode(), encode(msg)])
        except zmq.ZMQError as exc:
            if _is_unreachable(exc):
                return False
            raise
        return True


class ControlClient(_Channel):
    """Child side of the control channel; its ZeroMQ identity is its process name."""

    def __init__(self, name: str, endpoint: str) -> None:
        self.name = name
        super().__init__(open_socket(zmq.DEALER, connect=endpoint, identity=name.encode()), endpoint)

    async def send(self, msg: Message) -> None:
        await self.socket.send([encode(msg)])

    async def recv(self) -> Message:
        while True:
            payload = _single(await self.socket.recv(), "control")
            msg = None if payload is None else decode(payload)
            if msg is not None:
                return msg


# ---- jobs: gateway ROUTER -> downloaders DEALER, credit-based ---------------------------------------


class JobDispatcher(_Channel):
    """Gateway side of the job channel: hands each job to a downloader that asked for one.

    Every `Credit(worker, n)` a downloader sends entitles it to n more jobs; credits are served
    oldest first, so the longest-idle downloader gets the next job and a busy one (no credit)
    gets none. A downloader that is gone (EHOSTUNREACH under ROUTER_MANDATORY) loses its
    credits and the job goes to the next. Connections are told apart by a per-incarnation
    identity, so a restarted downloader never inherits its predecessor's credits.
    """

    def __init__(self, endpoint: str) -> None:
        super().__init__(*_bound(zmq.ROUTER, endpoint, router_mandatory=1))
        self._credits: deque[bytes] = deque()  # one entry per credit, oldest first
        self._names: dict[bytes, str] = {}  # connection identity -> worker name
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
                        if not _is_unreachable(exc):
                            raise
                        log.info("worker %s is gone; dropping its credits", self._names.get(identity, "?"))
                        self._drop_identity(identity)
                        continue
                    except BaseException:
                        self._credits.appendleft(identity)  # not sent (sends are all-or-nothing)
                        raise
                    return self._names.get(identity, "?")
                self._on_frames(await self.socket.recv())
        finally:
            self._lock.release()

    def forget(self, worker: str) -> None:
        """Drop every credit of `worker` (e.g. it stopped heart-beating)."""
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

    def _absorb_ready(self) -> None:
        if self.socket.closed:
            return
        while (frames := self.socket.recv_nowait()) is not None:
            self._on_frames(frames)

    def _on_frames(self, frames: list[bytes]) -> None:
        routed = _split_routed(frames, "jobs")
        credit = None if routed is None else _decode_as(routed[1], Credit, "jobs")
        if routed is None or credit is None:
            return
        identity = routed[0]
        self._names[identity] = credit.worker
        slots = min(max(credit.slots, 0), MAX_CREDITS_PER_MESSAGE)
        self._credits.extend(itertools.repeat(identity, slots))


class JobWorker(_Channel):
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
        payload = _single(frames, "jobs")
        job = None if payload is None else _decode_as(payload, JobAssign, "jobs")
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


# ---- events and outbox: PUSH -> PULL ------------------------------------------------------------------


class Pusher(_Channel):
    """Sending end of a pipeline (events, outbox); connects by default."""

    def __init__(self, endpoint: str, *, bind: bool = False) -> None:
        if bind:
            super().__init__(*_bound(zmq.PUSH, endpoint))
        else:
            super().__init__(open_socket(zmq.PUSH, connect=endpoint), endpoint)

    async def send(self, msg: Message) -> None:
        await self.socket.send([encode(msg)])


class Puller(_Channel):
    """Receiving end of a pipeline (events, outbox); binds by default."""

    def __init__(self, endpoint: str, *, bind: bool = True) -> None:
        if bind:
            super().__init__(*_bound(zmq.PULL, endpoint))
        else:
            super().__init__(open_socket(zmq.PULL, connect=endpoint), endpoint)

    async def recv(self) -> Message:
        while True:
            payload = _single(await self.socket.recv(), "pipeline")
            msg = None if payload is None else decode(payload)
            if msg is not None:
                return msg


# ---- telemetry: every process PUB -> monitor SUB ------------------------------------------------------


class Publisher(_Channel):
    """Telemetry sender (connects to the monitor's SUB).

    An XPUB with XPUB_NODROP: when the monitor is connected but slow, `send` waits instead of
    silently dropping (wrap it in `trio.move_on_after` where a stale figure may be skipped);
    while no monitor is connected, messages are discarded. `wait_subscribed` tells when the
    monitor listens, the cure for ZeroMQ's "slow joiner" loss of the first messages.
    """

    def __init__(self, endpoint: str) -> None:
        super().__init__(open_socket(zmq.XPUB, connect=endpoint, xpub_nodrop=1), endpoint)
        self._subscribed = False

    async def send(self, msg: Message) -> None:
        await self.socket.send([encode(msg)])

    async def wait_subscribed(self) -> None:
        """Return once a subscriber has subscribed (immediately if one already did)."""
        while not self._subscribed:
            frames = await self.socket.recv()
            self._subscribed = bool(frames and frames[0][:1] == bytes([_SUBSCRIBE]))


class Subscriber(_Channel):
    """Telemetry receiver (the monitor binds it); subscribed to everything."""

    def __init__(self, endpoint: str) -> None:
        super().__init__(*_bound(zmq.SUB, endpoint, subscribe=b""))

    async def recv(self) -> Message:
        while True:
            payload = _single(await self.socket.recv(), "telemetry")
            msg = None if payload is None else decode(payload)
            if msg is not None:
                return msg


# ---- monitor RPC: gateway DEALER -> monitor ROUTER ------------------------------------------------------

RpcHandler = Callable[[dict[str, Any]], Awaitable[dict[str, Any]]]
"""An RPC method: takes the request's params, returns the reply's result."""


class RpcTimeout(TimeoutError):
    """No reply to an RPC call before its deadline."""

    def __init__(self, method: str, timeout: float) -> None:
        super().__init__(f"no reply to {method!r} within {timeout:g} s")
        self.method = method
        self.timeout = timeout


class RpcServer(_Channel):
    """Monitor side of the RPC channel: receive requests, reply to the peer that asked."""

    def __init__(self, endpoint: str) -> None:
        super().__init__(*_bound(zmq.ROUTER, endpoint, router_mandatory=1))

    async def recv(self) -> tuple[bytes, RpcRequest]:
        """The next request and an opaque peer id to reply to."""
        while True:
            routed = _split_routed(await self.socket.recv(), "rpc")
            request = None if routed is None else _decode_as(routed[1], RpcRequest, "rpc")
            if routed is not None and request is not None:
                return routed[0], request

    async def reply(self, peer: bytes, reply: RpcReply) -> bool:
        """Send `reply` to `peer`; False if the caller has gone away."""
        try:
            await self.socket.send([peer, encode(reply)])
        except zmq.ZMQError as exc:
            if _is_unreachable(exc):
                log.info("rpc caller gone before reply %d", reply.req_id)
                return False
            raise
        return True

    async def serve(self, handlers: Mapping[str, RpcHandler]) -> None:
        """Answer requests forever, one at a time; a failing handler becomes an error reply."""
        while True:
            peer, request = await self.recv()
            await self.reply(peer, await self._answer(request, handlers))

    async def _answer(self, request: RpcRequest, handlers: Mapping[str, RpcHandler]) -> RpcReply:
        handler = handlers.get(request.method)
        if handler is None:
            return RpcReply(req_id=request.req_id, ok=False, result={}, error=f"unknown method {request.method!r}")
        try:
            reply = RpcReply(req_id=request.req_id, ok=True, result=await handler(request.params))
            encode(reply)  # a result that cannot be encoded is the handler's error
        except Exception as exc:
            log.exception("rpc %s failed", request.method)
            return RpcReply(req_id=request.req_id, ok=False, result={}, error=f"{type(exc).__name__}: {exc}")
        return reply


class _PendingCall:
    __slots__ = ("reply", "wakeup")

    def __init__(self) -> None:
        self.reply: RpcReply | None = None
        self.wakeup = trio.Event()


class RpcClient(_Channel):
    """Gateway side of the RPC channel; any number of tasks may `call` at once.

    Replies are matched to calls by `req_id`. One calling task at a time reads the socket and
    hands replies to their callers; when it leaves, another waiting caller takes over.
    """

    def __init__(self, endpoint: str) -> None:
        super().__init__(open_socket(zmq.DEALER, connect=endpoint), endpoint)
        self._ids = itertools.count(1)
        self._pending: dict[int, _PendingCall] = {}
        self._reading = False

    async def call(
        self, method: str, params: dict[str, Any] | None = None, timeout: float = DEFAULT_RPC_TIMEOUT
    ) -> RpcReply:
        """Call `method` and return its reply; raises `RpcTimeout` after `timeout` seconds."""
        req_id = next(self._ids)
        call = self._pending[req_id] = _PendingCall()
        try:
            with trio.move_on_after(timeout):
                await self.socket.send([encode(RpcRequest(req_id=req_id, method=method, params=params or {}))])
                while call.reply is None:
                    await self._wait_for(call)
            if call.reply is None:
                raise RpcTimeout(method, timeout)
            return call.reply
        finally:
            del self._pending[req_id]

    async def _wait_for(self, call: _PendingCall) -> None:
        if self._reading:
            await call.wakeup.wait()
            call.wakeup = trio.Event()
            return
        self._reading = True
        try:
            while call.reply is None:
                self._route(await self.socket.recv())
        finally:
            self._reading = False
            self._hand_off(call)

    def _route(self, frames: list[bytes]) -> None:
        payload = _single(frames, "rpc")
        reply = None if payload is None else _decode_as(payload, RpcReply, "rpc")
        if reply is None:
            return
        call = self._pending.get(reply.req_id)
        if call is None:
            log.debug("late reply %d dropped (its call timed out)", reply.req_id)
            return
        call.reply = reply
        call.wakeup.set()

    def _hand_off(self, leaving: _PendingCall) -> None:
        """The reader leaves: wake one caller still waiting so that it reads from now on."""
        for call in self._pending.values():
            if call is not leaving and call.reply is None:
                call.wakeup.set()
                return
