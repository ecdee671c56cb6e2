"""Opening the connection to an admitted target: directly, or through the operator's proxies.

Either way the connection goes to an address the policy checked: directly to that IP, or by
asking an upstream proxy (HTTP CONNECT, or SOCKS5 with the IP, never the name) for that IP and
port. A proxy that lets us down itself (unreachable, refuses our credentials, garbled answer)
is reported to the rotation and the next one is tried; a target that is down is not the
proxy's fault and fails the request at once.
"""

from __future__ import annotations

import base64
import ipaddress
import logging
import socket
import ssl
import struct
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

import trio

from downloader.egress.addresses import IPAddress
from downloader.egress.heads import HeadError, parse_response_head, read_head
from downloader.egress.policy import Admitted
from downloader.egress.rotation import ProxyRotation, redact_proxy

__all__ = ["CONNECT_TIMEOUT_S", "Connector", "UpstreamError"]

log = logging.getLogger("downloader.egress")

CONNECT_TIMEOUT_S = 15.0  # to reach the target (all its addresses, or one proxy and its handshake)
DEFAULT_PROXY_PORTS = {"http": 80, "https": 443, "socks5": 1080, "socks5h": 1080}
MAX_PROXY_HEAD = 16 * 1024
SOCKS_VERSION = 5
SOCKS_NO_AUTH, SOCKS_USER_PASS, SOCKS_NO_METHOD = 0x00, 0x02, 0xFF
# SOCKS5 replies that are about the target, not the proxy (RFC 1928 section 6).
SOCKS_TARGET_REPLIES = {2: "not allowed", 3: "network unreachable", 4: "host unreachable", 5: "refused", 6: "ttl"}


class UpstreamError(Exception):
    """The target could not be reached; the client gets 502 (504 when `timeout`)."""

    def __init__(self, detail: str, *, timeout: bool = False) -> None:
        super().__init__(detail)
        self.timeout = timeout


class _ProxyFault(Exception):
    """The upstream proxy itself failed: set it aside and try the next."""


@dataclass(frozen=True)
class _ProxySpec:
    scheme: str
    host: str
    port: int
    user: str
    password: str

    @classmethod
    def parse(cls, url: str) -> _ProxySpec:
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        if scheme not in DEFAULT_PROXY_PORTS or not parts.hostname:
            raise _ProxyFault(f"unusable proxy URL {redact_proxy(url)}")
        return cls(
            scheme,
            parts.hostname,
            parts.port or DEFAULT_PROXY_PORTS[scheme],
            unquote(parts.username or ""),
            unquote(parts.password or ""),
        )


class Connector:
    """Opens streams to admitted targets, through `rotation`'s proxies when there are any."""

    def __init__(self, rotation: ProxyRotation | None = None, connect_timeout_s: float = CONNECT_TIMEOUT_S) -> None:
        self.rotation = rotation if rotation is not None and len(rotation) else None
        self.connect_timeout_s = connect_timeout_s
        self._tls = ssl.create_default_context()

    async def connect(self, admitted: Admitted) -> trio.abc.Stream:
        if self.rotation is None:
            return await self._direct(admitted)
        return await self._through_proxies(admitted, self.rotation)

    async def _direct(self, admitted: Admitted) -> trio.abc.Stream:
        port = admitted.target.port
        errors = []
        with trio.move_on_after(self.connect_timeout_s):
            for ip in admitted.addresses:
                try:
                    return await _open_ip(ip, port)
                except OSError as exc:
                    errors.append(f"{ip}: {exc.strerror or exc}")
            raise UpstreamError(f"cannot connect to {admitted.target.authority}: {'; '.join(errors)}")
        raise UpstreamError(
            f"no connection to {admitted.target.authority} in {self.connect_timeout_s:g}s", timeout=True
        )

    async def _through_proxies(self, admitted: Admitted, rotation: ProxyRotation) -> trio.abc.Stream:
        # IPv4 first: every proxy speaks it, not every proxy has IPv6.
        ip = sorted(admitted.addresses, key=lambda a: a.version)[0]
        for _ in range(len(rotation)):
            url = rotation.next()
            if url is None:
                break
            try:
                with trio.fail_after(self.connect_timeout_s):
                    return await self._via(_ProxySpec.parse(url), ip, admitted.target.port)
            except (_ProxyFault, OSError, trio.TooSlowError, trio.BrokenResourceError, ssl.SSLError) as exc:
                rotation.failed(url)
                log.warning(
                    "download proxy %s failed (%s); set aside for %gs",
                    redact_proxy(url),
                    exc or type(exc).__name__,
                    rotation.set_aside_s,
                )
        raise UpstreamError(f"no download proxy available (resting: {len(rotation.resting())} of {len(rotation)})")

    async def _via(self, proxy: _ProxySpec, ip: IPAddress, port: int) -> trio.abc.Stream:
        stream: trio.abc.Stream = await trio.open_tcp_stream(proxy.host, proxy.port)
        try:
            if proxy.scheme == "https":
                tls = trio.SSLStream(stream, self._tls, server_hostname=proxy.host, https_compatible=True)
                await tls.do_handshake()
                stream = tls
            if proxy.scheme.startswith("socks5"):
                await _socks5(stream, proxy, ip, port)
            else:
                await _http_connect(stream, proxy, ip, port)
            return stream
        except BaseException:
            await trio.aclose_forcefully(stream)
            raise


