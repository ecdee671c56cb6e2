"""Ports for tests. A server under test binds port 0 and says which port it got (a ready line);
a test never picks a "free" port, closes it and hands the number on (another process may take
it meanwhile). Where a test needs an address that refuses connections, it holds one open here.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from contextlib import contextmanager

HOST = "127.0.0.1"


def refusing_socket() -> socket.socket:
    """A loopback socket, bound but not listening: its port refuses every connection until it is
    closed, and nobody else can take the port meanwhile."""
    held = socket.socket()
    held.bind((HOST, 0))
    return held


def port_of(held: socket.socket) -> int:
    return int(held.getsockname()[1])


@contextmanager
def refusing_port() -> Iterator[int]:
    """`refusing_socket()`'s port, for the block."""
    with refusing_socket() as held:
        yield port_of(held)
