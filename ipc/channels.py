"""Typed channels over the trio ZeroMQ adapter: processes send and receive messages, never frames.

Each class owns one socket with the role `ipc.endpoints` gives it (who binds, who connects).
Every receiver decodes with `ipc.messages.decode`, so a malformed, unknown or unexpected message
is logged once per kind, counted and dropped, and the receiver goes on with the next one.

Delivery: ZeroMQ gives no guarantee across a process crash or a restart of the peer. What must
not be lost lives in the database, or is acknowledged by the protocol on top (a downloader's
report by the gateway's ReportAck, an RPC by its reply) and sent again until it is.

The control, pipeline and telemetry channels are here; the job channel (`ipc/_jobs.py`) and the
monitor RPC (`ipc/_rpc.py`) have more logic and live in their own modules, re-exported here:
import every channel from `ipc.channels`.
"""

from __future__ import annotations

import zmq

from ipc._channel import Channel, bound, connected, is_unreachable, single_frame, split_routed
from ipc._jobs import Inbound as Inbound
from ipc._jobs import JobDispatcher as JobDispatcher
from ipc._jobs import JobWorker as JobWorker
from ipc._jobs import Taker as Taker
from ipc._jobs import open_job_dispatcher as open_job_dispatcher
from ipc._jobs import open_job_worker as open_job_worker
from ipc._rpc import DEFAULT_RPC_TIMEOUT as DEFAULT_RPC_TIMEOUT
from ipc._rpc import RpcClient as RpcClient
from ipc._rpc import RpcHandler as RpcHandler
from ipc._rpc import RpcServer as RpcServer
from ipc._rpc import RpcTimeout as RpcTimeout
from ipc.messages import Message, decode, encode

__all__ = [
    "DEFAULT_RPC_TIMEOUT",
    "ControlClient",
    "ControlServer",
    "Inbound",
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
    "Taker",
    "open_job_dispatcher",
    "open_job_worker",
]

_SUBSCRIBE = 1  # first byte of a subscription message on an XPUB socket


# ---- control: supervisor ROUTER <-> children DEALER ------------------------------------------------


class ControlServer(Channel):
    """Supervisor side of the control channel: talks to each child by its process name."""

    def __init__(self, endpoint: str) -> None:
        # HANDOVER: a restarted child reuses its name and must take over the old connection.
        super().__init__(*bound(zmq.ROUTER, endpoint, router_mandatory=1, router_handover=1))

    async def recv(self) -> tuple[str, Message]:
        """The next message and the name of the child that sent it."""
        while True:
            routed = split_routed(await self.socket.recv(), "control")
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
            if is_unreachable(exc):
                return False
            raise
        return True


class ControlClient(Channel):
    """Child side of the control channel; its ZeroMQ identity is its process name."""

    def __init__(self, name: str, endpoint: str) -> None:
        self.name = name
        super().__init__(connected(zmq.DEALER, endpoint, identity=name.encode()), endpoint)

    async def send(self, msg: Message) -> None:
        await self.socket.send([encode(msg)])

    async def recv(self) -> Message:
        while True:
            payload = single_frame(await self.socket.recv(), "control")
            msg = None if payload is None else decode(payload)
            if msg is not None:
                return msg


# ---- events and outbox: PUSH -> PULL ------------------------------------------------------------------


class Pusher(Channel):
    """Sending end of a pipeline (events, outbox); connects by default.

    A PUSH socket closed right after sending can lose its last messages even with linger:
    what matters must be acknowledged by the receiver, or re-sent, before the process exits.
    """

    def __init__(self, endpoint: str, *, bind: bool = False, **options: int | bytes) -> None:
        """`options` are extra ZeroMQ socket options, e.g. `sndhwm=100`."""
        if bind:
            super().__init__(*bound(zmq.PUSH, endpoint, **options))
        else:
            super().__init__(connected(zmq.PUSH, endpoint, **options), endpoint)

    async def send(self, msg: Message) -> None:
        """Send, waiting while the queue is full (the receiver is down or slow)."""
        await self.socket.send([encode(msg)])

    def send_nowait(self, msg: Message) -> bool:
        """Send if the queue has room, else drop it and return False (for nudges whose
        durable copy is in the database, like OutboxNotice)."""
        return self.socket.send_nowait([encode(msg)])


class Puller(Channel):
    """Receiving end of a pipeline (events, outbox); binds by default."""

    def __init__(self, endpoint: str, *, bind: bool = True, **options: int | bytes) -> None:
        """`options` are extra ZeroMQ socket options, e.g. `rcvhwm=100`."""
        if bind:
            super().__init__(*bound(zmq.PULL, endpoint, **options))
        else:
            super().__init__(connected(zmq.PULL, endpoint, **options), endpoint)

    async def recv(self) -> Message:
        while True:
            payload = single_frame(await self.socket.recv(), "pipeline")
            msg = None if payload is None else decode(payload)
            if msg is not None:
                return msg


# ---- telemetry: every process PUB -> monitor SUB ------------------------------------------------------


class Publisher(Channel):
    """Telemetry sender (connects to the monitor's SUB).

    An XPUB with XPUB_NODROP: when the monitor is connected but slow, `send` waits instead of
    silently dropping (wrap it in `trio.move_on_after` where a stale figure may be skipped);
    while no monitor is connected, messages are discarded. `wait_subscribed` tells when the
    monitor listens, the cure for ZeroMQ's "slow joiner" loss of the first messages.
    """

    def __init__(self, endpoint: str, **options: int | bytes) -> None:
        """`options` are extra ZeroMQ socket options, e.g. `sndhwm=100`."""
        super().__init__(connected(zmq.XPUB, endpoint, xpub_nodrop=1, **options), endpoint)
        self._subscribed = False

    async def send(self, msg: Message) -> None:
        """Publish, waiting while a connected monitor is behind."""
        await self.socket.send([encode(msg)])

    def send_nowait(self, msg: Message) -> bool:
        """Publish unless a connected monitor is behind; then drop it and return False."""
        return self.socket.send_nowait([encode(msg)])

    async def wait_subscribed(self) -> None:
        """Return once a subscriber has subscribed (immediately if one already did)."""
        while not self._subscribed:
            frames = await self.socket.recv()
            self._subscribed = bool(frames and frames[0][:1] == bytes([_SUBSCRIBE]))


class Subscriber(Channel):
    """Telemetry receiver (the monitor binds it); subscribed to everything."""

    def __init__(self, endpoint: str, **options: int | bytes) -> None:
        """`options` are extra ZeroMQ socket options, e.g. `rcvhwm=100`."""
        super().__init__(*bound(zmq.SUB, endpoint, subscribe=b"", **options))

    async def recv(self) -> Message:
        while True:
            payload = single_frame(await self.socket.recv(), "telemetry")
            msg = None if payload is None else decode(payload)
            if msg is not None:
                return msg
