"""Dropping a connection (fault injection), under hypercorn's trio worker: before any answer, or
part way through a body (`CutBody`).

ASGI has no "hang up" message, so the handler finds its connection's socket: hypercorn runs each
connection in a task started by `trio.serve_listeners`, whose frame holds the accepted
`trio.SocketStream`; this request's task descends from it. Shutting the socket down makes the
client read end-of-stream before any status line ("server disconnected without sending a
response"). Should that lookup ever fail (another server, a changed trio), the fallback answers
with headers promising a body and then ends the stream, which the client also sees as a broken
connection.
"""

from __future__ import annotations

import logging
import socket

import trio
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

log = logging.getLogger(__name__)

MAX_TASK_DEPTH = 8
PROMISED_BYTES = b"64"


def _connection_stream() -> trio.SocketStream | None:
    task: trio.lowlevel.Task | None = trio.lowlevel.current_task()
    for _ in range(MAX_TASK_DEPTH):
        if task is None:
            return None
        frame = getattr(task.coro, "cr_frame", None)
        stream = frame.f_locals.get("stream") if frame is not None else None
        if isinstance(stream, trio.SocketStream):
            return stream
        nursery = task.parent_nursery
        task = nursery.parent_task if nursery is not None else None
    return None


class _Truncated(Response):
    """Headers that promise a body, then the end of the stream: a broken response."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = [(b"content-type", b"application/json"), (b"content-length", PROMISED_BYTES)]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": b"", "more_body": True})


def drop_connection() -> Response:
    """Cut this request's connection; return the response the handler should hand back."""
    stream = _connection_stream()
    if stream is None:
        log.warning("dropping by truncated response: the connection's socket was not found")
        return _Truncated()
    try:
        stream.socket.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass  # already gone
    return Response(status_code=200)


class CutBody(Response):
    """Headers promising `total` bytes, the bytes of `body`, then the connection cut (a download
    that breaks part way). The bytes are in the kernel's send buffer when the socket is shut
    down, so the client receives them before the end of the stream."""

    def __init__(self, body: bytes, total: int, content_type: str) -> None:
        super().__init__(status_code=200)
        self.partial, self.total, self.content_type = body, total, content_type

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = [(b"content-type", self.content_type.encode()), (b"content-length", str(self.total).encode())]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        if self.partial:
            await send({"type": "http.response.body", "body": self.partial, "more_body": True})
        stream = _connection_stream()
        if stream is None:
            log.warning("cutting by an unfinished response: the connection's socket was not found")
            return
        try:
            stream.socket.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass  # already gone
