"""The one poll-to-deadline helper: where no event can be awaited, ask again until a deadline,
and say what was seen when it runs out."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import trio

T = TypeVar("T")
POLL_INTERVAL = 0.1


async def until(
    what: str, check: Callable[[], Awaitable[T | None]], timeout: float, *, describe: Callable[[], str] | None = None
) -> T:
    """Await `check()` until it returns something truthy; AssertionError naming `what` and the
    last value seen (and `describe()`, e.g. the bot's log) when `timeout` passes first."""
    last: Any = None
    with trio.move_on_after(timeout):
        while True:
            last = await check()
            if last:
                return last
            await trio.sleep(POLL_INTERVAL)
    extra = f"\n{describe()}" if describe else ""
    raise AssertionError(f"timed out after {timeout:g} s waiting for {what}; last seen: {last!r}{extra}")
