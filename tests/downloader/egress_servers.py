"""Loopback servers for the egress tests: a media origin and a canary that must never be reached.

Both are tiny trio HTTP/1.0-style servers on 127.0.0.1, port 0 (the canary also on ::1, same
port, when this machine has IPv6 loopback). The canary counts every TCP connection it accepts,
before reading a byte: a test asserts the count stays zero. The origin serves what the
guard must let through (a small mp4, an HLS stream) and the traps it must catch (redirects to
the canary, a playlist whose segment is on the canary), and counts requests per path.
"""

from __future__ import annotations

import base64
import ssl
import subprocess
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import trio
import yt_dlp

from downloader.egress import EgressProxy, Policy, open_egress_proxy

REDIRECT_CODES = (301, 302, 303, 307, 308)
READ_DEADLINE_S = 10.0
BURST, TRICKLE, TRICKLE_GAP_S = 4 * 1024 * 1024, 20, 0.01  # /burst-then-trickle
YTDLP_DEADLINE_S = 120.0  # one yt-dlp run against loopback servers, on a loaded machine
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


async def _read_request(stream: trio.abc.Stream) -> tuple[str, str, bytes]:
    data = b""
    with trio.move_on_after(READ_DEADLINE_S):
        while b"\r\n\r\n" not in data and len(data) < 65536:
            chunk = await stream.receive_some(65536)
            if not chunk:
                break
            data += chunk
    line = data.split(b"\r\n", 1)[0].decode("latin-1")
    parts = line.split(" ")
    return (parts[0], parts[1], data) if len(parts) == 3 else ("", "", data)


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
    scheme: str = "http"
    heads: list[bytes] = field(default_factory=list)  # every request head as it arrived

    def url(self, path: str) -> str:
        return f"{self.scheme}://127.0.0.1:{self.port}{path}"

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

    async def handle(self, stream: trio.abc.Stream) -> None:
        async with stream:
            method, path, raw = await _read_request(stream)
            self.heads.append(raw)
            if not method:
                return
            self.requests[path] += 1
            if path == "/stall":  # a head and a few bytes, then silence: the guard must cut it
                await stream.send_all(b"HTTP/1.1 200 OK\r\nContent-Length: 1000000\r\n\r\nsome")
                await trio.sleep_forever()
            if path == "/burst-then-trickle":  # bulk, then a byte at a time, and never closes
                await stream.send_all(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % (BURST + TRICKLE))
                await stream.send_all(b"b" * BURST)
                for _ in range(TRICKLE):
                    await trio.sleep(TRICKLE_GAP_S)
                    await stream.send_all(b"t")
                await trio.sleep_forever()
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


def _ytdlp(options: dict[str, Any], url: str) -> tuple[bool, Any]:
    with yt_dlp.YoutubeDL(options) as ydl:
        try:
            return True, ydl.extract_info(url, download=True)
        except yt_dlp.utils.DownloadError as exc:
            return False, str(exc)


def ytdlp_options(proxy_options: dict[str, Any], out: Path) -> dict[str, Any]:
    """Quiet yt-dlp writing into `out`, few retries, the guard's options merged last."""
    base = {
        "outtmpl": str(out / "%(id)s.%(ext)s"),
        "quiet": True,
        "no_warnings": True,
        "noprogress": True,
        "retries": 1,
        "fragment_retries": 1,
        "extractor_retries": 0,
        "socket_timeout": 20,
        "cachedir": False,
    }
    return {**base, **proxy_options}


async def run_ytdlp(options: dict[str, Any], url: str) -> tuple[bool, Any]:
    """(True, info) or (False, error text) of a real yt-dlp download in a worker thread."""
    with trio.fail_after(YTDLP_DEADLINE_S):
        return await trio.to_thread.run_sync(_ytdlp, options, url, abandon_on_cancel=True)


def downloaded(info: dict[str, Any]) -> Path:
    return Path(info["requested_downloads"][0]["filepath"])