async def _open_ip(ip: IPAddress, port: int) -> trio.SocketStream:
    family = socket.AF_INET6 if isinstance(ip, ipaddress.IPv6Address) else socket.AF_INET
    sock = trio.socket.socket(family, socket.SOCK_STREAM)
    try:
        # A numeric address tuple: trio does not resolve it (AI_NUMERICHOST), so no DNS here.
        await sock.connect((str(ip), port, 0, 0) if family == socket.AF_INET6 else (str(ip), port))
    except BaseException:
        sock.close()
        raise
    return trio.SocketStream(sock)


def _authority(ip: IPAddress, port: int) -> str:
    return f"[{ip}]:{port}" if isinstance(ip, ipaddress.IPv6Address) else f"{ip}:{port}"


async def _http_connect(stream: trio.abc.Stream, proxy: _ProxySpec, ip: IPAddress, port: int) -> None:
    authority = _authority(ip, port)
    lines = [f"CONNECT {authority} HTTP/1.1", f"Host: {authority}"]
    if proxy.user or proxy.password:
        token = base64.b64encode(f"{proxy.user}:{proxy.password}".encode()).decode("ascii")
        lines.append(f"Proxy-Authorization: Basic {token}")
    await stream.send_all(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
    try:
        raw, extra = await read_head(stream, MAX_PROXY_HEAD)
        head = parse_response_head(raw)
    except HeadError as exc:
        raise _ProxyFault(f"bad CONNECT answer: {exc}") from None
    if head.status == 407:
        raise _ProxyFault("the proxy refused our credentials (407)")
    if head.status != 200:
        raise UpstreamError(f"the proxy could not reach {authority}: {head.status} {head.reason}")
    if extra:
        raise _ProxyFault("the proxy sent bytes before the tunnel was used")


async def _socks5(stream: trio.abc.Stream, proxy: _ProxySpec, ip: IPAddress, port: int) -> None:
    with_auth = bool(proxy.user or proxy.password)
    methods = bytes([SOCKS_NO_AUTH, SOCKS_USER_PASS]) if with_auth else bytes([SOCKS_NO_AUTH])
    await stream.send_all(bytes([SOCKS_VERSION, len(methods)]) + methods)
    version, method = await _exactly(stream, 2)
    if version != SOCKS_VERSION or method == SOCKS_NO_METHOD or method not in methods:
        raise _ProxyFault(f"SOCKS greeting refused (method {method})")
    if method == SOCKS_USER_PASS:
        user, password = proxy.user.encode(), proxy.password.encode()
        await stream.send_all(bytes([1, len(user)]) + user + bytes([len(password)]) + password)
        if (await _exactly(stream, 2))[1] != 0:
            raise _ProxyFault("the SOCKS proxy refused our credentials")
    atyp, packed = (4, ip.packed) if isinstance(ip, ipaddress.IPv6Address) else (1, ip.packed)
    await stream.send_all(bytes([SOCKS_VERSION, 1, 0, atyp]) + packed + struct.pack("!H", port))
    version, reply, _, bound_type = await _exactly(stream, 4)
    if version != SOCKS_VERSION:
        raise _ProxyFault("garbled SOCKS reply")
    if reply in SOCKS_TARGET_REPLIES:
        raise UpstreamError(f"the proxy could not reach {_authority(ip, port)}: {SOCKS_TARGET_REPLIES[reply]}")
    if reply != 0:
        raise _ProxyFault(f"SOCKS reply {reply}")
    if bound_type == 3:
        (length,) = await _exactly(stream, 1)
        await _exactly(stream, length + 2)
    else:
        await _exactly(stream, (16 if bound_type == 4 else 4) + 2)


async def _exactly(stream: trio.abc.ReceiveStream, n: int) -> bytes:
    data = b""
    while len(data) < n:
        chunk = await stream.receive_some(n - len(data))
        if not chunk:
            raise _ProxyFault("the proxy closed the connection mid-handshake")
        data += chunk
    return data
