"""Where a download may connect: the URL check (pure) and the policy that admits a target.

`check_url(url)` parses a link the way the egress proxy will act on it and refuses what may
never be fetched, before any I/O: schemes other than http/https, credentials, malformed URLs,
and numeric hosts (in any spelling) that name a forbidden address. `Policy.admit(target)` then
decides on the addresses: in production it resolves the name once and refuses if ANY address
is forbidden (a name that answers with one public and one private address is refused, since
either could be used); in sandbox mode exactly the sandbox's origin passes and nothing is
resolved. The admitted addresses are the ones the proxy connects to: no second lookup, so a
name cannot answer differently between the check and the connect (DNS rebinding).
"""

from __future__ import annotations

import ipaddress
import logging
import re
import socket
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import trio

from downloader.addresses import IPAddress, NotAnAddress, forbidden, parse_numeric_host

__all__ = [
    "REASONS",
    "Admitted",
    "EgressRefused",
    "ParsedTarget",
    "Policy",
    "Resolver",
    "check_url",
    "interface_addresses",
    "parse_authority",
    "parse_url",
    "system_resolver",
]

log = logging.getLogger("downloader.egress")

# Why a target was refused; a short enum-like string the engine maps to a text for the user.
REASONS = frozenset({"scheme", "credentials", "address", "not_sandbox", "unresolvable", "malformed"})
REFUSAL_KEYS = {  # the user's text for each reason
    "scheme": "link_refused_scheme",
    "credentials": "link_refused_credentials",
    "address": "link_refused_address",
    "not_sandbox": "link_refused_not_sandbox",
    "unresolvable": "link_refused_unresolvable",
    "malformed": "link_refused_malformed",
}
ALLOWED_SCHEMES = {"http": 80, "https": 443}
MAX_URL_CHARS = 16_384
MAX_HOST_CHARS = 253
RESOLVE_TIMEOUT_S = 10.0  # one name lookup; past it the target counts as unresolvable
LOCAL_ADDRESSES_TTL_S = 60.0  # the machine's own addresses are re-read this often
_NAME = re.compile(r"^[a-z0-9_-]+(?:\.[a-z0-9_-]+)*\.?$")
_PORT = re.compile(r"^[0-9]{1,5}$")
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*$")

Resolver = Callable[[str, int], Awaitable[Sequence[IPAddress]]]


class EgressRefused(Exception):
    """A target the guard will not connect to; `reason` is one of REASONS, `detail` says more.

    `text_key` names the user's explanation in core/texts (`link_refused_<reason>`); `detail`
    is for the log (it may name an internal address), not for the user.
    """

    def __init__(self, reason: str, detail: str = "") -> None:
        assert reason in REASONS, reason
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail

    @property
    def text_key(self) -> str:
        return REFUSAL_KEYS[self.reason]


