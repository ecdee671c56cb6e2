"""Where a name's addresses come from: the system resolver, or the DNS server EGRESS_RESOLVER names.

A resolver is `async (host, port) -> addresses`; the policy asks it once per admission and
connects to exactly what it answered (`policy.py`). `dns_resolver(server)` asks one DNS server
directly over UDP (A and AAAA), with no cache and no search list, so that what the guard checks
is what that server said just then: an operator who runs a filtering resolver, and the tests,
which run one that answers differently from one query to the next (DNS rebinding).
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import dns.asyncquery
import dns.exception
import dns.message
import dns.rcode
import dns.rdatatype
import trio

from downloader.egress.addresses import IPAddress
from downloader.egress.targets import EgressRefused

__all__ = ["Resolver", "dns_resolver", "interface_addresses", "system_resolver"]

Resolver = Callable[[str, int], Awaitable[Sequence[IPAddress]]]
QUERY_TIMEOUT_S = 5.0  # one question to the DNS server (the policy bounds the whole lookup too)
_ANSWER_TYPES = (dns.rdatatype.A, dns.rdatatype.AAAA)


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


def dns_resolver(server: tuple[str, int], timeout_s: float = QUERY_TIMEOUT_S) -> Resolver:
    """A resolver that asks `server` (host, port) for A and AAAA records, every time."""
    host, port = server

    async def resolve(name: str, _port: int) -> list[IPAddress]:
        found: list[IPAddress] = []
        for rdtype in _ANSWER_TYPES:
            query = dns.message.make_query(name.rstrip(".") + ".", rdtype)
            try:
                answer = await dns.asyncquery.udp(query, host, timeout=timeout_s, port=port)
            except (dns.exception.DNSException, OSError) as exc:
                raise EgressRefused("unresolvable", f"{name}: {host}:{port} gave no answer ({exc})") from None
            if answer.rcode() not in (dns.rcode.NOERROR, dns.rcode.NXDOMAIN):
                raise EgressRefused("unresolvable", f"{name}: {dns.rcode.to_text(answer.rcode())} from {host}")
            for rrset in answer.answer:  # the CNAME chain's records come along; keep the addresses
                if rrset.rdtype in _ANSWER_TYPES:
                    found += [ip for ip in (ipaddress.ip_address(r.address) for r in rrset) if ip not in found]
        return found

    return resolve


def interface_addresses() -> list[IPAddress]:
    """Every address on this machine's interfaces: its own public address is no target either."""
    import psutil  # here, so that the pure parts of the guard import without it

    found: list[IPAddress] = []
    for addrs in psutil.net_if_addrs().values():
        for addr in addrs:
            if addr.family in (socket.AF_INET, socket.AF_INET6):
                try:
                    found.append(ipaddress.ip_address(addr.address.split("%")[0]))
                except ValueError:
                    continue
    return found
