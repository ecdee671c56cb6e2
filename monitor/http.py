"""A tiny HTTP/1.1 server for the monitor's GET endpoints on localhost (no framework needed).

Each connection gets one request and a `Connection: close` answer, within a deadline. A route
returns (status, content type, body); the content type is sent as given.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from http import HTTPStatus

import trio

log = logging.getLogger(__name__)

REQUEST_TIMEOUT = 5.0  # seconds a client has to send its request head
MAX_HEAD = 8192  # bytes of request line and headers we accept

JSON = "application/json"
TEXT = "text/plain; charset=utf-8"

# path -> function returning (status, content type, body)
Route = Callable[[], tuple[int, str, bytes]]


async def serve_http(
    host: str, port: int, routes: dict[str, Route], *, task_status: trio.TaskStatus[int] = trio.TASK_STATUS_IGNORED
) -> None:
    listeners = await trio.open_tcp_listeners(port, host=host)
    task_status.started(listeners[0].socket.getsockname()[1])

    async def handler(stream: trio.SocketStream) -> None:
        await _handle(stream, routes)

    await trio.serve_listeners(handler, listeners)


async def _handle(stream: trio.abc.Stream, routes: dict[str, Route]) -> None:
    try:
        with trio.fail_after(REQUEST_TIMEOUT):
            head = b""
            while b"\r\n\r\n" not in head and len(head) < MAX_HEAD:
                chunk = await stream.receive_some(MAX_HEAD)
                if not chunk:
                    return
                head += chunk
            method, _, rest = head.partition(b" ")
            path = rest.split(b" ", 1)[0].split(b"?", 1)[0].decode("latin-1")
            route = routes.get(path)
            if method not in (b"GET", b"HEAD"):
                status, ctype, body = 405, TEXT, b"method not allowed\n"
            elif route is None:
                status, ctype, body = 404, TEXT, b"not found\n"
            else:
                status, ctype, body = route()
            header = (
                f"HTTP/1.1 {status} {HTTPStatus(status).phrase}\r\nContent-Type: {ctype}\r\n"
                f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
            ).encode()
            await stream.send_all(header + (b"" if method == b"HEAD" else body))
    except (trio.TooSlowError, trio.BrokenResourceError, trio.ClosedResourceError):
        pass
    except Exception:
        log.exception("monitor http handler failed")
    finally:
        await trio.aclose_forcefully(stream)
