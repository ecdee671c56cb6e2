"""The one poll-to-deadline helper: where no event can be awaited, ask again until a deadline,
and say what was seen when it runs out."""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar, overload

import trio

T = TypeVar("T")
POLL_INTERVAL = 0.1


@overload
async def until(
    what: str,
    check: Callable[[], Awaitable[T | None]],
    timeout: float,
    *,
    describe: Callable[[], str] | None = None,
    interval: float = POLL_INTERVAL,
    not_yet: tuple[type[Exception], ...] = (),
    give_up: Callable[[], bool] | None = None,
) -> T: ...


@overload
async def until(
    what: str,
    check: Callable[[], T | None],
    timeout: float,
    *,
    describe: Callable[[], str] | None = None,
    interval: float = POLL_INTERVAL,
    not_yet: tuple[type[Exception], ...] = (),
    give_up: Callable[[], bool] | None = None,
) -> T: ...


async def until(
    what: str,
    check: Callable[[], Any],
    timeout: float,
    *,
    describe: Callable[[], str] | None = None,
    interval: float = POLL_INTERVAL,
    not_yet: tuple[type[Exception], ...] = (),
    give_up: Callable[[], bool] | None = None,
) -> Any:
    """Call `check()` (sync or async) until it returns something truthy, and return that.

    An exception of a type in `not_yet` counts as "not yet" (a server still starting); `give_up()`
    true stops early (the process under test died). When `timeout` passes first, or on giving
    up, AssertionError names `what`, the last value seen and `describe()` (e.g. the bot's log).
    """
    last: Any = None
    stopped = f"timed out after {timeout:g} s"
    with trio.move_on_after(timeout):
        while True:
            try:
                seen = check()
                if inspect.isawaitable(seen):
                    seen = await seen
            except not_yet as exc:
                seen = exc
            else:
                if seen:
                    return seen
            last = seen
            if give_up is not None and give_up():
                stopped = "gave up"
                break
            await trio.sleep(interval)
    extra = f"\n{describe()}" if describe else ""
    raise AssertionError(f"{stopped} waiting for {what}; last seen: {last!r}{extra}")
