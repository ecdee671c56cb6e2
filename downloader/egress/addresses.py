"""Which IP addresses a download may reach, and how a URL's host spells one (no I/O here).

`forbidden(ip)` names the kind of address a download must never reach (loopback, private, ...)
or returns None. The lists are explicit rather than `ipaddress`'s `is_private`/`is_global`:
those flags move between Python versions and count the documentation networks as private,
while we allow them (see DOCUMENTATION). Addresses that embed an IPv4 address (IPv4-mapped,
NAT64, 6to4) are judged by the address they carry, since that is where the packet ends up.

`parse_numeric_host(host)` reads a host the way `inet_aton` and browsers do (`0x7f000001`,
`2130706433`, `0177.0.0.1`, `127.1`, `0` all mean an address), so that no spelling slips a
forbidden address past the check and on to a resolver that would understand it.
"""

from __future__ import annotations

import ipaddress
import re

__all__ = ["DOCUMENTATION", "IPAddress", "NotAnAddress", "forbidden", "parse_numeric_host"]

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
_V4 = ipaddress.IPv4Network
_V6 = ipaddress.IPv6Network

# (network, kind): refused wherever the address appears, embedded forms included.
FORBIDDEN_V4: tuple[tuple[_V4, str], ...] = (
    (_V4("0.0.0.0/8"), "unspecified"),  # "this network"; 0.0.0.0 reaches the local host
    (_V4("10.0.0.0/8"), "private"),
    (_V4("100.64.0.0/10"), "shared"),  # carrier-grade NAT, RFC 6598
    (_V4("127.0.0.0/8"), "loopback"),
    (_V4("169.254.0.0/16"), "link_local"),  # cloud metadata services live here
    (_V4("172.16.0.0/12"), "private"),
    (_V4("192.0.0.0/24"), "reserved"),  # IETF protocol assignments
    (_V4("192.88.99.0/24"), "reserved"),  # 6to4 relay anycast, deprecated
    (_V4("192.168.0.0/16"), "private"),
    (_V4("198.18.0.0/15"), "benchmarking"),
    (_V4("224.0.0.0/4"), "multicast"),
    (_V4("240.0.0.0/4"), "reserved"),  # includes the broadcast address 255.255.255.255
)

# IPv6 outside these is judged as below; everything not in global unicast (2000::/3) is refused.
FORBIDDEN_V6: tuple[tuple[_V6, str], ...] = (
    (_V6("::/128"), "unspecified"),
    (_V6("::1/128"), "loopback"),
    (_V6("::ffff:0:0:0/96"), "reserved"),  # IPv4-translated, RFC 2765
    (_V6("64:ff9b:1::/48"), "nat64_local"),  # local-use NAT64: the operator's own translator
    (_V6("100::/64"), "reserved"),  # discard-only
    (_V6("2001::/23"), "reserved"),  # IETF protocol assignments: Teredo, benchmarking, ORCHID
    (_V6("fc00::/7"), "unique_local"),
    (_V6("fe80::/10"), "link_local"),
    (_V6("fec0::/10"), "site_local"),
    (_V6("ff00::/8"), "multicast"),
)
IPV4_COMPATIBLE = _V6("::/96")  # ::a.b.c.d, deprecated; refused outright
IPV4_MAPPED = _V6("::ffff:0:0/96")
NAT64_WELL_KNOWN = _V6("64:ff9b::/96")  # a public translator: judged by the IPv4 address it carries
SIX_TO_FOUR = _V6("2002::/16")  # 2002:aabb:ccdd::/48 carries a.b.c.d
GLOBAL_UNICAST = _V6("2000::/3")

# Documentation networks (RFC 5737, RFC 3849, RFC 9637) are allowed on purpose: they are never
# routed on the internet, so no operator's private network uses them by the standards, and the
# production test stands its "public" media server on 198.51.100.0/24 in a network namespace.
# (Python's `is_private` counts them as private, which is why the lists above are explicit.)
DOCUMENTATION: tuple[_V4 | _V6, ...] = (
    _V4("192.0.2.0/24"),
    _V4("198.51.100.0/24"),
    _V4("203.0.113.0/24"),
    _V6("2001:db8::/32"),
    _V6("3fff::/20"),
)

_MAX_PARTS = 4
_NUMERIC_LABEL = re.compile(r"^(?:0[xX][0-9a-fA-F]*|[0-9]+)$")


class NotAnAddress(ValueError):
    """The host looks numeric (its last label is a number) but is no valid IPv4 address."""


def forbidden(ip: IPAddress) -> str | None:
    """The kind of address `ip` is when a download must not reach it, else None."""
    if isinstance(ip, ipaddress.IPv4Address):
        return _forbidden_v4(ip)
    if ip.scope_id:
        return "link_local"  # a zone index only makes sense on a local link
    if ip in IPV4_MAPPED:
        return _forbidden_v4(ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF))
    if ip in NAT64_WELL_KNOWN:
        return _forbidden_v4(ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF))
    for net, kind in FORBIDDEN_V6:
        if ip in net:
            return kind
    if ip in IPV4_COMPATIBLE:
        return "ipv4_compatible"
    if ip in SIX_TO_FOUR:
        return _forbidden_v4(ipaddress.IPv4Address((int(ip) >> 80) & 0xFFFFFFFF))
    if any(ip in net for net in DOCUMENTATION):
        return None
    if ip not in GLOBAL_UNICAST:
        return "reserved"
    return None


def _forbidden_v4(ip: ipaddress.IPv4Address) -> str | None:
    for net, kind in FORBIDDEN_V4:
        if ip in net:
            return kind
    return None


def parse_numeric_host(host: str) -> IPAddress | None:
    """The address a host names by number, None for a name; raises NotAnAddress for a bad number.

    IPv6 comes bracket-free (as `urlsplit().hostname` gives it). IPv4 follows `inet_aton`: one to
    four parts, each decimal, octal (leading 0) or hex (0x); the last part fills the remaining
    bytes. One trailing dot is ignored, as resolvers do. A host whose last label is a number but
    which is not a valid address is refused rather than left to a resolver to interpret.
    """
    if ":" in host:
        try:
            return ipaddress.IPv6Address(host)
        except ValueError:
            raise NotAnAddress(host) from None
    text = host[:-1] if host.endswith(".") else host
    parts = text.split(".")
    if not _NUMERIC_LABEL.match(parts[-1]):
        return None
    if len(parts) > _MAX_PARTS or not all(_NUMERIC_LABEL.match(p) for p in parts):
        raise NotAnAddress(host)
    values = [_part_value(p, host) for p in parts]
    *head, last = values
    if any(v > 0xFF for v in head) or last >= 1 << (8 * (_MAX_PARTS - len(head))):
        raise NotAnAddress(host)
    number = last
    for i, value in enumerate(head):
        number |= value << (8 * (_MAX_PARTS - 1 - i))
    return ipaddress.IPv4Address(number)


def _part_value(part: str, host: str) -> int:
    if part[:2] in ("0x", "0X"):
        return int(part[2:] or "0", 16)  # inet_aton reads a bare "0x" as zero
    if len(part) > 1 and part.startswith("0"):
        if not set(part) <= set("01234567"):
            raise NotAnAddress(host)
        return int(part, 8)
    return int(part)
