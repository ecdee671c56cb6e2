"""Receiving updates: poll the port, route each update durably, then confirm the batch.

An update is confirmed only after what it caused (a user row, a job, an outbox row) is
committed, so a gateway killed at any moment gets the same updates again instead of losing them.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import trio

from core.backoff import Backoff
from core.telegram import TelegramError, TelegramPort
from gateway.router import Router
from ipc.channels import Pusher
from ipc.messages import OutboxNotice

log = logging.getLogger("gateway.updates")

POLL_TIMEOUT = 25.0  # seconds a long poll waits for updates
RETRY = Backoff(base=0.5, maximum=30.0)  # while Telegram is unreachable


class UpdateLoop:
    def __init__(
        self, router: Router, port: TelegramPort, outbox_push: Pusher, after_batch: Callable[[], None]
    ) -> None:
        self.router = router
        self.port = port
        self.outbox = outbox_push
        self.after_batch = after_batch  # e.g. wake the dispatcher: the batch may have made jobs

    async def run(self) -> None:
        failures = 0
        while True:
            try:
                batch = await self.port.get_updates(POLL_TIMEOUT)
            except TelegramError as exc:
                failures += 1
                delay = RETRY.delay(failures)
                log.warning("getting updates failed (%s); retrying in %.1fs", exc, delay)
                await trio.sleep(delay)
                continue
            failures = 0
            notices = []
            for update in batch.updates:
                notices += await self.router.route(update)
            await self.port.confirm(batch)
            for item_id in notices:
                await self.outbox.send(OutboxNotice(item_id=item_id))
            if batch.updates:
                self.after_batch()