async def raw_proxy_request(port: int, request: bytes) -> tuple[int, dict[str, str], bytes]:
    """Send raw bytes to the proxy; (status, lower-case headers, body) of what comes back."""
    with trio.fail_after(READ_DEADLINE_S):
        stream = await trio.open_tcp_stream("127.0.0.1", port)
        async with stream:
            await stream.send_all(request)
            data = b""
            while chunk := await stream.receive_some(65536):
                data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
    return int(lines[0].split(" ")[1]), headers, body


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def make_certificate(folder: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 (openssl), for a TLS origin on loopback."""
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
         "-keyout", str(key), "-out", str(cert), "-days", "2", "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1"],
        check=True, timeout=60, capture_output=True,
    )  # fmt: skip
    return cert, key


@asynccontextmanager
async def tls_origin(media: Path, canary: Canary, cert: Path, key: Path) -> AsyncIterator[Origin]:
    """The same origin over https on 127.0.0.1 (port 0), stopped when the block ends."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    origin = Origin(media, canary, scheme="https")
    async with trio.open_nursery() as nursery:
        listeners = await trio.open_ssl_over_tcp_listeners(0, context, host="127.0.0.1")
        origin.port = int(listeners[0].transport_listener.socket.getsockname()[1])  # type: ignore[attr-defined]
        nursery.start_soon(trio.serve_listeners, origin.handle, listeners)
        try:
            yield origin
        finally:
            nursery.cancel_scope.cancel()


@dataclass
class UpstreamProxy:
    """A small real upstream proxy on loopback (HTTP CONNECT or SOCKS5), which records what it
    was asked and only ever connects to 127.0.0.1. `mode`: "http", "socks5" or "silent"."""

    mode: str
    port: int = 0
    asked: list[str] = field(default_factory=list)  # "127.0.0.1:port" per tunnel asked for
    credentials: list[str] = field(default_factory=list)
    connections: int = 0

    def url(self, user: str = "", password: str = "") -> str:
        auth = f"{user}:{password}@" if user or password else ""
        scheme = "socks5" if self.mode == "socks5" else "http"
        return f"{scheme}://{auth}127.0.0.1:{self.port}"

    async def handle(self, client: trio.SocketStream) -> None:
        self.connections += 1
        async with client:
            if self.mode == "silent":
                await trio.sleep_forever()
            host, port = await (self._socks5(client) if self.mode == "socks5" else self._http(client))
            if host != "127.0.0.1":
                return  # this test proxy reaches loopback only, whatever it is asked
            async with await trio.open_tcp_stream(host, port) as target:
                await (self._socks_ok(client) if self.mode == "socks5" else client.send_all(b"HTTP/1.1 200 OK\r\n\r\n"))
                async with trio.open_nursery() as nursery:
                    nursery.start_soon(_pump, client, target, nursery.cancel_scope)
                    nursery.start_soon(_pump, target, client, nursery.cancel_scope)

    async def _http(self, client: trio.SocketStream) -> tuple[str, int]:
        data = b""
        while b"\r\n\r\n" not in data:
            data += await client.receive_some(4096)
        lines = data.decode("latin-1").split("\r\n")
        _, authority, _ = lines[0].split(" ")
        self.asked.append(authority)
        for line in lines[1:]:
            if line.lower().startswith("proxy-authorization:"):
                self.credentials.append(base64.b64decode(line.split(" ")[-1]).decode())
        host, _, port = authority.rpartition(":")
        return host, int(port)

    async def _socks5(self, client: trio.SocketStream) -> tuple[str, int]:
        async def exactly(n: int) -> bytes:
            data = b""
            while len(data) < n:
                data += await client.receive_some(n - len(data))
            return data

        _, count = await exactly(2)
        methods = await exactly(count)
        if 2 in methods:
            await client.send_all(b"\x05\x02")
            _, ulen = await exactly(2)
            user = await exactly(ulen)
            (plen,) = await exactly(1)
            password = await exactly(plen)
            self.credentials.append(f"{user.decode()}:{password.decode()}")
            await client.send_all(b"\x01\x00")
        else:
            await client.send_all(b"\x05\x00")
        _, _, _, atyp = await exactly(4)
        if atyp != 1:
            self.asked.append(f"atyp {atyp}")
            return "", 0
        address = ".".join(str(b) for b in await exactly(4))
        port = int.from_bytes(await exactly(2), "big")
        self.asked.append(f"{address}:{port}")
        return address, port

    async def _socks_ok(self, client: trio.SocketStream) -> None:
        await client.send_all(b"\x05\x00\x00\x01\x7f\x00\x00\x01\x00\x00")


async def _pump(src: trio.abc.Stream, dst: trio.abc.Stream, scope: trio.CancelScope) -> None:
    try:
        while chunk := await src.receive_some(65536):
            await dst.send_all(chunk)
    except (trio.BrokenResourceError, trio.ClosedResourceError):
        pass
    scope.cancel()


@asynccontextmanager
async def upstream_proxies(*modes: str) -> AsyncIterator[list[UpstreamProxy]]:
    """One UpstreamProxy per mode on loopback; "dead" is a port nobody listens on."""
    async with trio.open_nursery() as nursery:
        proxies = []
        for mode in modes:
            proxy = UpstreamProxy(mode)
            if mode == "dead":
                with trio.socket.socket() as sock:  # bound, then closed: connections are refused
                    await sock.bind(("127.0.0.1", 0))
                    proxy.port = sock.getsockname()[1]
            else:
                proxy.port = await _listen(nursery, proxy.handle, "127.0.0.1", 0)
            proxies.append(proxy)
        try:
            yield proxies
        finally:
            nursery.cancel_scope.cancel()


@asynccontextmanager
async def sandboxed_proxy(media: Path, **options: Any) -> AsyncIterator[tuple[Origin, Canary, EgressProxy]]:
    """Origin, canary, and an egress proxy whose sandbox origin is that origin."""
    async with (
        loopback_servers(media) as (origin, canary),
        open_egress_proxy(Policy.sandbox(("127.0.0.1", origin.port)), **options) as proxy,
    ):
        yield origin, canary, proxy