@dataclass(frozen=True)
class ParsedTarget:
    """A checked target: scheme ("" for a CONNECT authority), canonical host, port, path."""

    scheme: str
    host: str  # lower-case ASCII name, or the address in canonical text
    port: int
    ip: IPAddress | None  # the address when the host is numeric
    origin_form: str = "/"  # path and query, as sent to the origin

    @property
    def authority(self) -> str:
        """host[:port] for a Host header or a log line; the port only when not the default."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        if ALLOWED_SCHEMES.get(self.scheme) == self.port:
            return host
        return f"{host}:{self.port}"


@dataclass(frozen=True)
class Admitted:
    """A target with the addresses it may be reached at, all checked; connect to these only."""

    target: ParsedTarget
    addresses: tuple[IPAddress, ...]

    @property
    def ip(self) -> IPAddress:
        return self.addresses[0]


def parse_url(url: str) -> ParsedTarget:
    """Parse an http(s) URL, refusing other schemes, credentials and malformed ones (no I/O)."""
    if not isinstance(url, str) or not url or len(url) > MAX_URL_CHARS:
        raise EgressRefused("malformed", "empty or too long")
    scheme, sep, rest = url.partition(":")
    if not sep or not _SCHEME.match(scheme):
        raise EgressRefused("scheme", "the link has no scheme")
    scheme = scheme.lower()
    if scheme not in ALLOWED_SCHEMES:
        raise EgressRefused("scheme", f"{scheme}: is not http or https")
    if any(ord(c) <= 0x20 or ord(c) == 0x7F for c in url):
        raise EgressRefused("malformed", "control character or space in the URL")
    if not rest.startswith("//"):
        raise EgressRefused("malformed", "no host")
    try:
        parts = urlsplit(url)
    except ValueError as exc:
        raise EgressRefused("malformed", str(exc)) from None
    if "\\" in parts.netloc:
        raise EgressRefused("malformed", "backslash in the host")
    if "@" in parts.netloc:
        raise EgressRefused("credentials", "user name or password in the link")
    host, port = _split_authority(parts.netloc, ALLOWED_SCHEMES[scheme])
    path = parts.path or "/"
    return _target(scheme, host, port, f"{path}?{parts.query}" if parts.query else path)


def parse_authority(authority: str) -> ParsedTarget:
    """Parse the `host:port` of a CONNECT request; the port is required (no I/O)."""
    if not authority or len(authority) > MAX_HOST_CHARS + 8 or "/" in authority:
        raise EgressRefused("malformed", "CONNECT needs host:port")
    if "@" in authority:
        raise EgressRefused("credentials", "user name or password in the host")
    if any(ord(c) <= 0x20 or ord(c) == 0x7F for c in authority):
        raise EgressRefused("malformed", "control character or space in the host")
    host, port = _split_authority(authority, None)
    return _target("", host, port, "")


def check_url(url: str) -> ParsedTarget:
    """parse_url, and refuse a numeric host (in any spelling) that names a forbidden address.

    A name is not resolved here; `Policy.admit` does that. Sandbox mode does not use this
    check (its origin is a loopback address): `Policy.admit_url` applies the mode's rules.
    """
    target = parse_url(url)
    if target.ip is not None and (kind := forbidden(target.ip)) is not None:
        raise EgressRefused("address", f"{target.ip} is {kind}")
    return target


def _split_authority(netloc: str, default_port: int | None) -> tuple[str, int]:
    if netloc.startswith("["):
        end = netloc.find("]")
        if end < 0:
            raise EgressRefused("malformed", "unclosed [ in the host")
        host, rest = netloc[1:end], netloc[end + 1 :]
        if rest and not rest.startswith(":"):
            raise EgressRefused("malformed", "junk after ]")
        if ":" not in host:
            raise EgressRefused("malformed", "brackets around a non-IPv6 host")
        raw_port = rest[1:] if rest else ""
    else:
        host, sep, raw_port = netloc.rpartition(":")
        if not sep:
            host, raw_port = netloc, ""
        if ":" in host:
            raise EgressRefused("malformed", "IPv6 address without brackets")
    if not raw_port:
        if default_port is None:
            raise EgressRefused("malformed", "no port")
        return host, default_port
    if not _PORT.match(raw_port) or not 0 < int(raw_port) < 65536:
        raise EgressRefused("malformed", f"bad port {raw_port[:8]!r}")
    return host, int(raw_port)


def _target(scheme: str, host: str, port: int, origin_form: str) -> ParsedTarget:
    if not host:
        raise EgressRefused("malformed", "no host")
    if "%" in host:
        raise EgressRefused("malformed", "percent sign or zone index in the host")
    if ":" not in host:
        host = _ascii_host(host)
    try:
        ip = parse_numeric_host(host)
    except NotAnAddress:
        raise EgressRefused("malformed", f"{host[:64]} is neither a name nor an address") from None
    if ip is not None:
        return ParsedTarget(scheme, str(ip), port, ip, origin_form)
    return ParsedTarget(scheme, host.rstrip("."), port, None, origin_form)


def _ascii_host(host: str) -> str:
    if not host.isascii():
        try:
            host = host.encode("idna").decode("ascii")
        except UnicodeError:
            raise EgressRefused("malformed", "host name cannot be encoded") from None
    host = host.lower()
    if len(host) > MAX_HOST_CHARS or not _NAME.match(host):
        raise EgressRefused("malformed", f"bad host name {host[:64]!r}")
    return host


async def system_resolver(host: str, port: int) -> list[IPAddress]:
    """The host's addresses from the system resolver (getaddrinfo, in a thread; cancellable)."""
    try:
        infos = await trio.socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise EgressRefused("unresolvable", f"{host}: {exc}") from None
    found: list[IPAddress] = []
    for family, _type, _proto, _canon, sockaddr in infos:
        if family not in (socket.AF_INET, socket.AF_INET6):
            continue
        address: tuple[Any, ...] = tuple(sockaddr)
        ip = ipaddress.ip_address(address[0])
        if family == socket.AF_INET6 and len(address) > 3 and address[3]:
            ip = ipaddress.IPv6Address(f"{ip}%{address[3]}")  # a zone index: link-local, refused
        if ip not in found:
            found.append(ip)
    return found


def interface_addresses() -> list[IPAddress]:
    """Every address on this machine's interfaces: its own public address is no target either."""
    import psutil  # here, so that the pure parts of this module import without it

    found: list[IPAddress] = []
    for addrs in psutil.net_if_addrs().values():
        for addr in addrs:
            if addr.family in (socket.AF_INET, socket.AF_INET6):
                try:
                    found.append(ipaddress.ip_address(addr.address.split("%")[0]))
                except ValueError:
                    continue
    return found


