"""Whether kurigram's connection to Telegram is up, and failing calls fast while it is not.

kurigram restarts a dropped session by itself and Telegram re-sends the updates of the gap to
the same session, so a short drop costs nothing. A call made while the session is down, though,
waits inside kurigram up to 15 s for it to restart and then retries; for the uploader, with its
own back-off and circuit breaker, a prompt `Transient` is better. `LinkWatch` follows kurigram's
connect/disconnect handlers: calls wait up to LINK_GRACE seconds for a lost link, and calls in
flight when the link stays lost that long are cancelled and become `Transient`.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pyrogram
import trio

from core.telegram.port import Transient

log = logging.getLogger(__name__)

LINK_GRACE = 3.0  # seconds a call waits for a lost connection to come back before it is Transient


class LinkWatch:
    def __init__(self) -> None:
        self.up = False
        self._back = trio.Event()  # set while connected
        self._lost = trio.Event()  # set while disconnected
        self._in_flight: set[trio.CancelScope] = set()
        self.closing = False

    # ---- asyncio side: kurigram's ConnectHandler / DisconnectHandler callbacks -----------------

    async def on_connect(self, client: pyrogram.Client, session: Any) -> None:
        if session is client.session:
            self.changed(True)

    async def on_disconnect(self, client: pyrogram.Client, session: Any) -> None:
        if session is client.session and not self.closing:
            self.changed(False)

    def changed(self, up: bool) -> None:
        if up == self.up:
            return
        self.up = up
        log.log(logging.INFO if up else logging.WARNING, "connection to Telegram %s", "back" if up else "lost")
        # An event is replaced only once it has fired, so that no waiter holds a stale one.
        if up:
            self._back.set()
            if self._lost.is_set():
                self._lost = trio.Event()
        else:
            self._lost.set()
            if self._back.is_set():
                self._back = trio.Event()

    # ---- trio side --------------------------------------------------------------------------------

    async def wait_up(self, patience: float = LINK_GRACE) -> None:
        """Return at once while connected; else wait `patience` seconds for the link, or fail."""
        if self.up:
            return
        with trio.move_on_after(patience):
            await self._back.wait()
        if not self.up:
            raise Transient("no connection to Telegram")

    @contextmanager
    def guard(self) -> Iterator[trio.CancelScope]:
        """A scope for one call, cancelled by `watch` when the link stays lost."""
        with trio.CancelScope() as scope:
            self._in_flight.add(scope)
            try:
                yield scope
            finally:
                self._in_flight.discard(scope)

    async def watch(self) -> None:
        """Run for the adapter's lifetime: fail the calls in flight on a lasting loss."""
        while True:
            await self._lost.wait()
            with trio.move_on_after(LINK_GRACE):
                await self._back.wait()
            if not self.up:
                for scope in list(self._in_flight):
                    scope.cancel()
                await self._back.wait()
