"""Fixtures for the IPC tests.

Rules: other ends of a channel are real OS processes (`tests/ipc/peer.py`), endpoints are
`ipc://` paths under `tmp_path`, every wait has a deadline, and every process started is
killed at teardown even when the test fails.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest
import trio

from tests.support.paths import ROOT

LINE_TIMEOUT = 20.0  # seconds to wait for a peer's next line (it starts a Python interpreter)


class Peer:
    """One peer process: its stdout as lines, its stdin for commands."""

    def __init__(self, role: str, process: trio.Process) -> None:
        self.role = role
        self.process = process
        self.seen: list[str] = []
        self._send, self._lines = trio.open_memory_channel[str](1000)

    async def collect(self) -> None:
        assert self.process.stdout is not None
        buffer = b""
        async with self._send:
            async for chunk in self.process.stdout:
                buffer += chunk
                *done, buffer = buffer.split(b"\n")
                for line in done:
                    await self._send.send(line.decode(errors="replace"))

    async def line(self, timeout: float = LINE_TIMEOUT) -> str:
        """The next stdout line; fails, saying what was seen, on timeout or exit."""
        with trio.move_on_after(timeout):
            try:
                line = await self._lines.receive()
            except trio.EndOfChannel:
                raise AssertionError(
                    f"peer {self.role} exited ({self.process.returncode}); it said {self.seen}"
                ) from None
            self.seen.append(line)
            return line
        raise AssertionError(f"peer {self.role} said nothing for {timeout} s; it said {self.seen}")

    async def expect(self, first_word: str, timeout: float = LINE_TIMEOUT) -> list[str]:
        words = (await self.line(timeout)).split()
        assert words and words[0] == first_word, f"peer {self.role}: expected {first_word!r}, saw {self.seen}"
        return words[1:]

    async def command(self, text: str) -> None:
        assert self.process.stdin is not None
        await self.process.stdin.send_all(text.encode() + b"\n")

    async def finish(self, timeout: float = LINE_TIMEOUT) -> int:
        """Close stdin (the peer's cue to exit) and wait for the exit code."""
        if self.process.stdin is not None:
            await self.process.stdin.aclose()
        with trio.fail_after(timeout):
            return await self.process.wait()

    async def kill(self) -> None:
        if self.process.returncode is None:
            self.process.kill()
        with trio.fail_after(LINE_TIMEOUT):
            await self.process.wait()


StartPeer = Callable[..., Awaitable[Peer]]


@pytest.fixture
async def start_peer(nursery: trio.Nursery) -> AsyncIterator[StartPeer]:
    """`await start_peer(role, *args)` starts `python -m tests.ipc.peer role args...`."""
    peers: list[Peer] = []

    async def start(role: str, *args: str) -> Peer:
        process = await trio.lowlevel.open_process(
            [sys.executable, "-m", "tests.ipc.peer", role, *args],
            cwd=ROOT,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
        )
        peer = Peer(role, process)
        peers.append(peer)
        nursery.start_soon(peer.collect)
        return peer

    try:
        yield start
    finally:
        with trio.CancelScope(shield=True):
            for peer in peers:
                await peer.kill()


@pytest.fixture
def endpoint(tmp_path: Path) -> Callable[[str], str]:
    """`endpoint("jobs")` -> an ipc:// address under this test's tmp_path."""
    return lambda name: f"ipc://{tmp_path}/{name}.sock"
