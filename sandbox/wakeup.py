"""A versioned wake-up: waiters say which version they saw, so no change slips between two waits."""

from __future__ import annotations

import trio


class Changes:
    def __init__(self) -> None:
        self.version = 0
        self._event = trio.Event()

    def fire(self) -> None:
        self.version += 1
        self._event.set()
        self._event = trio.Event()

    async def wait_after(self, seen: int, timeout: float) -> bool:
        """Wait until the version moves past `seen`; False when `timeout` seconds passed first."""
        if self.version != seen:
            return True
        with trio.move_on_after(max(timeout, 0.0)):
            await self._event.wait()
            return True
        return False
