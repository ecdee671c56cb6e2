"""Moving bytes between the client and the origin for the egress proxy, with an idle deadline.

Between two plain sockets the bytes go through a kernel pipe with `splice(2)`: they never
enter Python, so the guard costs little CPU and holds the GIL only per chunk (yt-dlp runs in a
thread of the same process). Once a direction carries bulk (BULK_BYTES), its socket wakes us
only when BATCH_BYTES are waiting (SO_RCVLOWAT), or after BATCH_WAIT_S with whatever came;
an end of stream wakes us at once. Fewer, bigger chunks mean fewer GIL hand-offs with
yt-dlp's thread: measured here, a third less CPU per byte unpaced and a third of it at a
paced 40 MB/s. Otherwise (a TLS upstream proxy) one preallocated buffer is reused.
Either side's end of stream ends the relay: an HTTP client that closes wants nothing more, and
the origin closes after its one response (the proxy asked for `Connection: close`). If no byte
moves either way for `idle_s`, the relay is cut: a stalled connection never hangs forever.
"""

from __future__ import annotations

import errno
import fcntl
import logging
import math
import os
import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import trio

__all__ = ["Activity", "RelayResult", "relay"]

log = logging.getLogger("downloader.egress")

BUFFER_BYTES = 1024 * 1024  # per direction; big chunks keep the per-chunk overhead small
BULK_BYTES = 1024 * 1024  # after this much in one direction, batch its wake-ups
BATCH_BYTES = 1024 * 1024  # SO_RCVLOWAT then: wake when this much is waiting...
# ...or after this long, with what there is: a trickle still flows, and the last bytes of a
# response on a kept-alive tunnel wait at most this. (5 ms cost 4x the CPU at a paced 40 MB/s.)
BATCH_WAIT_S = 0.02
_CAN_SPLICE = hasattr(os, "splice") and hasattr(fcntl, "F_SETPIPE_SZ")
_SPLICE_FLAGS = getattr(os, "SPLICE_F_MOVE", 0) | getattr(os, "SPLICE_F_NONBLOCK", 0)
_ENDED = (trio.BrokenResourceError, trio.ClosedResourceError, ConnectionError)


class Activity:
    """When a byte last moved, either way; `touch` is called once per chunk."""

    def __init__(self) -> None:
        self.last = trio.current_time()

    def touch(self) -> None:
        self.last = trio.current_time()


@dataclass
class RelayResult:
    sent: int = 0  # client -> origin
    received: int = 0  # origin -> client
    idle_cut: bool = False


async def relay(
    client: trio.abc.Stream,
    upstream: trio.abc.Stream,
    *,
    idle_s: float,
    buffer_bytes: int = BUFFER_BYTES,
    before_download: Callable[[Activity], Awaitable[int]] | None = None,
) -> RelayResult:
    """Copy both ways until either side ends or nothing moves for `idle_s`.

    `before_download`, when given, runs first in the origin -> client direction (the HTTP
    proxy reads and rewrites the response head there) and returns the bytes it passed on.
    """
    result = RelayResult()
    activity = Activity()
    async with trio.open_nursery() as nursery:

        async def watch() -> None:
            while (left := activity.last + idle_s - trio.current_time()) > 0:
                await trio.sleep(left)
            result.idle_cut = True
            nursery.cancel_scope.cancel()

        async def upload() -> None:
            try:
                result.sent += await copy(client, upstream, activity, buffer_bytes)
            except _ENDED as exc:
                log.debug("client side ended: %r", exc)
            nursery.cancel_scope.cancel()

        async def download() -> None:
            try:
                if before_download is not None:
                    result.received += await before_download(activity)
                result.received += await copy(upstream, client, activity, buffer_bytes)
            except _ENDED as exc:
                log.debug("origin side ended: %r", exc)  # a reset, or no valid response head
            nursery.cancel_scope.cancel()

        nursery.start_soon(watch)
        nursery.start_soon(upload)
        nursery.start_soon(download)
    return result


async def copy(src: trio.abc.ReceiveStream, dst: trio.abc.SendStream, activity: Activity, buffer_bytes: int) -> int:
    """Copy until `src` ends; the number of bytes copied."""
    if _CAN_SPLICE and isinstance(src, trio.SocketStream) and isinstance(dst, trio.SocketStream):
        return await _splice(src.socket, dst.socket.fileno(), activity, buffer_bytes)
    if isinstance(src, trio.SocketStream):
        return await _copy_into(src, dst, activity, buffer_bytes)
    total = 0
    while chunk := await src.receive_some(buffer_bytes):
        activity.touch()
        await dst.send_all(chunk)
        total += len(chunk)
    return total


async def _copy_into(src: trio.SocketStream, dst: trio.abc.SendStream, activity: Activity, buffer_bytes: int) -> int:
    view = memoryview(bytearray(buffer_bytes))
    total = 0
    while n := await src.socket.recv_into(view):
        activity.touch()
        await dst.send_all(view[:n])
        total += n
    return total


async def _splice(src_sock: trio.socket.SocketType, dst: int, activity: Activity, buffer_bytes: int) -> int:
    src = src_sock.fileno()
    pipe_r, pipe_w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
    try:
        try:
            capacity = fcntl.fcntl(pipe_w, fcntl.F_SETPIPE_SZ, buffer_bytes)
        except OSError:
            capacity = fcntl.fcntl(pipe_w, fcntl.F_GETPIPE_SZ)  # the system's cap is lower: use what we got
        total, waited, batching = 0, True, None
        while True:
            try:
                n = os.splice(src, pipe_w, capacity, flags=_SPLICE_FLAGS)
            except BlockingIOError:
                if batching is None and total >= BULK_BYTES:
                    batching = _batch(src_sock)
                with trio.move_on_after(BATCH_WAIT_S if batching else math.inf):
                    await trio.lowlevel.wait_readable(src)
                waited = True
                continue
            except OSError as exc:
                raise _ended(exc) from exc
            if n == 0:
                return total
            activity.touch()
            waited = await _drain(pipe_r, dst, n) or waited
            total += n
            if not waited:
                await trio.lowlevel.checkpoint()  # data kept coming: let the other tasks run too
            waited = False
    finally:
        os.close(pipe_r)
        os.close(pipe_w)


def _batch(sock: trio.socket.SocketType) -> bool:
    """Ask `sock` to wake us only for BATCH_BYTES; False where the system will not."""
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVLOWAT, BATCH_BYTES)
    except OSError:
        return False
    return True


async def _drain(pipe_r: int, dst: int, n: int) -> bool:
    """Move `n` bytes from the pipe to `dst`; True if it had to wait (so it yielded)."""
    waited = False
    while n:
        try:
            n -= os.splice(pipe_r, dst, n, flags=_SPLICE_FLAGS)
        except BlockingIOError:
            await trio.lowlevel.wait_writable(dst)
            waited = True
        except OSError as exc:
            raise _ended(exc) from exc
    return waited


def _ended(exc: OSError) -> Exception:
    if exc.errno in (errno.EPIPE, errno.ECONNRESET, errno.ENOTCONN, errno.ESHUTDOWN):
        return trio.BrokenResourceError(str(exc))
    return exc