class Policy:
    """Admits targets: `Policy.production(...)` or `Policy.sandbox((host, port))`."""

    def __init__(
        self,
        *,
        allow_only: tuple[str, int] | None = None,
        resolver: Resolver | None = None,
        local_addresses: Callable[[], Iterable[IPAddress]] | None = interface_addresses,
        resolve_timeout_s: float = RESOLVE_TIMEOUT_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.allow_only = allow_only
        self._resolver = resolver or system_resolver
        self._local_addresses = local_addresses
        self._resolve_timeout_s = resolve_timeout_s
        self._clock = clock
        self._local: frozenset[IPAddress] = frozenset()
        self._local_read_at: float | None = None
        self._origin_ip: IPAddress | None = None
        if allow_only is not None:
            host, port = allow_only
            if not 0 < port < 65536:
                raise ValueError(f"sandbox origin port {port} is not a port")
            try:
                self._origin_ip = parse_numeric_host(host.strip("[]"))
            except NotAnAddress:
                self._origin_ip = None
            if self._origin_ip is None:
                raise ValueError(f"sandbox origin host {host!r} must be an address (SANDBOX_HOST)")

    @classmethod
    def production(
        cls,
        resolver: Resolver | None = None,
        *,
        local_addresses: Callable[[], Iterable[IPAddress]] | None = interface_addresses,
    ) -> Policy:
        """Public internet only: names are resolved (once) and every address checked."""
        return cls(resolver=resolver, local_addresses=local_addresses)

    @classmethod
    def sandbox(cls, origin: tuple[str, int]) -> Policy:
        """Offline by construction: exactly `origin` (host, port) passes, nothing is resolved."""
        return cls(allow_only=origin, local_addresses=None)

    @property
    def sandboxed(self) -> bool:
        return self.allow_only is not None

    async def admit_url(self, url: str) -> Admitted:
        """parse_url, then admit: what the engine calls on a user's link before yt-dlp runs."""
        return await self.admit(parse_url(url))

    async def admit(self, target: ParsedTarget) -> Admitted:
        """The addresses `target` may be reached at; raises EgressRefused."""
        if self.allow_only is not None:
            return await self._admit_sandbox(target)
        if target.ip is not None:
            addresses: Sequence[IPAddress] = [target.ip]
        elif _is_localhost(target.host):  # RFC 6761: always this machine; never asked of DNS
            raise EgressRefused("address", f"{target.host} is loopback")
        else:
            with trio.move_on_after(self._resolve_timeout_s):
                addresses = await self._resolver(target.host, target.port)
                return self._judge(target, addresses)
            raise EgressRefused("unresolvable", f"{target.host}: no answer in {self._resolve_timeout_s:g}s")
        return self._judge(target, addresses)

    def _judge(self, target: ParsedTarget, addresses: Sequence[IPAddress]) -> Admitted:
        if not addresses:
            raise EgressRefused("unresolvable", f"{target.host}: no address")
        local = self._machine_addresses()
        for ip in addresses:
            kind = forbidden(ip)
            if kind is None and _unmapped(ip) in local:
                kind = "this machine's own address"
            if kind is not None:
                shown = f"{target.host} -> {ip}" if target.ip is None else str(ip)
                raise EgressRefused("address", f"{shown} is {kind}")
        return Admitted(target, tuple(_unmapped(ip) for ip in addresses))

    async def _admit_sandbox(self, target: ParsedTarget) -> Admitted:
        assert self.allow_only is not None and self._origin_ip is not None
        if target.port != self.allow_only[1] or target.ip is None or target.ip != self._origin_ip:
            # Say why as production would, where that needs no lookup: an internal address is
            # refused for being internal; anything else because only the sandbox is reachable.
            kind = forbidden(target.ip) if target.ip is not None else "loopback" if _is_localhost(target.host) else None
            if kind is not None:
                raise EgressRefused("address", f"{target.authority} is {kind} (and not the sandbox)")
            raise EgressRefused("not_sandbox", f"{target.authority} is not the sandbox")
        await trio.lowlevel.checkpoint()
        return Admitted(target, (self._origin_ip,))

    def _machine_addresses(self) -> frozenset[IPAddress]:
        if self._local_addresses is None:
            return frozenset()
        now = self._clock()
        if self._local_read_at is None or now - self._local_read_at >= LOCAL_ADDRESSES_TTL_S:
            try:
                self._local = frozenset(_unmapped(ip) for ip in self._local_addresses())
            except OSError as exc:
                log.warning("could not read this machine's addresses (keeping the last list): %s", exc)
            self._local_read_at = now
        return self._local


def _unmapped(ip: IPAddress) -> IPAddress:
    """An IPv4-mapped IPv6 address as the IPv4 address it is; a zone index dropped."""
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return ip.ipv4_mapped
        if ip.scope_id:
            return ipaddress.IPv6Address(int(ip))
    return ip


def _is_localhost(host: str) -> bool:
    name = host.lower().rstrip(".")
    return name == "localhost" or name.endswith(".localhost")
