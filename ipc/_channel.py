"""What every channel shares: owning one socket, and turning frames into typed messages."""

from __future__ import annotations

from types import TracebackType
from typing import Any, Self, TypeVar, cast

import zmq

from ipc.messages import decode, note_drop
from ipc.zmqtrio import DEFAULT_LINGER_MS, Socket, open_socket

M = TypeVar("M")


class Channel:
    """One socket plus its life cycle; `endpoint` is the bound or connected address."""

    def __init__(self, socket: Socket, endpoint: str) -> None:
        self.socket = socket
        self.endpoint = endpoint

    def close(self, linger_ms: int = DEFAULT_LINGER_MS) -> None:
        self.socket.close(linger_ms)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


def bound(kind: int, endpoint: str, **options: int | bytes) -> tuple[Socket, str]:
    sock = open_socket(kind, **cast(dict[str, Any], options))
    try:
        return sock, sock.bind(endpoint)
    except BaseException:
        sock.close(0)
        raise


def connected(kind: int, endpoint: str, **options: int | bytes) -> Socket:
    return open_socket(kind, connect=endpoint, **cast(dict[str, Any], options))


def decode_as(payload: bytes, expected: type[M], channel: str) -> M | None:
    """Decode and keep only messages of the type this channel carries."""
    msg = decode(payload)
    if msg is None:
        return None
    if not isinstance(msg, expected):
        name = type(msg).__name__
        note_drop("unexpected type", f"{channel}:{name}", "%s on the %s channel", name, channel)
        return None
    return msg


def split_routed(frames: list[bytes], channel: str) -> tuple[bytes, bytes] | None:
    """ROUTER frames are [peer identity, payload]; anything else is dropped."""
    if len(frames) != 2:
        note_drop("bad frames", channel, "%d frames on the %s channel, expected 2", len(frames), channel)
        return None
    return frames[0], frames[1]


def single_frame(frames: list[bytes], channel: str) -> bytes | None:
    if len(frames) != 1:
        note_drop("bad frames", channel, "%d frames on the %s channel, expected 1", len(frames), channel)
        return None
    return frames[0]


def is_unreachable(exc: zmq.ZMQError) -> bool:
    return exc.errno == zmq.EHOSTUNREACH
