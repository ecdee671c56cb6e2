"""Await pyzmq sockets natively in trio: no thread per socket, no busy polling.

How it works. Every operation is tried first with `zmq.NOBLOCK`; on `zmq.Again` the task waits.
A ZeroMQ socket exposes one file descriptor, `ZMQ_FD`, that becomes readable when "something
may have changed"; the truth is in `ZMQ_EVENTS` (POLLIN: a message can be received, POLLOUT: one
can be sent). Two facts shape the code:

- trio allows only one `wait_readable` per file descriptor, so exactly one task (the *fd
  waiter*) waits on `ZMQ_FD`; other waiting tasks park in a `ParkingLot`, one per direction.
  When the fd waiter wakes it reads `ZMQ_EVENTS` and unparks whoever can now proceed. When it
  leaves, it hands the role to a parked task.
- `ZMQ_FD` is edge-triggered and every send, receive or `ZMQ_EVENTS` read may consume the edge.
  So after each successful send and receive (when anyone is waiting) the events are read again
  and the news passed on, including to the fd waiter (by cancelling its private cancel scope);
  and a task reads `ZMQ_EVENTS` before it starts waiting.

A multipart message is handed to ZeroMQ in one synchronous call, and ZeroMQ accepts a message
whole or not at all, so cancelling a blocked `send` never leaves half a message behind. A
`recv` that returns has taken its message off the socket; one that is cancelled has not.

ROUTER with ROUTER_MANDATORY and XPUB with XPUB_NODROP report POLLOUT even when the one peer
a message is for is full; there `send` backs off with short sleeps instead of spinning.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from types import TracebackType
from typing import Any, cast

import trio
import zmq

__all__ = ["DEFAULT_LINGER_MS", "Socket", "context", "open_socket"]

DEFAULT_LINGER_MS = 1000
"""How long `close` lets ZeroMQ flush queued outgoing messages."""

FULL_PEER_BACKOFF_MIN = 0.001
FULL_PEER_BACKOFF_MAX = 0.05
"""Sleep range when the socket says POLLOUT yet refuses a message (a full ROUTER or XPUB peer)."""

_POLLIN = zmq.POLLIN
_POLLOUT = zmq.POLLOUT
_NOBLOCK = zmq.NOBLOCK
_SNDMORE = zmq.SNDMORE
_EVENTS = zmq.EVENTS
_RCVMORE = zmq.RCVMORE


def context() -> zmq.Context[Any]:
    """The process-wide ZeroMQ context (created on first use, one per process)."""
    return zmq.Context.instance()


class Socket:
    """A pyzmq socket whose `send` and `recv` are awaited in trio; any number of tasks may share it."""

    def __init__(self, ctx_socket: zmq.Socket[Any]) -> None:
        self.zmq: zmq.Socket[Any] = ctx_socket
        self._fd = cast(int, ctx_socket.getsockopt(zmq.FD))
        # Only integer options are read through this shortcut (EVENTS, RCVMORE).
        self._getsockopt = cast(Callable[[int], int], ctx_socket.getsockopt)
        self._send = ctx_socket.send
        self._recv = ctx_socket.recv
        self._readers = trio.lowlevel.ParkingLot()
        self._writers = trio.lowlevel.ParkingLot()
        self._fd_waiter: trio.CancelScope | None = None
        self._fd_waiter_flag = 0
        self._closed = False

    # ---- set-up and tear-down ----------------------------------------------------------------

    def bind(self, endpoint: str) -> str:
        """Bind and return the actual endpoint (useful with `tcp://host:*`)."""
        self.zmq.bind(endpoint)
        return str(self.zmq.getsockopt_string(zmq.LAST_ENDPOINT))

    def connect(self, endpoint: str) -> None:
        self.zmq.connect(endpoint)

    @property
    def closed(self) -> bool:
        return self._closed

    def close(self, linger_ms: int = DEFAULT_LINGER_MS) -> None:
        """Close the socket; tasks blocked on it get `trio.ClosedResourceError`. Idempotent."""
        if self._closed:
            return
        self._closed = True
        try:
            trio.lowlevel.notify_closing(self._fd)
        except RuntimeError:
            pass  # not inside trio.run: nobody can be waiting
        self._readers.unpark_all()
        self._writers.unpark_all()
        self.zmq.close(linger=linger_ms)

    def __enter__(self) -> Socket:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    async def __aenter__(self) -> Socket:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    # ---- sending and receiving --------------------------------------------------------------

    async def send(self, frames: Sequence[bytes]) -> None:
        """Send one (multipart) message; waits while ZeroMQ cannot take it. Cancellable."""
        await trio.lowlevel.checkpoint_if_cancelled()
        blocked = False
        backoff = FULL_PEER_BACKOFF_MIN
        while True:
            try:
                self._send_frames(frames)
                break
            except zmq.Again:
                events = self._getsockopt(_EVENTS)
                self._wake(events)
                if events & _POLLOUT:
                    # POLLOUT yet refused: a full ROUTER/XPUB peer; ZMQ_FD will not tell us when.
                    await trio.sleep(backoff)
                    backoff = min(backoff * 2, FULL_PEER_BACKOFF_MAX)
                else:
                    await self._wait(_POLLOUT)
                blocked = True
        self._pass_news()
        if not blocked:
            await trio.lowlevel.cancel_shielded_checkpoint()

    def send_nowait(self, frames: Sequence[bytes]) -> bool:
        """Queue one (multipart) message if ZeroMQ takes it now; False, with nothing sent, if not."""
        try:
            self._send_frames(frames)
        except zmq.Again:
            return False
        finally:
            self._pass_news()
        return True

    def _send_frames(self, frames: Sequence[bytes]) -> None:
        self._check_open()
        # One synchronous call: ZeroMQ queues all parts or (on Again) none of them.
        last = len(frames) - 1
        for index, frame in enumerate(frames):
            self._send(frame, _NOBLOCK | _SNDMORE if index < last else _NOBLOCK)

    async def recv(self) -> list[bytes]:
        """Receive one multipart message as a list of frames. Cancellable without losing a message."""
        await trio.lowlevel.checkpoint_if_cancelled()
        blocked = False
        while True:
            frames = self._try_recv()
            if frames is not None:
                break
            await self._wait(_POLLIN)
            blocked = True
        if not blocked:
            await trio.lowlevel.cancel_shielded_checkpoint()
        return frames

    def recv_nowait(self) -> list[bytes] | None:
        """Take one message if one is ready, else return None (never blocks, never yields)."""
        self._check_open()
        # Asking ZMQ_EVENTS first is cheaper than the zmq.Again exception when nothing is there.
        events = self._getsockopt(_EVENTS)
        if not events & _POLLIN:
            if self._has_waiters():
                self._wake(events)
            return None
        return self._try_recv()

    def _try_recv(self) -> list[bytes] | None:
        self._check_open()
        try:
            frames: list[bytes] = [self._recv(_NOBLOCK)]
        except zmq.Again:
            return None
        while self._getsockopt(_RCVMORE):
            frames.append(self._recv(_NOBLOCK))
        self._pass_news()
        return frames

    # ---- waiting ------------------------------------------------------------------------------

    def _check_open(self) -> None:
        if self._closed:
            raise trio.ClosedResourceError("socket was closed")

    def _has_waiters(self) -> bool:
        return self._fd_waiter is not None or bool(self._readers) or bool(self._writers)

    def _pass_news(self) -> None:
        """After an operation that may have consumed the fd's edge, wake whoever can now proceed."""
        if not self._closed and self._has_waiters():
            self._wake(self._getsockopt(_EVENTS))

    def _wake(self, events: int) -> None:
        if events & _POLLIN and self._readers:
            self._readers.unpark_all()
        if events & _POLLOUT and self._writers:
            self._writers.unpark_all()
        if self._fd_waiter is not None and events & self._fd_waiter_flag:
            self._fd_waiter.cancel()

    async def _wait(self, flag: int) -> None:
        """Return once ZMQ_EVENTS shows `flag` (POLLIN or POLLOUT); the caller then retries."""
        lot = self._readers if flag == _POLLIN else self._writers
        try:
            while True:
                self._check_open()
                events = self._getsockopt(_EVENTS)
                self._wake(events)
                if events & flag:
                    return
                if self._fd_waiter is None:
                    with trio.CancelScope() as scope:
                        self._fd_waiter, self._fd_waiter_flag = scope, flag
                        try:
                            await trio.lowlevel.wait_readable(self._fd)
                        finally:
                            self._fd_waiter = None
                else:
                    await lot.park()
        finally:
            self._hand_off()

    def _hand_off(self) -> None:
        """Nobody waits on the fd any more but tasks are parked: wake one to take the role."""
        if self._fd_waiter is not None or self._closed:
            return
        if self._readers:
            self._readers.unpark(count=1)
        elif self._writers:
            self._writers.unpark(count=1)


def open_socket(
    kind: int,
    *,
    bind: str | None = None,
    connect: str | None = None,
    identity: bytes | None = None,
    **options: int | bytes,
) -> Socket:
    """Create a socket of `kind` (zmq.PUSH, ...) on the process context, set options, bind/connect.

    Options are ZeroMQ option names in any case, e.g. `router_mandatory=1, sndhwm=10_000`.
    """
    raw = context().socket(kind)
    try:
        if identity is not None:
            raw.setsockopt(zmq.IDENTITY, identity)
        for name, value in options.items():
            option = getattr(zmq, name.upper(), None)
            if not isinstance(option, int):
                raise ValueError(f"unknown ZeroMQ socket option {name!r}")
            raw.setsockopt(option, value)
        sock = Socket(raw)
        if bind is not None:
            sock.bind(bind)
        if connect is not None:
            sock.connect(connect)
    except BaseException:
        raw.close(linger=0)
        raise
    return sock
