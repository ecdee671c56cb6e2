"""Loopback servers for the egress tests: a media origin and a canary that must never be reached.

Both are tiny trio HTTP/1.0-style servers on 127.0.0.1, port 0 (the canary also on ::1, same
port, when this machine has IPv6 loopback). The canary counts every TCP connection it accepts,
before reading a byte: a test asserts the count stays zero. The origin serves what the
guard must let through (a small mp4, an HLS stream) and the traps it must catch (redirects to
the canary, a playlist whose segment is on the canary), and counts requests per path.
"""

from __future__ import annotations

import subprocess
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import trio

REDIRECT_CODES = (301, 302, 303, 307, 308)
READ_DEADLINE_S = 10.0
CONTENT_TYPES = {".mp4": "video/mp4", ".m3u8": "application/vnd.apple.mpegurl", ".ts": "video/mp2t"}
FFMPEG = ("ffmpeg", "-hide_banner", "-loglevel", "error", "-y")


def make_media(folder: Path) -> Path:
    """sample.mp4 (one second, tiny) and good.m3u8 with its segments, made with ffmpeg."""
    folder.mkdir(parents=True, exist_ok=True)
    mp4 = folder / "sample.mp4"
    subprocess.run(
        [*FFMPEG, "-f", "lavfi", "-i", "testsrc=size=160x120:rate=10:duration=1",
         "-f", "lavfi", "-i", "sine=frequency=440:duration=1", "-c:v", "libx264", "-preset", "ultrafast",
         "-pix_fmt", "yuv420p", "-c:a", "aac", "-shortest", "-movflags", "+faststart", str(mp4)],
        check=True, timeout=120,
    )  # fmt: skip
    subprocess.run(
        [*FFMPEG, "-i", str(mp4), "-c", "copy", "-f", "hls", "-hls_time", "1", "-hls_list_size", "0",
         "-hls_segment_filename", str(folder / "seg_%03d.ts"), str(folder / "good.m3u8")],
        check=True, timeout=120,
    )  # fmt: skip
    return folder


async def _read_request(stream: trio.SocketStream) -> tuple[str, str]:
    data = b""
    with trio.move_on_after(READ_DEADLINE_S):
        while b"\r\n\r\n" not in data and len(data) < 65536:
            chunk = await stream.receive_some(65536)
            if not chunk:
                break
            data += chunk
    line = data.split(b"\r\n", 1)[0].decode("latin-1")
    parts = line.split(" ")
    return (parts[0], parts[1]) if len(parts) == 3 else ("", "")


def _response(status: int, headers: dict[str, str], body: bytes, head_only: bool) -> bytes:
    lines = [f"HTTP/1.1 {status} X", *(f"{k}: {v}" for k, v in headers.items())]
    lines += [f"Content-Length: {len(body)}", "Connection: close"]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + (b"" if head_only else body)


@dataclass
class Canary:
    """Counts connections; any connection at all is a failure of the guard."""

    port: int = 0
    hosts: list[str] = field(default_factory=list)
    connections: list[str] = field(default_factory=list)

    def url(self, path: str = "/sample.mp4", host: str = "127.0.0.1") -> str:
        shown = f"[{host}]" if ":" in host else host
        return f"http://{shown}:{self.port}{path}"

    async def handle(self, stream: trio.SocketStream) -> None:
        peer = stream.socket.getpeername()
        self.connections.append(f"{peer[0]}:{peer[1]}")
        async with stream:
            try:
                await stream.send_all(_response(200, {"Content-Type": "video/mp4"}, b"canary", False))
            except trio.BrokenResourceError:
                pass


@dataclass
class Origin:
    """The allowed origin (the "sandbox"): media, redirects to the canary, a trap playlist."""

    media: Path
    canary: Canary
    port: int = 0
    requests: Counter[str] = field(default_factory=Counter)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def route(self, path: str) -> tuple[int, dict[str, str], bytes]:
        bare = path.split("?", 1)[0]
        if bare.startswith("/redirect/"):
            code = int(bare.rsplit("/", 1)[1])
            return code, {"Location": self.canary.url("/sample.mp4")}, b""
        if bare == "/evil.m3u8":
            playlist = (
                "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:1\n#EXT-X-MEDIA-SEQUENCE:0\n"
                f"#EXTINF:1.0,\n{self.canary.url('/seg_000.ts')}\n#EXT-X-ENDLIST\n"
            )
            return 200, {"Content-Type": CONTENT_TYPES[".m3u8"]}, playlist.encode()
        file = self.media / bare.lstrip("/")
        if "/" in bare[1:] or not file.is_file() or file.suffix not in CONTENT_TYPES:
            return 404, {"Content-Type": "text/plain"}, b"not found"
        return 200, {"Content-Type": CONTENT_TYPES[file.suffix]}, file.read_bytes()

    async def handle(self, stream: trio.SocketStream) -> None:
        async with stream:
            method, path = await _read_request(stream)
            if not method:
                return
            self.requests[path] += 1
            status, headers, body = self.route(path)
            try:
                await stream.send_all(_response(status, headers, body, method == "HEAD"))
            except trio.BrokenResourceError:
                pass


async def _listen(nursery: trio.Nursery, handler: object, host: str, port: int) -> int:
    listeners = await trio.open_tcp_listeners(port, host=host)
    nursery.start_soon(partial(trio.serve_listeners, handler, listeners))  # type: ignore[arg-type]
    return int(listeners[0].socket.getsockname()[1])


@asynccontextmanager
async def loopback_servers(media: Path) -> AsyncIterator[tuple[Origin, Canary]]:
    """An origin and a canary on loopback, stopped when the block ends."""
    async with trio.open_nursery() as nursery:
        canary = Canary()
        canary.port = await _listen(nursery, canary.handle, "127.0.0.1", 0)
        canary.hosts.append("127.0.0.1")
        try:
            await _listen(nursery, canary.handle, "::1", canary.port)
            canary.hosts.append("::1")
        except OSError:
            pass  # no IPv6 loopback here; the [::1] tests then expect a refusal all the same
        origin = Origin(media, canary)
        origin.port = await _listen(nursery, origin.handle, "127.0.0.1", 0)
        try:
            yield origin, canary
        finally:
            nursery.cancel_scope.cancel()
