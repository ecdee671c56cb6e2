"""Opening the port from a process that must stay up while Telegram is out of reach.

A network outage at boot must not turn into a crash loop: `connect_port` waits out what the port
calls network trouble (`Transient`, with `core.backoff`'s back-off) and Telegram's FloodWait (for
exactly the seconds asked), logging each failed attempt once, until Telegram answers, or until
`stop` is set (the process drains), which raises `NotConnected`. A refusal that retrying cannot
fix (a revoked token, a bad request) is raised, and so is anything that is not Telegram's doing
(a bug): the process exits loudly, the supervisor restarts it, and its crash-loop alert reaches
the admins.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import trio

from core.backoff import Backoff
from core.config import Settings
from core.telegram import open_port
from core.telegram.port import FloodWait, TelegramError, TelegramPort, Transient

log = logging.getLogger(__name__)

# Between tries to reach Telegram: 1 s, doubling to a minute, jittered so that the gateway and
# the uploader (and a fleet of bots behind one proxy) do not knock in step.
CONNECT_BACKOFF = Backoff(base=1.0, maximum=60.0)


class NotConnected(Exception):
    """The process was asked to stop before Telegram could be reached."""


async def _open(settings: Settings, role: str) -> tuple[TelegramPort, TelegramPort]:
    """One try: the adapter and its entered port."""
    adapter = open_port(settings, role=role)
    return adapter, await adapter.__aenter__()


@asynccontextmanager
async def connect_port(settings: Settings, *, role: str, stop: trio.Event) -> AsyncIterator[TelegramPort]:
    # The mtproto adapter holds nurseries of its own (trio-asyncio's loop) from its __aenter__ to
    # its __aexit__, and trio closes nurseries and cancel scopes only in the reverse order of
    # opening: so the scope that `stop` cancels, and the watcher's nursery, stay open until the
    # adapter is closed. The nursery is entered by hand and left with no exception, so that the
    # caller's exceptions come out as they were raised, not in a group.
    watchers = trio.open_nursery()
    nursery = await watchers.__aenter__()
    watching = trio.CancelScope()
    opened: tuple[TelegramPort, TelegramPort] | None = None
    try:
        with trio.CancelScope() as connecting:

            async def watch_stop() -> None:
                with watching:
                    await stop.wait()
                    if opened is None:  # once open, a drain is the caller's to handle
                        connecting.cancel()

            nursery.start_soon(watch_stop)
            opened = await _first_open(settings, role)
            watching.cancel()
            adapter, port = opened
            try:
                yield port
            finally:
                await adapter.__aexit__(None, None, None)
        if opened is None:
            raise NotConnected(f"{role} stopped before reaching Telegram")
    finally:
        watching.cancel()
        await watchers.__aexit__(None, None, None)


async def _first_open(settings: Settings, role: str) -> tuple[TelegramPort, TelegramPort]:
    """Try until the adapter opens; raise what retrying cannot fix."""
    attempt = 1
    while True:
        try:
            opened = await _open(settings, role)
            break
        except FloodWait as exc:
            why, delay = str(exc), exc.seconds
        except Transient as exc:
            why, delay = str(exc), CONNECT_BACKOFF.delay(attempt)
        except TelegramError as exc:
            log.error("%s: Telegram refused to start us: %s", role, exc)
            raise
        log.warning("%s: cannot reach Telegram (attempt %d: %s); retrying in %.0fs", role, attempt, why, delay)
        await trio.sleep(delay)
        attempt += 1
    if attempt > 1:
        log.info("%s: reached Telegram after %d attempts", role, attempt)
    return opened
