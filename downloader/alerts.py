"""A downloader's alerts to the admins: `AlertRaised` on the telemetry channel, for the monitor.

The downloader has no outbox of its own (it may run on another host): an alert (a full disk, a
breaker opening, a cookie file set aside) is a message to the monitor, which applies the cooldown
per kind and writes the admins' messages. Alerts are raised synchronously (inside a breaker's
transaction, say) and sent in order by `run`, which first waits until the monitor listens: a
PUB socket drops what it sends before its subscriber has joined.
"""

from __future__ import annotations

import logging
import time

import trio

from ipc.channels import Publisher
from ipc.messages import AlertRaised

__all__ = ["ALERT_QUEUE", "TelemetryAlerts"]

log = logging.getLogger("downloader.alerts")

ALERT_QUEUE = 100  # alerts waiting for the monitor; past it they are dropped (and logged)


class TelemetryAlerts:
    """An `Alerter` (core.alerts) that sends each alert to the monitor."""

    def __init__(self, name: str, telemetry: Publisher) -> None:
        self.name = name
        self.telemetry = telemetry
        self._send, self._pending = trio.open_memory_channel[AlertRaised](ALERT_QUEUE)

    def __call__(self, kind: str, text_key: str, /, **values: object) -> bool:
        alert = AlertRaised(
            name=self.name,
            kind=kind,
            text_key=text_key,
            values={k: str(v) for k, v in values.items()},
            sent_at=time.time(),
        )
        try:
            self._send.send_nowait(alert)
        except trio.WouldBlock:
            log.error("alert %s dropped: %d alerts already wait for the monitor", kind, ALERT_QUEUE)
            return False
        return True

    async def run(self) -> None:
        await self.telemetry.wait_subscribed()
        async for alert in self._pending:
            await self.telemetry.send(alert)
            log.info("alert %s sent to the monitor", alert.kind)
