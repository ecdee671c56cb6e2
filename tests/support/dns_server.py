"""A tiny DNS server that rebinds: each name gets `first` at its first A query, `then` after.

    python tests/support/dns_server.py --bind 198.51.100.2 --first 198.51.100.2 --then 127.0.0.1
    prints "DNS_READY <port>" once bound (port 53 by default; --port 0 picks a free one)

It answers every A query for any name (AAAA: no records; anything else: NOTIMP), with a TTL of
0, and counts the A queries per name, so that a test can run it in its network namespace as
the resolver the egress guard is told to use (EGRESS_RESOLVER) and play DNS rebinding against it.
`serve_dns(bind, port, address_for)` is the same server in a test's own trio loop.
"""

from __future__ import annotations

import argparse
import socket
import sys
from collections import Counter
from collections.abc import Callable

import dns.message
import dns.rcode
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import dns.rrset
import trio

READY = "DNS_READY "
MAX_DATAGRAM = 4096


def answer(wire: bytes, address_for: Callable[[str], str]) -> bytes | None:
    """The reply to one query datagram, or None for something that is not a query."""
    try:
        query = dns.message.from_wire(wire)
    except Exception:
        return None
    reply = dns.message.make_response(query)
    for question in query.question:
        if question.rdtype == dns.rdatatype.A:
            rdata = dns.rdata.from_text(dns.rdataclass.IN, dns.rdatatype.A, address_for(question.name.to_text()))
            reply.answer.append(dns.rrset.from_rdata(question.name, 0, rdata))
        elif question.rdtype != dns.rdatatype.AAAA:
            reply.set_rcode(dns.rcode.NOTIMP)
    return reply.to_wire()


def rebinding(first: str, then: str) -> tuple[Callable[[str], str], Counter[str]]:
    """(address_for, queries): `first` for a name's first A query, `then` for every later one."""
    queries: Counter[str] = Counter()

    def address_for(name: str) -> str:
        queries[name] += 1
        return first if queries[name] == 1 else then

    return address_for, queries


async def serve_rebinding(sock: trio.socket.SocketType, address_for: Callable[[str], str]) -> None:
    """Answer queries on the bound UDP `sock` until cancelled."""
    while True:
        wire, peer = await sock.recvfrom(MAX_DATAGRAM)
        reply = answer(wire, address_for)
        if reply is not None:
            await sock.sendto(reply, peer)


async def serve_dns(
    bind: str,
    port: int,
    address_for: Callable[[str], str],
    *,
    task_status: trio.TaskStatus[tuple[str, int]] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Bind UDP `bind`:`port`, report (host, port) to `task_status`, answer until cancelled."""
    with trio.socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        await sock.bind((bind, port))
        task_status.started(sock.getsockname())
        await serve_rebinding(sock, address_for)


async def _main(bind: str, port: int, first: str, then: str) -> None:
    address_for, _ = rebinding(first, then)
    async with trio.open_nursery() as nursery:
        _, bound = await nursery.start(serve_dns, bind, port, address_for)
        print(f"{READY}{bound}", flush=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bind", required=True)
    parser.add_argument("--port", type=int, default=53)
    parser.add_argument("--first", required=True)
    parser.add_argument("--then", required=True)
    args = parser.parse_args()
    try:
        trio.run(_main, args.bind, args.port, args.first, args.then)
    except KeyboardInterrupt:
        sys.exit(0)
