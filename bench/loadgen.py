"""A lean load generator: users' messages posted to the sandbox over kept-alive HTTP/1.1 sockets.

The benchmarks run the bot, its sandbox and the load on the same two cores. httpx spends a few ms
of CPU a request here, which the bot's processes then lack; on Telegram, users' messages cost the
bot's machine nothing. This client spends a tenth of that, so that the figures are the bot's.
"""

from __future__ import annotations

import json
from urllib.parse import urlsplit

import trio

HEADER_END = b"\r\n\r\n"
READ_CHUNK = 65536


class Poster:
    """POST JSON bodies to one HTTP/1.1 origin over `connections` kept-alive sockets."""

    def __init__(self, base_url: str, connections: int) -> None:
        parts = urlsplit(base_url)
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port or 80
        self.free: list[trio.SocketStream] = []
        self.limiter = trio.Semaphore(connections)

    async def post(self, path: str, body: dict) -> dict:
        data = json.dumps(body).encode()
        head = (
            f"POST {path} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(data)}\r\n\r\n"
        ).encode()
        async with self.limiter:
            stream = self.free.pop() if self.free else await trio.open_tcp_stream(self.host, self.port)
            try:
                await stream.send_all(head + data)
                status, answer = await _response(stream)
            except BaseException:
                await stream.aclose()
                raise
            self.free.append(stream)
        if status != 200:
            raise RuntimeError(f"POST {path}: HTTP {status}: {answer[:200]!r}")
        return dict(json.loads(answer))

    async def aclose(self) -> None:
        for stream in self.free:
            await stream.aclose()
        self.free.clear()


async def _response(stream: trio.SocketStream) -> tuple[int, bytes]:
    """(status, body) of one response with a Content-Length (the sandbox's JSON answers)."""
    buf = b""
    while HEADER_END not in buf:
        chunk = await stream.receive_some(READ_CHUNK)
        if not chunk:
            raise ConnectionError("the server closed the connection")
        buf += chunk
    head, _, body = buf.partition(HEADER_END)
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    lengths = [int(v) for k, _, v in (line.partition(":") for line in lines[1:]) if k.lower() == "content-length"]
    if not lengths:
        raise ConnectionError(f"an answer without Content-Length: {lines[0]}")
    length = lengths[0]
    while len(body) < length:
        chunk = await stream.receive_some(READ_CHUNK)
        if not chunk:
            raise ConnectionError("the server closed the connection mid-answer")
        body += chunk
    return status, body
