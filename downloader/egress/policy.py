"""Where a download may connect: the policy that admits a parsed target, and at which addresses.

In production `Policy.admit(target)` refuses a port other than 80, 443 and EGRESS_ALLOWED_PORTS,
resolves the name once and refuses if ANY address is forbidden (a name that answers with one
public and one private address is refused, since either could be used) or is this machine's
own. In sandbox mode exactly the sandbox's origin passes and nothing is resolved. The admitted
addresses are the ones the proxy connects to: no second lookup, so a name cannot answer
differently between the check and the connect (DNS rebinding).
"""

from __future__ import annotations

import ipaddress
import logging
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import trio

from core.config import Settings
from downloader.egress.addresses import IPAddress, NotAnAddress, forbidden, parse_numeric_host
from downloader.egress.resolvers import Resolver, dns_resolver, interface_addresses, system_resolver
from downloader.egress.targets import ALLOWED_SCHEMES, EgressRefused, ParsedTarget, parse_url

__all__ = ["PUBLIC_PORTS", "Admitted", "Policy"]

log = logging.getLogger("downloader.egress")

PUBLIC_PORTS = frozenset(ALLOWED_SCHEMES.values())  # 80 and 443; EGRESS_ALLOWED_PORTS adds more
RESOLVE_TIMEOUT_S = 10.0  # one name lookup; past it the target counts as unresolvable
LOCAL_ADDRESSES_TTL_S = 60.0  # the machine's own addresses are re-read this often


@dataclass(frozen=True)
class Admitted:
    """A target with the addresses it may be reached at, all checked; connect to these only."""

    target: ParsedTarget
    addresses: tuple[IPAddress, ...]

    @property
    def ip(self) -> IPAddress:
        return self.addresses[0]


class Policy:
    """Admits targets: `Policy.production(...)` or `Policy.sandbox((host, port))`."""

    def __init__(
        self,
        *,
        allow_only: tuple[str, int] | None = None,
        resolver: Resolver | None = None,
        allowed_ports: Iterable[int] = (),
        local_addresses: Callable[[], Iterable[IPAddress]] | None = interface_addresses,
        resolve_timeout_s: float = RESOLVE_TIMEOUT_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.allow_only = allow_only
        self.ports = PUBLIC_PORTS | frozenset(allowed_ports)
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
        allowed_ports: Iterable[int] = (),
        local_addresses: Callable[[], Iterable[IPAddress]] | None = interface_addresses,
    ) -> Policy:
        """Public internet only, on ports 80, 443 and `allowed_ports`: names are resolved (once,
        by `resolver`, the system's by default) and every address checked."""
        return cls(resolver=resolver, allowed_ports=allowed_ports, local_addresses=local_addresses)

    @classmethod
    def for_settings(cls, settings: Settings) -> Policy:
        """Sandbox mode reaches the sandbox's own origin and nothing else; otherwise the internet
        on 80, 443 and EGRESS_ALLOWED_PORTS, names resolved by EGRESS_RESOLVER or the system,
        never the operator's own network."""
        if settings.sandbox_origin is not None:
            return cls.sandbox(settings.sandbox_origin)
        resolver = dns_resolver(settings.egress_resolver) if settings.egress_resolver is not None else None
        return cls.production(resolver, allowed_ports=settings.egress_allowed_ports)

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
            admitted = self._judge(target, [target.ip])  # an internal address says so before its port
            self._check_port(target)
            return admitted
        if _is_localhost(target.host):  # RFC 6761: always this machine; never asked of DNS
            raise EgressRefused("address", f"{target.host} is loopback")
        self._check_port(target)  # before any lookup
        with trio.move_on_after(self._resolve_timeout_s):
            addresses = await self._resolver(target.host, target.port)
            return self._judge(target, addresses)
        raise EgressRefused("unresolvable", f"{target.host}: no answer in {self._resolve_timeout_s:g}s")

    def _check_port(self, target: ParsedTarget) -> None:
        if target.port not in self.ports:  # a public web server listens on 80 or 443, not on 6379
            raise EgressRefused("address", f"{target.authority}: port {target.port} is not allowed")

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
